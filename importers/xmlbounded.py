"""XML from strangers in bounded memory: no start tag, other markup or run of text is held past a limit.

expat (under ElementTree) keeps a start tag in its buffer until the tag's last byte has arrived,
growing the buffer by doubling, and ElementTree then copies the attributes into Python strings: one
``<row Body="...">`` of 500 MB would cost more than a gigabyte. :class:`BoundedXml` sits between the
file and the parser (it is the file that ElementTree.iterparse reads). It cuts the bytes into text and
markup, passes each piece on once it is whole and within the limit, and replaces a start tag over the
limit by a short stand-in of the same name, ``<row sm-too-large="BYTES"/>``, after reading the rest of
the tag in chunks and dropping it: the reader turns the stand-in into a counted skip and goes on with
the next element. Other markup over the limit (a comment, a processing instruction, a doctype, a
CDATA section or run of text outside records, an end tag padded with white space) is read in chunks
and dropped too, and stands as a processing instruction, ``<?sm-too-large KIND BYTES LINE?>``
(:func:`markup_stand_in`; one may stand wherever markup may, before the root element too), which
:func:`importers.xmlutil.iterparse` hands on as a :class:`DroppedMarkup` for the reader to count (an
end tag keeps its element's end: ``</NAME>`` follows its stand-in). What cannot be skipped safely,
because nothing after it could be trusted, is a ValueError naming the file and line: over-limit
markup that the file ends inside (an unterminated comment, doctype, tag, ...), an end tag holding
more than white space, a declaration other than a doctype. The parser still sees every byte of what
it is given, so what it refuses (entity expansion bombs, external entities, bad bytes) it still
refuses; a dropped doctype takes its entity declarations with it, so a reference to one is then an
undefined entity, refused as well.

Exports whose records are elements with content (Disqus, WordPress: a ``<message>`` or a
``<content:encoded>`` of text or CDATA) also need :func:`bounded_records`: every element at a given
depth (a record) is bounded as a whole, start tag to end tag: once its bytes pass the limit (an
over-long run of text or CDATA section inside it, read in chunks and dropped, counts whole), the rest
of it is read and dropped (its content never reaches the parser, which holds at most the limit of
it), the elements left open in it are closed, and an empty ``<sm-too-large sm-too-large="BYTES"/>``
with the record's whole size is put before its end tag. The reader skips a record holding a
stand-in. Over-long markup outside any record stays a markup stand-in, counted on its own.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Iterator, Optional

from importers.xmlmarkup import (  # noqa: F401 (the stand-ins' names, as before the split)
    CHUNK, START_TAG_NAME, TOO_LARGE, DroppedMarkup, dropped_markup, markup_end, markup_stand_in, over_the_limit,
    stand_in, stand_in_size,
)
# The common pieces, matched in one step (the rest, and anything over the limit, piece by piece below):
# text, an end tag, a comment, CDATA, a processing instruction, a start tag (quoted values may hold >).
_PIECE = re.compile(rb"""[^<]+|</[^>]*>|<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"""
                    rb"""|<[^\s/>!?<"'](?:[^>"']|"[^"]*"|'[^']*')*>""", re.S)



def bounded_pieces(stream: BinaryIO, limit: int, source: str) -> Iterator[bytes]:
    """The bytes of ``stream`` in pieces, each text or whole markup of at most ``limit`` bytes; a
    start tag over ``limit`` comes as its stand-in, other markup and text over it as a markup stand-in
    (see the module's docstring)."""
    for piece, _ in sized_pieces(stream, limit, source):
        yield piece


def sized_pieces(stream: BinaryIO, limit: int, source: str) -> Iterator[tuple[bytes, int]]:
    """:func:`bounded_pieces`, each with the number of bytes of the file it stands for."""
    if limit < 1:
        raise ValueError(f"the record limit must be at least 1 byte, not {limit}")
    buffer, line, ended = b"", 1, False  # line: the line of buffer[0]
    while buffer or not ended:
        pos, size = 0, len(buffer)
        while pos < size:  # whole pieces within the limit, as they are
            match = _PIECE.match(buffer, pos)
            if match is None:
                break
            end = match.end()
            if end - pos > limit or (end == size and not ended and buffer[pos] != 60):  # 60: "<"
                break  # over the limit, or text that may go on in the next chunk
            yield buffer[pos:end], end - pos
            pos = end
        if pos:
            line, buffer = line + buffer.count(b"\n", 0, pos), buffer[pos:]
        if not buffer and not ended:
            chunk = stream.read(CHUNK)
            buffer, ended = chunk, not chunk
            continue
        if not buffer:
            break
        if not buffer.startswith(b"<"):
            cut = buffer.find(b"<")
            while cut < 0 and len(buffer) <= limit and not ended:  # a run of text, held up to the limit
                chunk = stream.read(CHUNK)
                buffer, ended = buffer + chunk, not chunk
                cut = buffer.find(b"<")
            text = buffer if cut < 0 else buffer[:cut]
            if len(text) > limit:  # read on to its end, dropping it
                size, newlines = len(text), text.count(b"\n")
                while cut < 0 and not ended:
                    buffer = stream.read(CHUNK)
                    ended, cut = not buffer, buffer.find(b"<")
                    size += len(buffer) if cut < 0 else cut
                    newlines += buffer.count(b"\n", 0, None if cut < 0 else cut)
                buffer = b"" if cut < 0 else buffer[cut:]
                yield markup_stand_in("text", size, line), size
                line += newlines
                continue
            if text:
                yield text, len(text)
            line, buffer = line + text.count(b"\n"), buffer[len(text):]
            continue
        end = markup_end(buffer)
        while end is None and len(buffer) <= limit and not ended:
            chunk = stream.read(CHUNK)
            buffer, ended = buffer + chunk, not chunk
            end = markup_end(buffer)
        if end is not None and end <= limit:
            yield buffer[:end], end
            line, buffer = line + buffer.count(b"\n", 0, end), buffer[end:]
            continue
        if end is None and len(buffer) <= limit:  # the file ends inside markup: the parser says where
            yield buffer, len(buffer)
            return
        after: list = []
        yield from over_the_limit(stream, buffer, line, limit, source, after)
        buffer, line = after


def bounded_records(pieces: Iterator[tuple[bytes, int]], record_depth: int, limit: int) -> Iterator[bytes]:
    """``pieces`` (of :func:`sized_pieces`) with each element at ``record_depth`` (the root is at 1)
    bounded to ``limit`` bytes as a whole: the part of a longer one past the limit is dropped, and a
    stand-in with its whole size put before its end tag (see the module's docstring)."""
    depth, size, inner, dropping = 0, 0, [], False  # inner: start tags passed on inside the open record
    for piece, original in pieces:
        # its kind, by its first two bytes and its last but one (a piece cut off by the end of the file
        # is whatever it looks like: the parser reports it)
        second = piece[1:2]
        if piece[:1] != b"<" or second in (b"!", b"?", b""):
            change = 0  # text, a comment, CDATA, a declaration
        elif second == b"/":
            change = -1  # an end tag
        else:
            change = 0 if piece[-2:] == b"/>" else 1  # an empty element, a start tag
        if depth < record_depth:  # outside any record; a start tag at record_depth - 1 opens one
            depth += change
            if change > 0:
                size, inner, dropping = original, [], False
            yield piece
            continue
        if change < 0 and depth == record_depth:  # the record's end tag
            if dropping or size + original > limit:
                names = (START_TAG_NAME.match(tag) for tag in reversed(inner))  # none: malformed, the parser says so
                closing = b"".join(b"</%s>" % name.group(1) for name in names if name)
                yield closing + stand_in(size + original)
            depth -= 1
            yield piece
            continue
        size += original
        depth += change
        dropping = dropping or size > limit
        if dropping:
            continue
        if change > 0:
            inner.append(piece)
        elif change < 0:
            inner.pop()
        yield piece


class BoundedXml:
    """A binary file for ElementTree.iterparse: ``stream``'s bytes through :func:`bounded_pieces`, and
    with ``record_depth`` through :func:`bounded_records` too."""

    def __init__(self, stream: BinaryIO, limit: int, source: str, record_depth: Optional[int] = None):
        if record_depth is None:
            self._pieces: Iterator[bytes] = bounded_pieces(stream, limit, source)
        else:
            self._pieces = bounded_records(sized_pieces(stream, limit, source), record_depth, limit)
        self._piece, self._pos = b"", 0
        self._error: Optional[ValueError] = None

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (a chunk when ``size`` is negative), whole pieces joined where they fit.
        An error of the file (markup that never ends, ...) is raised by the read after the one that
        returned the pieces before it: the parser reads ahead, and the records before the error must
        reach the reader first, to be accounted for."""
        if self._error is not None and self._pos >= len(self._piece):
            raise self._error
        size = CHUNK if size is None or size < 0 else size
        parts, total = [], 0
        if self._pos < len(self._piece):  # what is left of the last piece
            part = self._piece[self._pos:self._pos + size]
            self._pos += len(part)
            parts.append(part)
            total += len(part)
        pieces = self._pieces
        while total < size and self._error is None:
            try:
                piece = next(pieces, b"")
            except ValueError as error:
                self._error = error
                if not parts:
                    raise
                break
            if not piece:
                self._piece, self._pos = b"", 0
                break
            if total + len(piece) > size:  # keep the rest for the next read
                self._piece, self._pos = piece, size - total
                parts.append(piece[:size - total])
                break
            parts.append(piece)
            total += len(piece)
        return b"".join(parts)
