"""Small helpers for XML exports (Stack Exchange, Disqus, WordPress): stream elements, match by local name.

Python's expat refuses what makes XML dangerous: entity expansion bombs (its amplification limit)
and external entities (never fetched, an "undefined entity" error). :func:`iterparse` keeps that and
turns the refusal, like any malformed file, into one ValueError naming the file and position.
"""
from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Optional, Union

from importers.core import Skipped
from importers.xmlbounded import BoundedXml
from importers.xmlmarkup import TOO_LARGE, DroppedMarkup, dropped_markup, stand_in_size

MARKUP_TOO_LARGE = "markup_too_large"  # the skip reason of dropped markup (a comment, a doctype, ...)
_CALLED = {"comment": "a comment", "cdata": "a CDATA section", "instruction": "a processing instruction",
           "doctype": "a doctype", "end_tag": "an end tag", "text": "text"}


def dropped_skip(name: str, dropped: DroppedMarkup) -> Skipped:
    """The counted skip of markup dropped as over the limit: ``FILE:line L (a comment of N bytes)``."""
    return Skipped(MARKUP_TOO_LARGE, f"{name}:line {dropped.line:,} ({_CALLED[dropped.kind]} of {dropped.size:,} bytes)")


def iterparse(path: Union[str, Path, BinaryIO], events: tuple[str, ...] = ("end",),
              max_markup_bytes: Optional[int] = None,
              record_depth: Optional[int] = None) -> Iterator[tuple[str, Any]]:
    """ElementTree.iterparse, whose ParseError (a bomb, an external entity, bad bytes) becomes a
    ValueError: "FILE: not well-formed XML (REASON: line L, column C); ...". What was read before stays read.
    With ``max_markup_bytes``, the file is read in bounded memory (:mod:`importers.xmlbounded`): a start
    tag over the limit arrives as a stand-in element with the attribute ``TOO_LARGE``; with
    ``record_depth`` too, so do text and CDATA over the limit, and each element at that depth (the root
    is at 1) is bounded as a whole: one over the limit holds a stand-in (see :func:`too_large`). Other
    markup over the limit comes as the event ``("dropped", DroppedMarkup)``, in its place among the
    elements. ``path`` may be an open binary file."""
    name = str(getattr(path, "name", path)) if isinstance(path, (str, Path)) or hasattr(path, "name") else "<stream>"
    try:
        if max_markup_bytes is None:
            yield from ElementTree.iterparse(path, events=events)
            return
        with contextlib.ExitStack() as opened:
            stream = opened.enter_context(open(path, "rb")) if isinstance(path, (str, Path)) else path
            bounded = BoundedXml(stream, max_markup_bytes, name, record_depth)
            for action, element in ElementTree.iterparse(bounded, events=(*events, "pi")):
                if action != "pi":
                    yield action, element
                    continue
                target, _, data = (element.text or "").partition(" ")
                dropped = dropped_markup(target, data)
                if dropped is not None:
                    yield "dropped", dropped
                elif "pi" in events:
                    yield action, element
    except ElementTree.ParseError as error:
        raise ValueError(f"{name}: not well-formed XML ({error}); the import stopped there: fix or remove the file, "
                         "or pass the files that are whole") from None


def too_large(element: ElementTree.Element) -> Optional[int]:
    """The size in bytes of the largest part of ``element`` (itself included) that was over the
    reading limit and dropped (a stand-in, see :func:`iterparse`), or None when it is whole."""
    sizes = [stand_in_size(e.attrib[TOO_LARGE]) for e in element.iter() if TOO_LARGE in e.attrib]
    return max(sizes) if sizes else None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(element: ElementTree.Element, name: str) -> Optional[ElementTree.Element]:
    for item in element:
        if local(item.tag) == name:
            return item
    return None


def text(element: Optional[ElementTree.Element], *path: str) -> Optional[str]:
    """The stripped text at ``path`` below ``element`` (local names), or None when absent or empty."""
    for name in path:
        if element is None:
            return None
        element = child(element, name)
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def attribute(element: Optional[ElementTree.Element], name: str) -> Optional[str]:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local(key) == name:
            return value
    return None
