"""JSON Lines files, line by line: Events and DeadLetters out, never an exception.

Lines are read with a length limit: an over-long line is skipped in chunks, in constant memory, and
dead-lettered as RECORD_TOO_LARGE; a UTF-8 byte-order mark is not part of the first record; an object
naming one key twice is malformed. Origins are ``file:N``, N the line number.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Iterator, NamedTuple

from transforms.event_records import DEFAULT_LIMITS, SKIP_CHUNK, UTF8_BOM, DecodeLimits, decode_record, raw_text
from transforms.events import PARSE_ERROR, RECORD_TOO_LARGE, DeadLetter, Event, shown


class Line(NamedTuple):
    """One line of a file: its number, its bytes without the line ending, and its full length.

    ``content`` holds only the first bytes of a line longer than the limit it was read with.
    """

    number: int
    content: bytes
    length: int


def iter_lines(stream: Any, max_bytes: int, first_number: int = 1) -> Iterator[Line]:
    """Lines of a binary stream, holding at most ``max_bytes`` (+2) of any one line in memory; the
    first is numbered ``first_number`` (a range of a file starts inside it)."""
    number = first_number - 1
    while True:
        head = stream.readline(max_bytes + 2)  # room for "\r\n" after a line exactly at the limit
        if not head:
            return
        number += 1
        length, tail = len(head), head[-2:]
        if not head.endswith(b"\n") and len(head) == max_bytes + 2:
            while True:  # longer than the limit: skip to the next newline without keeping the bytes
                piece = stream.readline(SKIP_CHUNK)
                length += len(piece)
                tail = (tail + piece)[-2:]
                if not piece or piece.endswith(b"\n"):
                    break
        ending = 2 if tail == b"\r\n" else 1 if tail.endswith(b"\n") else 0
        content = head[:len(head) - ending] if length == len(head) else head
        yield Line(number, content, length - ending)


def iter_jsonl_file(path: str, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS,
                    first_line: int = 1) -> Iterator[Event | DeadLetter]:
    """Records of a JSON Lines file (or of the lines of a range of it, from line ``first_line`` on);
    blank lines are not records."""
    for line in iter_lines(stream, limits.max_record_bytes, first_line):
        origin, content = f"{path}:{line.number}", line.content
        if line.number == 1 and content.startswith(UTF8_BOM):  # written by some Windows tools
            content = content[len(UTF8_BOM):]
        if line.length > limits.max_record_bytes:
            yield DeadLetter(
                origin, RECORD_TOO_LARGE,
                f"line is {line.length:,} bytes long, more than the limit of {limits.max_record_bytes:,} bytes "
                "(--max-record-bytes)",
                None, raw_text(content),
            )
            continue
        if not content.strip():
            continue
        try:
            text = content.decode("utf-8")
            record = json.loads(text, object_pairs_hook=_object_without_repeated_keys)
        except RecursionError:
            yield DeadLetter(origin, PARSE_ERROR, "not a JSON object: nested too deeply", None, raw_text(content))
            continue
        except UnicodeDecodeError as error:
            yield DeadLetter(origin, PARSE_ERROR, f"not UTF-8 text: {error}", None, raw_text(content))
            continue
        except ValueError as error:  # JSONDecodeError, a repeated key, or int()'s digit limit on a huge number
            reason = (str(error) if isinstance(error, (json.JSONDecodeError, RepeatedKey))
                      else f"a number has more than {sys.get_int_max_str_digits():,} digits")
            yield DeadLetter(origin, PARSE_ERROR, f"not a JSON object: {reason}", None, raw_text(content))
            continue
        yield decode_record(record, origin, text, limits)


class RepeatedKey(ValueError):
    """A JSON object naming one key twice: which value the producer meant is unknown."""


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' object_pairs_hook: the object as a dict, or RepeatedKey when a key repeats
    (json keeps the last value silently, so ``{"event_id": "a", ..., "event_id": "b"}`` would pass)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise RepeatedKey(f"the key {shown(repeated)} appears more than once in an object")
    return record
