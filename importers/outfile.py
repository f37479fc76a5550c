"""Output files that destroy nothing: the checks before an import writes, and the atomic write.

``import ... --to jsonl:X`` once truncated X before reading it, so importing onto an input erased
it. Now a target is refused when it is an input or inside an input folder (always), when it exists
(unless ``--force``), or when it is a folder. The events are written to a new temporary file beside
the target (created exclusively, never through a symlink) and renamed over it only when the import
succeeded, so a failed import leaves nothing half-written; ``--force`` replaces a symlink at the
target itself, never the file it points to.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Union

PathLike = Union[str, Path]


def check_target(target: PathLike, inputs: Iterable[PathLike], force: bool) -> None:
    """Raise ValueError (saying what to do) when writing ``target`` could destroy something."""
    path = Path(target)
    where = path.parent.resolve() / path.name  # the target itself, a symlink at it not followed
    for given in map(Path, inputs):
        if not given.exists():
            continue
        if os.path.lexists(path) and given.is_file() and os.path.samefile(path, given):
            raise ValueError(f"{target} is one of the inputs; write the events to another file")
        if given.is_dir() and where.is_relative_to(given.resolve()):
            raise ValueError(f"{target} is inside the input folder {given}; write the events outside it")
    if path.is_dir():
        raise ValueError(f"{target} is a folder; give a file name")
    if os.path.lexists(path) and not force:
        what = "is a symbolic link (never followed)" if path.is_symlink() else "exists"
        raise ValueError(f"{target} {what}; pass --force to replace it, or choose another file")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replacing(target: PathLike, force: bool) -> Iterator[BinaryIO]:
    """A binary file to write; on success it becomes ``target`` (replacing it only with ``force``),
    on any error it is removed and ``target`` is untouched."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # as an ordinary new file: mkstemp makes 0600
        with os.fdopen(descriptor, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(temporary, path)  # renames over a symlink, never through it
        else:
            try:
                os.link(temporary, path)  # fails if the target appeared meanwhile: never clobbers
            except FileExistsError:
                raise ValueError(f"{target} appeared while importing; pass --force to replace it") from None
            except OSError:  # a file system without hard links
                if os.path.lexists(path):
                    raise ValueError(f"{target} appeared while importing; pass --force to replace it") from None
                os.replace(temporary, path)
            else:
                os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
