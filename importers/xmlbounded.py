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

Exports whose records are elements with content (Disqus, WordPress: a ``<message>`` or a
``<content:encoded>`` of text or CDATA) also need :func:`bounded_records`: an over-long run of text or
CDATA section is read in chunks and dropped, and stands as an empty ``<sm-too-large sm-too-large="BYTES"/>``;
and every element at a given depth (a record) is bounded as a whole, start tag to end tag: once its
bytes pass the limit, the rest of it is read and dropped (its content never reaches the parser, which
holds at most the limit of it), the elements left open in it are closed, and the same stand-in, with
the record's whole size, is put before its end tag. The reader skips a record holding a stand-in.
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
_CDATA = b"<![CDATA["
# The common pieces, matched in one step (the rest, and anything over the limit, piece by piece below):
# text, an end tag, a comment, CDATA, a processing instruction, a start tag (quoted values may hold >).
_PIECE = re.compile(rb"""[^<]+|</[^>]*>|<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"""
                    rb"""|<[^\s/>!?<"'](?:[^>"']|"[^"]*"|'[^']*')*>""", re.S)


def stand_in_size(value: str) -> int:
    """The size a stand-in's attribute gives; 0 when the file itself wrote the attribute with another
    value (the element is still treated as a stand-in: the name is reserved)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else 0


def stand_in(size: int, name: bytes = TOO_LARGE.encode(), closes: bool = True) -> bytes:
    """The element that stands for ``size`` dropped bytes: ``<NAME sm-too-large="SIZE"/>``."""
    return b"<%s %s=\"%d\"%s>" % (name, TOO_LARGE.encode(), size, b"/" if closes else b"")


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


def _drop_until(stream: BinaryIO, data: bytes, closing: bytes, pos: int) -> Optional[tuple[int, bytes]]:
    """Read past the first ``closing`` at or after ``pos`` in ``data`` and the stream, holding one chunk
    at a time: (the bytes up to and with it, the bytes after it), or None when the file ends first."""
    size, keep = 0, len(closing) - 1
    while True:
        end = data.find(closing, pos)
        if end >= 0:
            return size + end + len(closing), data[end + len(closing):]
        size, data, pos = size + len(data) - keep, data[len(data) - keep:], 0
        chunk = stream.read(_CHUNK)
        if not chunk:
            return None
        data += chunk


def bounded_pieces(stream: BinaryIO, limit: int, source: str, stand_ins: bool = False) -> Iterator[bytes]:
    """The bytes of ``stream`` in pieces, each text or whole markup of at most ``limit`` bytes; a
    start tag over ``limit`` comes as its stand-in (see the module's docstring), and so, with
    ``stand_ins``, do a run of text and a CDATA section over it."""
    for piece, _ in sized_pieces(stream, limit, source, stand_ins):
        yield piece


def sized_pieces(stream: BinaryIO, limit: int, source: str, stand_ins: bool = False) -> Iterator[tuple[bytes, int]]:
    """:func:`bounded_pieces`, each with the number of bytes of the file it stands for."""
    if limit < 1:
        raise ValueError(f"the record limit must be at least 1 byte, not {limit}")
    buffer, at, ended = b"", 0, False  # at: the file offset of buffer[0]
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
            at, buffer = at + pos, buffer[pos:]
        if not buffer and not ended:
            chunk = stream.read(_CHUNK)
            buffer, ended = chunk, not chunk
            continue
        if not buffer:
            break
        if not buffer.startswith(b"<"):
            cut = buffer.find(b"<")
            while cut < 0 and len(buffer) <= limit and not ended:  # a run of text, held up to the limit
                chunk = stream.read(_CHUNK)
                buffer, ended = buffer + chunk, not chunk
                cut = buffer.find(b"<")
            text = buffer if cut < 0 else buffer[:cut]
            if len(text) > limit and not stand_ins:
                raise ValueError(f"{source}: text of over {limit:,} bytes at byte {at:,}, outside any attribute; "
                                 "not a dump of records: fix the file, or raise --max-line-bytes")
            if len(text) > limit:  # read on to its end, dropping it
                size = len(text)
                while cut < 0 and not ended:
                    buffer = stream.read(_CHUNK)
                    ended, cut = not buffer, buffer.find(b"<")
                    size += len(buffer) if cut < 0 else cut
                buffer = b"" if cut < 0 else buffer[cut:]
                yield stand_in(size), size
                at += size
                continue
            if text:
                yield text, len(text)
            at, buffer = at + len(text), buffer[len(text):]
            continue
        end = markup_end(buffer)
        while end is None and len(buffer) <= limit and not ended:
            chunk = stream.read(_CHUNK)
            buffer, ended = buffer + chunk, not chunk
            end = markup_end(buffer)
        if end is not None and end <= limit:
            yield buffer[:end], end
            at, buffer = at + end, buffer[end:]
            continue
        if end is None and len(buffer) <= limit:  # the file ends inside markup: the parser says where
            yield buffer, len(buffer)
            return
        if stand_ins and buffer.startswith(_CDATA):
            dropped_cdata = _drop_until(stream, buffer, b"]]>", len(_CDATA))
            if dropped_cdata is None:  # cut off inside it: the parser reports the end
                return
            size, buffer = dropped_cdata
            yield stand_in(size), size
            at += size
            continue
        name = _START_TAG_NAME.match(buffer)
        if name is None:
            raise ValueError(f"{source}: markup of over {limit:,} bytes at byte {at:,} (a comment, declaration or "
                             "end tag); not a dump of records: fix the file, or raise --max-line-bytes")
        dropped = _drop_tag(stream, buffer)
        if dropped is None:  # cut off inside the tag: what came before stands, the parser reports the end
            return
        size, closes, buffer = dropped
        yield stand_in(size, name.group(1), closes), size
        at += size


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
                names = (_START_TAG_NAME.match(tag) for tag in reversed(inner))  # none: malformed, the parser says so
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
    with ``record_depth`` through :func:`bounded_records` too (text and CDATA stand-ins included)."""

    def __init__(self, stream: BinaryIO, limit: int, source: str, record_depth: Optional[int] = None):
        if record_depth is None:
            self._pieces = bounded_pieces(stream, limit, source)
        else:
            self._pieces = bounded_records(sized_pieces(stream, limit, source, stand_ins=True), record_depth, limit)
        self._piece, self._pos = b"", 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (a chunk when ``size`` is negative), whole pieces joined where they fit."""
        size = _CHUNK if size is None or size < 0 else size
        parts, total = [], 0
        if self._pos < len(self._piece):  # what is left of the last piece
            part = self._piece[self._pos:self._pos + size]
            self._pos += len(part)
            parts.append(part)
            total += len(part)
        pieces = self._pieces
        while total < size:
            piece = next(pieces, b"")
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
