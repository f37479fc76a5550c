"""Event files, record by record: Avro container files and JSON Lines in, Events and DeadLetters out.

Plain Python (no Beam), so that `run` (through ``ReadEventFiles`` in transforms/decode.py), `produce`
and the tests read files the same way. Every record is hostile until validated, and one bad record
costs one dead letter, never the rest of its file: JSON lines are read with a length limit (an
over-long line is skipped in chunks, in constant memory, and dead-lettered as RECORD_TOO_LARGE), a
UTF-8 byte-order mark is not part of the first record, and Avro timestamps are read as plain longs so
that an out-of-range one is a BAD_TIMESTAMP dead letter instead of an exception inside fastavro that
ended the file. Origins are ``file:N``: the line number for JSON Lines, the record number for Avro.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from typing import Any, Iterator, NamedTuple

import fastavro
from apache_beam.io.filesystems import FileSystems

from schemas import avro_schema, wire
from transforms.events import (
    BAD_VALUE, MAX_ID_LENGTH, PARSE_ERROR, RECORD_TOO_LARGE, DeadLetter, Event, InvalidEvent, event_from_record,
    id_text, shown,
)

AVRO_MAGIC = b"Obj\x01"
UTF8_BOM = b"\xef\xbb\xbf"
MAX_RAW_PAYLOAD = 16_384  # characters kept of a bad record: enough to debug, bounded in size
# A record (a JSON line, an Avro record, a Kafka message) larger than this is a dead letter. Events
# are a few hundred bytes; 1 MiB is Kafka's default message limit. `run --max-record-bytes` changes it.
MAX_RECORD_BYTES = 1 << 20
SKIP_CHUNK = 1 << 16  # an over-long line is skipped this many bytes at a time


@dataclasses.dataclass(frozen=True)
class DecodeLimits:
    """Per-record limits: bytes of one record and characters of one id field."""

    max_record_bytes: int = MAX_RECORD_BYTES
    max_id_length: int = MAX_ID_LENGTH

    def __post_init__(self) -> None:
        if self.max_record_bytes < 1 or self.max_id_length < 1:
            raise ValueError("record and id limits must be at least 1")


DEFAULT_LIMITS = DecodeLimits()


def raw_text(value: Any) -> str:
    """A bounded, printable copy of a bad record for the dead-letter table (always valid UTF-8)."""
    if isinstance(value, bytes):
        text = value[:4 * MAX_RAW_PAYLOAD].decode("utf-8", errors="backslashreplace")
    elif isinstance(value, str):
        text = value[:MAX_RAW_PAYLOAD].encode("utf-8", errors="backslashreplace").decode("utf-8")
    else:
        if isinstance(value, dict):  # cut long values before dumping: a 10 MB id must not be copied
            value = {k: v[:MAX_RAW_PAYLOAD] if isinstance(v, (str, bytes)) else v for k, v in value.items()}
        text = json.dumps(value, default=str, sort_keys=True)  # ASCII: lone surrogates come out escaped
    return text[:MAX_RAW_PAYLOAD]


def decode_record(record: Any, origin: str, raw: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Event | DeadLetter:
    """Validate one decoded record; never raises."""
    try:
        return event_from_record(record, origin, limits.max_id_length)
    except InvalidEvent as error:
        kind, message = error.error_kind, str(error)
    except Exception as error:  # a validation bug must cost one record, not the file; the message says so
        kind, message = BAD_VALUE, f"record could not be validated ({type(error).__name__}: {shown(str(error), 200)})"
    event_id = record.get("event_id") if isinstance(record, dict) else None
    return DeadLetter(origin, kind, message, _id_or_none(event_id, limits.max_id_length), raw_text(raw))


def _id_or_none(value: Any, max_length: int) -> str | None:
    """The event id for a dead letter, when it is one the warehouse can store."""
    try:
        return id_text(value, "event_id", max_length)
    except InvalidEvent:
        return None


@functools.lru_cache(maxsize=None)
def _evolved_fields() -> dict[str, Any]:
    """{field: default} of the EngagementEvent fields schema versions added after the first."""
    versions = wire.schema_versions()
    first = {f["name"] for f in versions[min(versions)]["fields"]}
    return {f["name"]: f["default"] for f in avro_schema("engagement_event")["fields"] if f["name"] not in first}


def _fields_added_since(writer_schema: Any) -> dict[str, Any]:
    """{field: default} of the fields added by schema versions newer than a file's schema.

    A file is read with its own schema (see iter_avro_file), so a file of an older schema version
    gives records without the fields added since; every added field has a default (the evolution rule
    of schemas/wire.py), which its records get, as Avro schema resolution would give them. A file of
    the current version gets nothing added (its dead letters keep the record as written)."""
    have = {f.get("name") for f in writer_schema.get("fields", ())} if isinstance(writer_schema, dict) else set()
    return {name: default for name, default in _evolved_fields().items() if name not in have}


def _without_logical_types(schema: Any) -> Any:
    """An Avro schema with every logicalType dropped, so timestamps read as the longs they are."""
    if isinstance(schema, dict):
        return {k: v if k == "default" else _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(v) for v in schema]
    return schema


def iter_avro_file(path: str, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Event | DeadLetter]:
    """Records of an Avro container file, decoded one at a time from each block.

    Records are read with the file's own schema minus its logical types: fastavro's timestamp-millis
    conversion raises on an out-of-range value, which ended the file; as a long it is one BAD_TIMESTAMP.
    Invalid UTF-8 in a string becomes lone surrogates, which validation refuses (BAD_VALUE). A record
    that cannot be decoded loses the rest of its block (one PARSE_ERROR says which records); a block
    that cannot be read loses the rest of the file (one PARSE_ERROR says from which record).
    """
    number = 0
    try:
        blocks = fastavro.block_reader(stream)
        writer_schema = json.loads(blocks.metadata["avro.schema"])
        schema = fastavro.parse_schema(_without_logical_types(writer_schema))
        added = _fields_added_since(writer_schema)
        for block in blocks:
            data = block.bytes_
            for index in range(block.num_records):
                start = data.tell()
                try:
                    record = fastavro.schemaless_reader(data, schema, None, handle_unicode_errors="surrogateescape")
                except Exception as error:  # fastavro raises many types on corrupt data
                    lost = block.num_records - index
                    yield DeadLetter(
                        f"{path}:{number + 1}", PARSE_ERROR,
                        f"Avro record {number + 1} unreadable ({type(error).__name__}: {shown(str(error), 200)}); "
                        f"records {number + 1}..{number + lost} (the rest of its block) could not be read",
                        None, None,
                    )
                    number += lost
                    break
                number += 1
                if added and isinstance(record, dict):
                    record = {**added, **record}
                size = data.tell() - start
                if size > limits.max_record_bytes:
                    yield DeadLetter(
                        f"{path}:{number}", RECORD_TOO_LARGE,
                        f"record is {size:,} bytes long, more than the limit of {limits.max_record_bytes:,} bytes "
                        "(--max-record-bytes)",
                        _id_or_none(record.get("event_id") if isinstance(record, dict) else None, limits.max_id_length),
                        raw_text(record),
                    )
                else:
                    yield decode_record(record, f"{path}:{number}", record, limits)
    except Exception as error:  # fastavro raises many types on corrupt data
        yield DeadLetter(
            f"{path}:{number + 1}", PARSE_ERROR,
            f"Avro file unreadable from record {number + 1} on ({type(error).__name__}: {shown(str(error), 200)}); "
            "records after this point could not be read",
            None, None,
        )


class Line(NamedTuple):
    """One line of a file: its number, its bytes without the line ending, and its full length.

    ``content`` holds only the first bytes of a line longer than the limit it was read with.
    """

    number: int
    content: bytes
    length: int


def iter_lines(stream: Any, max_bytes: int) -> Iterator[Line]:
    """Lines of a binary stream, holding at most ``max_bytes`` (+2) of any one line in memory."""
    number = 0
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


def iter_jsonl_file(path: str, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Event | DeadLetter]:
    """Records of a JSON Lines file; blank lines are not records."""
    for line in iter_lines(stream, limits.max_record_bytes):
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
            record = json.loads(text)
        except RecursionError:
            yield DeadLetter(origin, PARSE_ERROR, "not a JSON object: nested too deeply", None, raw_text(content))
            continue
        except UnicodeDecodeError as error:
            yield DeadLetter(origin, PARSE_ERROR, f"not UTF-8 text: {error}", None, raw_text(content))
            continue
        except ValueError as error:  # JSONDecodeError, or int()'s digit limit on a huge number
            reason = (str(error) if isinstance(error, json.JSONDecodeError)
                      else f"a number has more than {sys.get_int_max_str_digits():,} digits")
            yield DeadLetter(origin, PARSE_ERROR, f"not a JSON object: {reason}", None, raw_text(content))
            continue
        yield decode_record(record, origin, text, limits)


def iter_event_file(path: str, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Event | DeadLetter]:
    """Sniff the format (Avro's magic bytes, else JSON Lines) and decode the file."""
    head = stream.read(len(AVRO_MAGIC))
    stream.seek(0)
    if head == AVRO_MAGIC:
        return iter_avro_file(path, stream, limits)
    return iter_jsonl_file(path, stream, limits)


def canonical_path(path: str) -> str:
    """One name per file: local paths resolved (".", "..", links); other filesystems' paths as they are."""
    return path if "://" in path else os.path.realpath(path)


def repeated_paths(patterns: list[str]) -> dict[str, list[str]]:
    """Files that more than one of ``patterns`` names, each with the patterns that name it."""
    named: dict[str, tuple[str, list[str]]] = {}
    for pattern in patterns:
        try:
            matches = FileSystems.match([pattern])[0].metadata_list
        except Exception:  # a pattern that matches nothing is reported by the pipeline
            continue
        for metadata in matches:
            named.setdefault(canonical_path(metadata.path), (metadata.path, []))[1].append(pattern)
    return {shown_as: by for shown_as, by in named.values() if len(by) > 1}
