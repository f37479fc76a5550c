"""Avro container files, record by record: Events and DeadLetters out, never an exception.

Avro blocks are framed by hand (``transforms.avro_blocks``), not by fastavro, so that a damaged block
costs one dead letter per record of it and reading resumes at the file's next sync marker (see ``iter_avro_file``). Timestamps are read
as plain longs, so that an out-of-range one is a BAD_TIMESTAMP dead letter instead of an exception
inside fastavro that ended the file. An Avro file of a schema version this release does not know (a
newer one) is not read as events: each of its records is an UNKNOWN_SCHEMA_ID dead letter, as a Kafka
message of an unknown schema id is (``unknown_version``). Origins are ``file:N``, N the record number.
"""
from __future__ import annotations

import functools
import io
import json
import os
from typing import Any, Iterator, NamedTuple, Optional

import fastavro

from schemas import avro_schema, wire, without_logical_types
from transforms.avro_blocks import HEADER_SCHEMA, decompress, walk_blocks
from transforms.event_records import DEFAULT_LIMITS, DecodeLimits, decode_record, raw_text, storable_event_id
from transforms.events import (
    PARSE_ERROR, RECORD_TOO_LARGE, UNCOUNTED_RECORDS, UNKNOWN_SCHEMA_ID, DeadLetter, Event, shown,
)


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


def unknown_version(writer_schema: Any) -> Optional[str]:
    """Why a file's EngagementEvent schema version is one this release does not read, or None.

    The writer schema says its version in ``x-schema-version`` (see schemas/wire.py). A version this
    release does not know (a newer release's, or one that is not a number) may have changed what a
    field means, so its records are not read as this release's: like a Kafka message of an unknown
    schema id, each is an UNKNOWN_SCHEMA_ID dead letter, kept whole for a newer release to read. A
    schema without a version (another tool's writer) is read by its field names, as before."""
    if not isinstance(writer_schema, dict) or "x-schema-version" not in writer_schema:
        return None
    version, known = writer_schema["x-schema-version"], sorted(wire.schema_versions())
    if isinstance(version, int) and not isinstance(version, bool) and version in known:
        return None
    newer = isinstance(version, int) and not isinstance(version, bool) and version > known[-1]
    return (f"the file was written with EngagementEvent schema version {shown(version)}"
            + (", newer than this release" if newer else "")
            + f"; this release reads versions {', '.join(map(str, known))}"
            + (": upgrade social-mentors to read it" if newer else ""))


class AvroHeader(NamedTuple):
    """What a file's header says, as its reader uses it."""

    sync: bytes
    schema: Any  # the file's own, without logical types (see iter_avro_file)
    added: dict[str, Any]  # an older version's file: the fields added since, at their defaults
    refused: Optional[str]  # a newer version's file: why each record is an UNKNOWN_SCHEMA_ID
    codec: str
    first: int  # where the first block starts
    file_size: int


class AvroSpan(NamedTuple):
    """Part of a file, from one step of its walk (``transforms.avro_blocks.walk_blocks``) to another,
    with the numbers a whole read would have reached there."""

    start: int
    stop: int
    records_before: int
    blocks_before: int


def read_header(stream: Any) -> AvroHeader:
    """The header of an Avro container file; raises on one that cannot be read."""
    header = fastavro.schemaless_reader(stream, HEADER_SCHEMA)
    meta = header["meta"]
    writer_schema = json.loads(meta["avro.schema"])
    schema = fastavro.parse_schema(without_logical_types(writer_schema))
    codec = meta.get("avro.codec", b"null").decode("ascii")
    first = stream.tell()
    stream.seek(0, os.SEEK_END)  # some filesystems' streams return None from seek
    return AvroHeader(header["sync"], schema, _fields_added_since(writer_schema), unknown_version(writer_schema),
                      codec, first, stream.tell())


def framing_room(codec: str, size: int) -> int:
    """The most records ``size`` bytes of block data can hold: a byte each, decompressed (deflate:
    1,032:1 at most)."""
    return size if codec == "null" else 1032 * size + 1032


def framed_count(codec: str, block: Any) -> int:
    """How far a block moves the record numbers, as far as its framing tells: its record count, or one
    when the count cannot fit in its bytes (an UNCOUNTED_RECORDS dead letter stands for it)."""
    room = framing_room(codec, block.data_end - block.data_start)
    return 1 if block.count > room else block.count


def iter_avro_file(path: str, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS,
                   span: Optional[AvroSpan] = None) -> Iterator[Event | DeadLetter]:
    """Records of an Avro container file, decoded one at a time from each block; one item per record.

    Records are read with the file's own schema minus its logical types: fastavro's timestamp-millis
    conversion raises on an out-of-range value, which ended the file; as a long it is one BAD_TIMESTAMP.
    Invalid UTF-8 in a string becomes lone surrogates, which validation refuses (BAD_VALUE).

    Blocks are framed here rather than by fastavro, so that damage costs only what it must:

    * a record that cannot be decoded: a PARSE_ERROR for it and each record after it in its block
      (the block header says how many), and the next block is read;
    * a block not followed by the file's sync marker: the file is scanned for the next marker. When
      the bytes before it frame as blocks (each header's byte size leads to the next), each record of a
      block whose marker is damaged is a PARSE_ERROR, a block followed by the marker is read as usual,
      and reading goes on after the marker;
    * bytes that do not frame as blocks (a damaged header, a file cut short, more records than bytes, a
      block whose data ends before its record count or goes on after it):
      their number of records is unknown: one UNCOUNTED_RECORDS dead letter stands for them (and the
      run summary says records may be missing); records after them are numbered as if they held one.
    """
    try:
        header = read_header(stream)
    except Exception as error:  # fastavro raises many types on corrupt data
        yield DeadLetter(
            f"{path}:1", UNCOUNTED_RECORDS,
            f"Avro file header unreadable ({type(error).__name__}: {shown(str(error), 200)}): "
            "the number of records in the file is unknown",
            None, None,
        )
        return
    codec, schema, added, refused = header.codec, header.schema, header.added, header.refused
    if span is None:
        span = AvroSpan(header.first, header.file_size, 0, 0)
    number, block_number = span.records_before, span.blocks_before

    def uncounted(start: int, end: int, why: str) -> DeadLetter:
        return DeadLetter(
            f"{path}:{number + 1}", UNCOUNTED_RECORDS,
            f"Avro bytes {start:,}..{end:,} after record {number} ({why}) cannot be read as blocks: the "
            f"number of records in them is unknown; records after them are numbered from {number + 2} on as if "
            "they held one",
            None, None,
        )

    for step in walk_blocks(stream, span.start, span.stop, header.file_size, header.sync):
        blocks, marker_at, why = step.blocks, step.marker_at, step.why
        if blocks is None:
            block_number += 1
            yield uncounted(step.at, step.end, why)
            number += 1
            continue
        for index, block in enumerate(blocks):
            block_number += 1
            synced = block.synced or (marker_at is not None and index == len(blocks) - 1)
            stream.seek(block.data_start)
            raw = stream.read(block.data_end - block.data_start)
            try:
                data = decompress(codec, raw) if synced else None
                error = None
            except Exception as failure:  # zlib and the other codecs raise their own types
                data, error = None, failure
            room = len(data) if data is not None else framing_room(codec, len(raw))
            if block.count > room:  # every record takes a byte at least
                yield uncounted(block.start, block.data_end, f"block {block_number} claims {block.count:,} records "
                                f"in {len(raw):,} bytes")
                number += 1
                continue
            if data is None:
                reason = ("its block is not followed by the file's sync marker" if error is None
                          else f"its data cannot be decompressed ({type(error).__name__}: {shown(str(error), 200)})")
                yield from _lost(path, number, block.count, block_number, reason)
                number += block.count
                continue
            records = _BlockRecords(path, number, block.count, block_number, io.BytesIO(data), schema, limits, added,
                                    refused)
            yield from records
            if records.ended_after is not None:  # the data ends cleanly before the count is reached
                number += records.ended_after
                yield uncounted(block.start, block.data_end, f"block {block_number} claims {block.count:,} records "
                                f"but its data ends after {records.ended_after:,}: its record count is wrong")
                number += 1
                continue
            number += block.count
            leftover = len(data) - records.consumed if records.consumed is not None else 0
            if leftover:
                yield uncounted(block.start, block.data_end, f"block {block_number} has {leftover:,} bytes left "
                                "after its last record: its record count is wrong")
                number += 1


def _lost(path: str, number: int, lost: int, block_number: int, reason: str) -> Iterator[DeadLetter]:
    """A PARSE_ERROR for each of ``lost`` records after record ``number``."""
    first, last = number + 1, number + lost
    for n in range(first, last + 1):
        yield DeadLetter(
            f"{path}:{n}", PARSE_ERROR,
            f"Avro record {n} unreadable: {reason}; records {first}..{last} (of block {block_number}) could not be read",
            None, None,
        )


class _BlockRecords:
    """Iterator over a decompressed block's items; ``consumed`` is how many of its bytes the records
    took (None when a record could not be decoded). When the data ends exactly where a record should
    start, the block's record count is wrong, not a record: ``ended_after`` is then how many records
    it held, and nothing is yielded for the records it does not hold."""

    def __init__(self, path, number, count, block_number, data, schema, limits, added=None, refused=None):
        self.consumed: Optional[int] = None
        self.ended_after: Optional[int] = None
        self._items = self._read(path, number, count, block_number, data, schema, limits, added or {}, refused)

    def __iter__(self):
        return self._items

    def _read(self, path, number, count, block_number, data, schema, limits, added, refused):
        for index in range(count):
            start = data.tell()
            try:
                record = fastavro.schemaless_reader(data, schema, None, handle_unicode_errors="surrogateescape")
            except Exception as error:  # fastavro raises many types on corrupt data
                if start == len(data.getbuffer()):
                    self.ended_after = index
                    return
                yield from _lost(path, number, count - index, block_number,
                                 f"{type(error).__name__}: {shown(str(error), 200)}")
                return
            number += 1
            if added and isinstance(record, dict):
                record = {**added, **record}
            size = data.tell() - start
            if size > limits.max_record_bytes:
                yield DeadLetter(
                    f"{path}:{number}", RECORD_TOO_LARGE,
                    f"record is {size:,} bytes long, more than the limit of {limits.max_record_bytes:,} bytes "
                    "(--max-record-bytes)",
                    storable_event_id(record.get("event_id") if isinstance(record, dict) else None, limits.max_id_length),
                    raw_text(record),
                )
            elif refused:
                event_id = record.get("event_id") if isinstance(record, dict) else None
                yield DeadLetter(f"{path}:{number}", UNKNOWN_SCHEMA_ID, refused,
                                 storable_event_id(event_id, limits.max_id_length), raw_text(record))
            else:
                yield decode_record(record, f"{path}:{number}", record, limits)
        self.consumed = data.tell()
