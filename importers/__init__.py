"""Importers: real community archives (Stack Exchange, mail, Reddit, Disqus, WordPress) to events."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from importers.core import Item, Skipped
from importers.lines import DEFAULT_MAX_LINE_BYTES

FORMATS = ("stackexchange", "mbox", "reddit", "disqus", "wordpress")


def importer(name: str) -> Callable[[list[Path], Optional[str]], Iterator[Item]]:
    """The importer of a format: a function of (paths, site) yielding Converted and Skipped items."""
    if name == "stackexchange":
        from importers.stackexchange import import_stackexchange

        def stackexchange(paths: list[Path], site: Optional[str],
                          max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
            for folder in paths:  # a dump holds one row a line: the line limit bounds a row
                yield from import_stackexchange(folder, site, max_row_bytes=max_line_bytes)

        return stackexchange
    if name == "mbox":
        from importers.mbox import import_mbox

        return import_mbox
    if name == "reddit":
        from importers.reddit import import_reddit

        return import_reddit
    if name == "disqus":
        from importers.disqus import import_disqus

        def disqus(paths: list[Path], site: Optional[str],
                   max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
            return import_disqus(paths, site, max_record_bytes=max_line_bytes)  # the limit of a thread or post

        return disqus
    if name == "wordpress":
        from importers.wordpress import import_wordpress

        def wordpress(paths: list[Path], site: Optional[str],
                      max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
            return import_wordpress(paths, site, max_record_bytes=max_line_bytes)  # of a comment or post field

        return wordpress
    raise ValueError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")


def import_items(name: str, paths: Iterable[str], site: Optional[str] = None,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    """Every format's records are bounded by ``max_line_bytes``: a line, a dump's row, an XML record."""
    return importer(name)([Path(p) for p in paths], site, max_line_bytes=max_line_bytes)


ACTOR_FORMATS = ("stackexchange", "mbox", "disqus")  # archives that name people beside their ids


def import_actors(name: str, paths: Iterable[str], site: Optional[str] = None,
                  max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Union[dict[str, Any], Skipped]]:
    """The people of an archive, one ``{"site", "actor_id", "name"[, "signal"]}`` record each, ids as
    in its events: Stack Exchange's Users.xml (with reputation as the signal), mail senders' display
    names, Disqus authors' names; and a :class:`Skipped` for each part of the archive that named no
    one it could (an over-long row or markup, a malformed user row)."""
    if name == "stackexchange":
        from importers.stackexchange import stackexchange_actors

        return (actor for folder in paths for actor in stackexchange_actors(Path(folder), site, max_line_bytes))
    if name == "mbox":
        from importers.mbox import mbox_actors

        return mbox_actors([Path(p) for p in paths], site, max_line_bytes=max_line_bytes)
    if name == "disqus":
        from importers.disqus import disqus_actors

        return disqus_actors([Path(p) for p in paths], site, max_record_bytes=max_line_bytes)
    raise ValueError(f"--actors-out: a {name} archive names no one beside their ids; "
                     f"it works for {', '.join(ACTOR_FORMATS)}")
