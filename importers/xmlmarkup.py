"""XML markup scanned and dropped in bounded memory: where a piece of markup ends, and how one over the
limit is read past a chunk at a time and stood in for (see :mod:`importers.xmlbounded`, which cuts a
file into pieces with these).

In: the bytes of a file from the ``<`` of a piece on, and the file itself. Out: the piece's end, or
the stand-in(s) of an over-long one and the bytes after it; or a ValueError naming the file and line
when it cannot be skipped safely (it never ends, or is no well-formed markup).
"""
from __future__ import annotations

import re
from typing import BinaryIO, Iterator, NamedTuple, Optional

TOO_LARGE = "sm-too-large"  # the stand-in's attribute: the size in bytes of the start tag it replaces
CHUNK = 1 << 16
_TAG_STOP = re.compile(rb"[>\"']")
_DECLARATION_STOP = re.compile(rb"[\[\]>\"']|<!--")
START_TAG_NAME = re.compile(rb"<([^\s/>!?<\"']{1,256})")
_DELIMITED = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
_CDATA = b"<![CDATA["


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
        data, pos = stream.read(CHUNK), 0
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
        chunk = stream.read(CHUNK)
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
        chunk = stream.read(CHUNK)
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
        data, pos = stream.read(CHUNK), 0
        if not data:
            return None


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
        chunk = stream.read(CHUNK)
        if not chunk:
            return held
        held += len(chunk)


_NOT_BLANK = re.compile(rb"[^ \t\r\n]")
_END_TAG_NAME = re.compile(rb"</([^\s/>!?<\"']{1,256})(?=[ \t\r\n>]|$)")
_DROPPED = {  # markup dropped with _drop_until: (opening, closing, kind, what it is called in an error)
    b"<!--": (b"-->", "comment", "a comment"),
    _CDATA: (b"]]>", "cdata", "a CDATA section"),
    b"<?": (b"?>", "instruction", "a processing instruction"),
}


def over_the_limit(stream: BinaryIO, buffer: bytes, line: int, limit: int, source: str, state: list) -> Iterator[tuple[bytes, int]]:
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
    name = START_TAG_NAME.match(buffer)
    if name is None:
        raise _malformed(source, line, "markup", limit)
    dropped_tag = _drop_tag(stream, buffer)
    if dropped_tag is None:
        raise _never_ends(source, line, "a start tag", limit, _rest_size(stream, len(buffer)))
    size, newlines, closes, rest = dropped_tag
    yield stand_in(size, name.group(1), closes), size
    state.extend((rest, line + newlines))
