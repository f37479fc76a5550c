"""Output files that destroy nothing: the checks before a command writes, and the atomic write.

In: the file names a command will write (``import --to`` and ``--actors-out``, ``report --out`` and
its ``--png`` images, ``generate --out`` and ``--truth``, the ``demo`` folder's files), its inputs,
and ``--force``. Out: the files, written whole or not at all.

``import ... --to jsonl:X`` once truncated X before reading it, so importing onto an input erased
it. Now a target is refused when it is an input or inside an input folder (always), when it is
another output of the same command (always), when it exists (unless ``--force``), or when it is a
folder. Everything is written to new temporary files beside the targets (created exclusively,
never through a symlink) and renamed over them only when the whole command succeeded, so a failed
command leaves nothing half-written; ``--force`` replaces a symlink at a target itself, never the
file it points to.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence, Union

PathLike = Union[str, Path]


def _itself(path: Path) -> Path:
    """The path with its folder resolved but not its last part: a symlink there is not followed."""
    return path.parent.resolve() / path.name


def check_target(target: PathLike, inputs: Iterable[PathLike], force: bool, others: Iterable[PathLike] = ()) -> None:
    """Raise ValueError (saying what to do) when writing ``target`` could destroy something:
    ``inputs`` are what the command reads, ``others`` the command's other outputs."""
    path = Path(target)
    where = _itself(path)
    for given in map(Path, inputs):
        if not given.exists():
            continue
        if os.path.lexists(path) and given.is_file() and os.path.samefile(path, given):
            raise ValueError(f"{target} is one of the inputs; write to another file")
        if given.is_dir() and where.is_relative_to(given.resolve()):
            raise ValueError(f"{target} is inside the input folder {given}; write outside it")
    for other in map(Path, others):
        if _itself(other) == where or (os.path.lexists(path) and os.path.lexists(other)
                                       and os.path.samefile(path, other)):
            raise ValueError(f"{target} is also {other}, another output of this command; give each output its own file")
    if path.is_dir():
        raise ValueError(f"{target} is a folder; give a file name")
    if os.path.lexists(path) and not force:
        what = "is a symbolic link (never followed)" if path.is_symlink() else "exists"
        raise ValueError(f"{target} {what}; pass --force to replace it, or choose another file")


def check_targets(targets: Sequence[PathLike], inputs: Iterable[PathLike], force: bool) -> None:
    """:func:`check_target` for each of a command's outputs, each also against the others."""
    inputs = list(inputs)
    for number, target in enumerate(targets):
        check_target(target, inputs, force, others=targets[:number])


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _commit(temporary: str, path: Path, force: bool) -> None:
    if force:
        os.replace(temporary, path)  # renames over a symlink, never through it
        return
    try:
        os.link(temporary, path)  # fails if the target appeared meanwhile: never clobbers
    except FileExistsError:
        raise ValueError(f"{path} appeared while writing it; pass --force to replace it") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(path):
            raise ValueError(f"{path} appeared while writing it; pass --force to replace it") from None
        os.replace(temporary, path)
    else:
        os.unlink(temporary)


@contextlib.contextmanager
def replacing_all(targets: Sequence[PathLike], force: bool) -> Iterator[list[BinaryIO]]:
    """One binary file to write per target; when the block succeeds each becomes its target
    (replacing an existing one only with ``force``), on any error they are all removed and the
    targets untouched."""
    paths = [Path(target) for target in targets]
    temporaries: list[str] = []
    with contextlib.ExitStack() as files:
        try:
            outs = []
            for path in paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
                temporaries.append(temporary)
                os.fchmod(descriptor, 0o666 & ~_umask())  # as an ordinary new file: mkstemp makes 0600
                outs.append(files.enter_context(os.fdopen(descriptor, "wb")))
            yield outs
            for out in outs:
                out.flush()
                os.fsync(out.fileno())
            files.close()
            for temporary, path in zip(temporaries, paths):
                _commit(temporary, path, force)
        except BaseException:
            files.close()
            for temporary in temporaries:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
            raise


@contextlib.contextmanager
def replacing(target: PathLike, force: bool) -> Iterator[BinaryIO]:
    """A binary file to write; on success it becomes ``target`` (replacing it only with ``force``),
    on any error it is removed and ``target`` is untouched."""
    with replacing_all([target], force) as (out,):
        yield out
