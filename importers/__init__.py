"""Importers: real community archives (Stack Exchange, mail, Reddit, Disqus, WordPress) to events."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from importers.core import Item
from importers.lines import DEFAULT_MAX_LINE_BYTES

FORMATS = ("stackexchange", "mbox", "reddit", "disqus", "wordpress")


def importer(name: str) -> Callable[[list[Path], Optional[str]], Iterator[Item]]:
    """The importer of a format: a function of (paths, site) yielding Converted and Skipped items."""
    if name == "stackexchange":
        from importers.stackexchange import import_stackexchange

        def stackexchange(paths: list[Path], site: Optional[str]) -> Iterator[Item]:
            for folder in paths:
                yield from import_stackexchange(folder, site)

        return stackexchange
    if name == "mbox":
        from importers.mbox import import_mbox

        return import_mbox
    if name == "reddit":
        from importers.reddit import import_reddit

        return import_reddit
    if name == "disqus":
        from importers.disqus import import_disqus

        return import_disqus
    if name == "wordpress":
        from importers.wordpress import import_wordpress

        return import_wordpress
    raise ValueError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")


LINE_FORMATS = ("mbox", "reddit")  # read line by line, so bounded by max_line_bytes


def import_items(name: str, paths: Iterable[str], site: Optional[str] = None,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    if name in LINE_FORMATS:
        return importer(name)([Path(p) for p in paths], site, max_line_bytes=max_line_bytes)
    return importer(name)([Path(p) for p in paths], site)
