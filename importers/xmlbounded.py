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
from typing import BinaryIO, Iterator, NamedTuple, Optional

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


def markup_stand_in(kind: str, size: int, line: int) -> bytes:
    """The processing instruction that stands for dropped markup or text other than a start tag:
    ``<?sm-too-large KIND SIZE LINE?>`` (a processing instruction may stand wherever markup may)."""
    return b"<?%s %s %d %d?>" % (TOO_LARGE.encode(), kind.encode(), size, line)


class DroppedMarkup(NamedTuple):
    """What a markup stand-in says: the kind of what was dropped (comment, cdata, instruction,
    doctype, end_tag, text), its size in bytes and the line of the file it began on."""

    kind: str
    size: int
    line: int


MARKUP_KINDS = ("comment", "cdata", "instruction", "doctype", "end_tag", "text")


def dropped_markup(target: str, data: str) -> Optional[DroppedMarkup]:
    """The :class:`DroppedMarkup` of a processing instruction (``target``, ``data``), None when it is
    another. The target is reserved: one the file itself wrote in the stand-ins' form is counted as
    dropped markup too (a skip more, never a record less); in any other form it is an ordinary one."""
    if target != TOO_LARGE:
        return None
    parts = data.split()
    if len(parts) == 3 and parts[0] in MARKUP_KINDS and all(stand_in_size(p) or p == "0" for p in parts[1:]):
        return DroppedMarkup(parts[0], int(parts[1]), int(parts[2]))
    return None


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


def _drop_tag(stream: BinaryIO, data: bytes) -> Optional[tuple[int, int, bool, bytes]]:
    """Read past the start tag that begins ``data``, holding one chunk at a time: (the tag's size, its
    newlines, whether it closes itself with ``/>``, the bytes after it), or None when the file ends inside it."""
    pos, quote, size, newlines, previous = 1, b"", 0, 0, b""
    while True:
        end, quote = _tag_end(data, pos, quote)
        if end >= 0:
            slash = data[end - 2:end - 1] if end >= 2 else previous
            return size + end, newlines + data.count(b"\n", 0, end), slash == b"/", data[end:]
        size, newlines, previous = size + len(data), newlines + data.count(b"\n"), data[-1:]
        data, pos = stream.read(_CHUNK), 0
        if not data:
            return None


def _drop_until(stream: BinaryIO, data: bytes, closing: bytes, pos: int) -> Optional[tuple[int, int, bytes]]:
    """Read past the first ``closing`` at or after ``pos`` in ``data`` and the stream, holding one chunk
    at a time: (the size of the bytes up to and with it, their newlines, the bytes after it), or None
    when the file ends first."""
    size, newlines, keep = 0, 0, len(closing) - 1
    while True:
        end = data.find(closing, pos)
        if end >= 0:
            end += len(closing)
            return size + end, newlines + data.count(b"\n", 0, end), data[end:]
        cut = max(len(data) - keep, 0)
        size, newlines, data, pos = size + cut, newlines + data.count(b"\n", 0, cut), data[cut:], 0
        chunk = stream.read(_CHUNK)
        if not chunk:
            return None
        data += chunk


def _drop_declaration(stream: BinaryIO, data: bytes) -> Optional[tuple[int, int, bytes]]:
    """:func:`_drop_until` for a ``<!DOCTYPE ...>``, whose internal subset in brackets, quoted values and
    comments hold ``>``s of their own (:func:`_declaration_end`, a chunk at a time)."""
    pos, depth, closing, size, newlines = 2, 0, b"", 0, 0
    while True:
        while True:
            if closing:
                close = data.find(closing, pos)
                if close < 0:
                    break
                pos, closing = close + len(closing), b""
                continue
            stop = _DECLARATION_STOP.search(data, pos)
            if stop is None:
                break
            token, pos = stop.group(), stop.end()
            if token in (b'"', b"'"):
                closing = token
            elif token == b"<!--":
                closing = b"-->"
            elif token == b"[":
                depth += 1
            elif token == b"]":
                depth -= 1
            elif depth <= 0:
                return size + pos, newlines + data.count(b"\n", 0, pos), data[pos:]
        cut = max(pos, len(data) - 3)  # what may begin a "<!--" or a "-->" is read again with the next chunk
        size, newlines, data, pos = size + cut, newlines + data.count(b"\n", 0, cut), data[cut:], 0
        chunk = stream.read(_CHUNK)
        if not chunk:
            return None
        data += chunk


def _drop_end_tag(stream: BinaryIO, data: bytes, name_end: int) -> Optional[tuple[int, int, bool, bytes]]:
    """Read past the end tag that begins ``data`` (its name ends at ``name_end``), a chunk at a time:
    (its size, its newlines, whether only white space follows the name, the bytes after it), or None
    when the file ends inside it."""
    size, newlines, blank, pos = 0, 0, True, name_end
    while True:
        end = data.find(b">", pos)
        stop = len(data) if end < 0 else end
        blank = blank and not _NOT_BLANK.search(data, pos, stop)
        if end >= 0:
            return size + end + 1, newlines + data.count(b"\n", 0, end), blank, data[end + 1:]
        size, newlines = size + len(data), newlines + data.count(b"\n")
        data, pos = stream.read(_CHUNK), 0
        if not data:
            return None


def bounded_pieces(stream: BinaryIO, limit: int, source: str) -> Iterator[bytes]:
    """The bytes of ``stream`` in pieces, each text or whole markup of at most ``limit`` bytes; a
    start tag over ``limit`` comes as its stand-in, other markup and text over it as a markup stand-in
    (see the module's docstring)."""
    for piece, _ in sized_pieces(stream, limit, source):
        yield piece


def _never_ends(source: str, line: int, what: str, limit: int, size: int) -> ValueError:
    return ValueError(f"{source}: line {line:,}: {what} of over {limit:,} bytes that never ends (the file ends "
                      f"{size:,} bytes after its start); it cannot be skipped safely: the import stopped there: "
                      "fix or cut the file, or pass the files that are whole")


def _malformed(source: str, line: int, what: str, limit: int) -> ValueError:
    return ValueError(f"{source}: line {line:,}: {what} of over {limit:,} bytes that is not well-formed XML; it "
                      "cannot be skipped safely: the import stopped there: fix the file, or raise --max-line-bytes")


def _rest_size(stream: BinaryIO, held: int) -> int:
    """How many bytes the file still has, read (and dropped) a chunk at a time, plus ``held``."""
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return held
        held += len(chunk)


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
            if len(text) > limit:  # read on to its end, dropping it
                size, newlines = len(text), text.count(b"\n")
                while cut < 0 and not ended:
                    buffer = stream.read(_CHUNK)
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
            chunk = stream.read(_CHUNK)
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
        yield from _over_the_limit(stream, buffer, line, limit, source, after)
        buffer, line = after


_NOT_BLANK = re.compile(rb"[^ \t\r\n]")
_END_TAG_NAME = re.compile(rb"</([^\s/>!?<\"']{1,256})(?=[ \t\r\n>]|$)")
_DROPPED = {  # markup dropped with _drop_until: (opening, closing, kind, what it is called in an error)
    b"<!--": (b"-->", "comment", "a comment"),
    _CDATA: (b"]]>", "cdata", "a CDATA section"),
    b"<?": (b"?>", "instruction", "a processing instruction"),
}


def _over_the_limit(stream: BinaryIO, buffer: bytes, line: int, limit: int, source: str, state: list) -> Iterator[tuple[bytes, int]]:
    """The stand-in(s) of the markup over ``limit`` that begins ``buffer`` at ``line``, read to its end
    a chunk at a time; ``state`` receives (the bytes after it, their line). ValueError naming the
    line when it never ends or is no well-formed markup (nothing after it could be trusted)."""
    for opening, (closing, kind, what) in _DROPPED.items():
        if buffer.startswith(opening):
            dropped = _drop_until(stream, buffer, closing, len(opening))
            if dropped is None:
                raise _never_ends(source, line, what, limit, _rest_size(stream, len(buffer)))
            size, newlines, rest = dropped
            yield markup_stand_in(kind, size, line), size
            state.extend((rest, line + newlines))
            return
    if buffer.startswith(b"<!DOCTYPE"):
        dropped = _drop_declaration(stream, buffer)
        if dropped is None:
            raise _never_ends(source, line, "a doctype", limit, _rest_size(stream, len(buffer)))
        size, newlines, rest = dropped
        yield markup_stand_in("doctype", size, line), size
        state.extend((rest, line + newlines))
        return
    if buffer.startswith(b"<!"):
        raise _malformed(source, line, "a declaration", limit)
    if buffer.startswith(b"</"):
        name = _END_TAG_NAME.match(buffer)
        if name is None:
            raise _malformed(source, line, "an end tag", limit)
        dropped_end = _drop_end_tag(stream, buffer, name.end())
        if dropped_end is None:
            raise _never_ends(source, line, "an end tag", limit, _rest_size(stream, len(buffer)))
        size, newlines, blank, rest = dropped_end
        if not blank:
            raise _malformed(source, line, "an end tag", limit)
        # the element still ends here: only the white space of its end tag is dropped
        yield markup_stand_in("end_tag", size, line), size
        yield b"</%s>" % name.group(1), 0
        state.extend((rest, line + newlines))
        return
    name = _START_TAG_NAME.match(buffer)
    if name is None:
        raise _malformed(source, line, "markup", limit)
    dropped_tag = _drop_tag(stream, buffer)
    if dropped_tag is None:
        raise _never_ends(source, line, "a start tag", limit, _rest_size(stream, len(buffer)))
    size, newlines, closes, rest = dropped_tag
    yield stand_in(size, name.group(1), closes), size
    state.extend((rest, line + newlines))


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
        size = _CHUNK if size is None or size < 0 else size
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
