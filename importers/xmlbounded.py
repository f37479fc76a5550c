"""XML from strangers in bounded memory: no start tag, other markup or run of text is held past a limit.

expat (under ElementTree) keeps a start tag in its buffer until the tag's last byte has arrived,
growing the buffer by doubling, and ElementTree then copies the attributes into Python strings: one
``<row Body="...">`` of 500 MB would cost more than a gigabyte. :class:`BoundedXml` sits between the
file and the parser (it is the file that ElementTree.iterparse reads). It cuts the bytes into text and
markup, passes each piece on once it is whole and within the limit, and replaces a start tag over the
limit by a short stand-in of the same name, ``<row sm-too-large="BYTES"/>``, after reading the rest of
the tag in chunks and dropping it: the reader turns the stand-in into a counted skip and goes on with
the next element. Anything else over the limit (a comment, a doctype, an end tag, a run of text)
means the file is no dump of records: a ValueError naming the file and byte, like any unreadable file.
The parser still sees every byte of what it is given, so what it refuses (entity expansion bombs,
external entities, bad bytes) it still refuses.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Iterator, Optional

TOO_LARGE = "sm-too-large"  # the stand-in's attribute: the size in bytes of the start tag it replaces
_CHUNK = 1 << 16
_TAG_STOP = re.compile(rb"[>\"']")
_DECLARATION_STOP = re.compile(rb"[\[\]>\"']|<!--")
_START_TAG_NAME = re.compile(rb"<([^\s/>!?<\"']{1,256})")
_DELIMITED = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))


def _tag_end(data: bytes, pos: int, quote: bytes) -> tuple[int, bytes]:
    """Scanning a tag from ``pos`` with ``quote`` open there (b"" outside quotes): the index after its
    ``>``, or -1 and the quote open at the end of ``data``. A ``>`` may stand inside a quoted value."""
    while True:
        if quote:
            close = data.find(quote, pos)
            if close < 0:
                return -1, quote
            pos, quote = close + 1, b""
        stop = _TAG_STOP.search(data, pos)
        if stop is None:
            return -1, b""
        if stop.group() == b">":
            return stop.end(), b""
        pos, quote = stop.end(), stop.group()


def _declaration_end(data: bytes) -> Optional[int]:
    """The end of a ``<!DOCTYPE ...>``: its internal subset in brackets holds ``>``s of its own."""
    pos, depth = 2, 0
    while True:
        stop = _DECLARATION_STOP.search(data, pos)
        if stop is None:
            return None
        token, pos = stop.group(), stop.end()
        if token in (b'"', b"'", b"<!--"):
            close = data.find(b"-->" if token == b"<!--" else token, pos)
            if close < 0:
                return None
            pos = close + (3 if token == b"<!--" else 1)
        elif token == b"[":
            depth += 1
        elif token == b"]":
            depth -= 1
        elif depth <= 0:
            return pos


def markup_end(data: bytes) -> Optional[int]:
    """The index after the markup that starts ``data`` (at its ``<``), or None while it is unfinished."""
    for opening, closing in _DELIMITED:
        if data.startswith(opening):
            end = data.find(closing, len(opening))
            return None if end < 0 else end + len(closing)
        if opening.startswith(data):  # too short yet to tell a comment from a tag
            return None
    if data.startswith(b"<!"):
        return _declaration_end(data)
    end, _ = _tag_end(data, 1, b"")
    return None if end < 0 else end


def _drop_tag(stream: BinaryIO, data: bytes) -> Optional[tuple[int, bool, bytes]]:
    """Read past the start tag that begins ``data``, holding one chunk at a time: (the tag's size,
    whether it closes itself with ``/>``, the bytes after it), or None when the file ends inside it."""
    pos, quote, size, previous = 1, b"", 0, b""
    while True:
        end, quote = _tag_end(data, pos, quote)
        if end >= 0:
            slash = data[end - 2:end - 1] if end >= 2 else previous
            return size + end, slash == b"/", data[end:]
        size, previous = size + len(data), data[-1:]
        data, pos = stream.read(_CHUNK), 0
        if not data:
            return None


def bounded_pieces(stream: BinaryIO, limit: int, source: str) -> Iterator[bytes]:
    """The bytes of ``stream`` in pieces, each text or whole markup of at most ``limit`` bytes; a
    start tag over ``limit`` comes as its stand-in (see the module's docstring)."""
    if limit < 1:
        raise ValueError(f"the record limit must be at least 1 byte, not {limit}")
    buffer, at, text_run, ended = b"", 0, 0, False  # at: the file offset of buffer[0]
    while buffer or not ended:
        if not buffer.startswith(b"<"):
            cut = buffer.find(b"<")
            text = buffer if cut < 0 else buffer[:cut]
            text_run += len(text)
            if text_run > limit:
                raise ValueError(f"{source}: text of over {limit:,} bytes at byte {at:,}, outside any attribute; "
                                 "not a dump of records: fix the file, or raise --max-line-bytes")
            if text:
                yield text
            at, buffer = at + len(text), buffer[len(text):]
            if not buffer:
                chunk = stream.read(_CHUNK)
                buffer, ended = chunk, not chunk
                continue
        text_run = 0
        end = markup_end(buffer)
        while end is None and len(buffer) <= limit and not ended:
            chunk = stream.read(_CHUNK)
            buffer, ended = buffer + chunk, not chunk
            end = markup_end(buffer)
        if end is not None and end <= limit:
            yield buffer[:end]
            at, buffer = at + end, buffer[end:]
            continue
        if end is None and len(buffer) <= limit:  # the file ends inside markup: the parser says where
            yield buffer
            return
        name = _START_TAG_NAME.match(buffer)
        if name is None:
            raise ValueError(f"{source}: markup of over {limit:,} bytes at byte {at:,} (a comment, declaration or "
                             "end tag); not a dump of records: fix the file, or raise --max-line-bytes")
        dropped = _drop_tag(stream, buffer)
        if dropped is None:  # cut off inside the tag: what came before stands, the parser reports the end
            return
        size, closes, buffer = dropped
        yield b"<%s %s=\"%d\"%s>" % (name.group(1), TOO_LARGE.encode(), size, b"/" if closes else b"")
        at += size


class BoundedXml:
    """A binary file for ElementTree.iterparse: ``stream``'s bytes through :func:`bounded_pieces`."""

    def __init__(self, stream: BinaryIO, limit: int, source: str):
        self._pieces = bounded_pieces(stream, limit, source)
        self._piece, self._pos = b"", 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (a chunk when ``size`` is negative), whole pieces joined where they fit."""
        size = _CHUNK if size is None or size < 0 else size
        parts, total = [], 0
        while total < size:
            if self._pos >= len(self._piece):
                self._piece, self._pos = next(self._pieces, b""), 0
                if not self._piece:
                    break
            part = self._piece[self._pos:self._pos + size - total]
            self._pos += len(part)
            parts.append(part)
            total += len(part)
        return b"".join(parts)
