"""Read and decode: event files in, validated Events and dead letters out.

``ReadEventFiles`` takes file patterns (local paths or any Beam filesystem), reads Avro container
files of the EngagementEvent schema and JSON Lines of the same fields (sniffed by content, not by
name), and outputs :class:`~transforms.events.Event` on the main output and
:class:`~transforms.events.DeadLetter` on ``dead_letters``. Every record read is counted, and every
record that fails to parse or validate leaves with its origin (``file:N``: line number for JSON Lines,
record number for Avro) and its reason; the run goes on.

Every record is hostile until validated, and one bad record costs one dead letter, never the file:
JSON lines are read with a length limit (an over-long line is skipped in chunks, in constant memory,
and dead-lettered as RECORD_TOO_LARGE), a UTF-8 byte-order mark is not part of the first record, and
Avro timestamps are read as plain longs so that an out-of-range one is a BAD_TIMESTAMP dead letter
instead of an exception inside fastavro that ends the file. A file that several patterns match is
read once.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import sys
from typing import Any, Iterable, Iterator, NamedTuple

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas import wire
from transforms.events import (
    BAD_VALUE, MAX_ID_LENGTH, PARSE_ERROR, RECORD_TOO_LARGE, DeadLetter, Event, InvalidEvent, event_from_record,
    id_text, shown,
)

DEAD_LETTERS = "dead_letters"
AVRO_MAGIC = b"Obj\x01"
UTF8_BOM = b"\xef\xbb\xbf"
PROGRESS_EVERY = 100_000
MAX_RAW_PAYLOAD = 16_384  # characters kept of a bad record: enough to debug, bounded in size
# A record (a JSON line, an Avro record, a Kafka message) larger than this is a dead letter. Events
# are a few hundred bytes; 1 MiB is Kafka's default message limit. `run --max-record-bytes` changes it.
MAX_RECORD_BYTES = 1 << 20
SKIP_CHUNK = 1 << 16  # an over-long line is skipped this many bytes at a time

progress_log = logging.getLogger("social_mentors.progress")


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
        schema = fastavro.parse_schema(_without_logical_types(json.loads(blocks.metadata["avro.schema"])))
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
                size = data.tell() - start
                if size > limits.max_record_bytes:
                    yield DeadLetter(
                        f"{path}:{number}", RECORD_TOO_LARGE,
                        f"record is {size:,} bytes long, more than the limit of {limits.max_record_bytes:,} bytes "
                        "(--max-record-bytes)",
                        _id_or_none(record.get("event_id"), limits.max_id_length), raw_text(record),
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


class DecodeCounters:
    """The counters every decoder keeps; ``route`` counts one decoded item and tags its output."""

    def __init__(self) -> None:
        self.records_read = Metrics.counter("decode", "records_read")
        self.events_decoded = Metrics.counter("decode", "events_decoded")
        self.dead_lettered = Metrics.counter("decode", "dead_lettered")

    def route(self, item: Event | DeadLetter) -> Any:
        self.records_read.inc()
        if isinstance(item, Event):
            self.events_decoded.inc()
            return item
        self.dead_lettered.inc()
        Metrics.counter("dead_letters", item.error_kind).inc()
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, item)


class ExpandFilePatternsFn(beam.DoFn):
    """A file pattern in, (canonical path, path) of each matching file out; no match is an error."""

    def process(self, pattern: str) -> Iterable[tuple[str, str]]:
        matches = FileSystems.match([pattern])[0].metadata_list
        if not matches:
            raise FileNotFoundError(f"no input file matches {pattern!r}: check the --input path")
        for metadata in sorted(matches, key=lambda m: m.path):
            yield canonical_path(metadata.path), metadata.path


class OnePathPerFileFn(beam.DoFn):
    """A file and the names patterns gave it in; one name out, so no file is read twice."""

    def __init__(self) -> None:
        self.named_again = Metrics.counter("decode", "files_named_more_than_once")

    def process(self, element: tuple[str, Iterable[str]]) -> Iterable[str]:
        _, names = element
        names = list(names)
        if len(names) > 1:
            self.named_again.inc()
        yield min(names, key=lambda name: (len(name), name))


class DecodeEventFileFn(beam.DoFn):
    """A path in; its Events out, and a DeadLetter for each record that does not validate."""

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.counters = DecodeCounters()

    def process(self, path: str) -> Iterable[Any]:
        count = 0
        with FileSystems.open(path, compression_type="uncompressed") as stream:
            for item in iter_event_file(path, stream, self.limits):
                count += 1
                if count % PROGRESS_EVERY == 0:
                    progress_log.info("read %s records from %s", f"{count:,}", path)
                yield self.counters.route(item)
        progress_log.info("finished %s: %s records", path, f"{count:,}")


class ReadEventFiles(beam.PTransform):
    """File patterns -> Events (main output) and DeadLetters (``dead_letters``); each file read once."""

    def __init__(self, patterns: list[str], limits: DecodeLimits = DEFAULT_LIMITS):
        super().__init__()
        self.patterns = list(patterns)
        self.limits = limits

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "Patterns" >> beam.Create(self.patterns)
            | "ExpandPatterns" >> beam.ParDo(ExpandFilePatternsFn())
            # `--input f --input f` (or a glob and a path) read f twice and counted its records twice.
            | "GroupNamesOfAFile" >> beam.GroupByKey()
            | "OnePathPerFile" >> beam.ParDo(OnePathPerFileFn())
            # One file per element: spread the files over workers before the heavy decode.
            | "SpreadFiles" >> beam.Reshuffle()
            | "DecodeFiles" >> beam.ParDo(DecodeEventFileFn(self.limits)).with_outputs(DEAD_LETTERS, main="events")
        )


def kafka_raw_payload(record: Any) -> str:
    """A bad Kafka message's key and value, base64 (they are bytes, often not text)."""
    def b64(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data[:MAX_RAW_PAYLOAD]).decode("ascii")

    return json.dumps({"key_b64": b64(record.key), "value_b64": b64(record.value)})


def decode_kafka_record(
    record: Any, accepted_schema_ids: frozenset[int], limits: DecodeLimits = DEFAULT_LIMITS,
) -> Event | DeadLetter:
    """A KafkaRecord's Event, or a DeadLetter with topic/partition@offset, key and raw bytes."""
    if record.value is not None and len(record.value) > limits.max_record_bytes:
        return DeadLetter(
            record.origin, RECORD_TOO_LARGE,
            f"message is {len(record.value):,} bytes long, more than the limit of {limits.max_record_bytes:,} "
            "bytes (--max-record-bytes)",
            None, kafka_raw_payload(record),
        )
    try:
        decoded = wire.decode(record.value, accepted_schema_ids)
    except wire.WireFormatError as error:
        return DeadLetter(record.origin, error.kind, str(error), None, kafka_raw_payload(record))
    item = decode_record(decoded, record.origin, decoded, limits)
    if isinstance(item, DeadLetter):
        item = item._replace(raw_payload=kafka_raw_payload(record))
    return item


class DecodeKafkaRecordFn(beam.DoFn):
    """A KafkaRecord in; its Event out, or a DeadLetter on ``dead_letters``."""

    def __init__(self, accepted_schema_ids: frozenset[int], limits: DecodeLimits = DEFAULT_LIMITS):
        self.accepted_schema_ids = frozenset(accepted_schema_ids)
        self.limits = limits
        self.counters = DecodeCounters()

    def process(self, record: Any) -> Iterable[Any]:
        yield self.counters.route(decode_kafka_record(record, self.accepted_schema_ids, self.limits))


class ReadEventsFromKafka(beam.PTransform):
    """PBegin -> Events (main output) and DeadLetters (``dead_letters``) from planned Kafka partitions."""

    def __init__(self, kafka_read: beam.PTransform, accepted_schema_ids: frozenset[int] = frozenset({wire.DEFAULT_SCHEMA_ID}),
                 limits: DecodeLimits = DEFAULT_LIMITS):
        super().__init__()
        self.kafka_read = kafka_read
        self.accepted_schema_ids = accepted_schema_ids
        self.limits = limits

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "ReadKafka" >> self.kafka_read
            | "DecodeRecords" >> beam.ParDo(DecodeKafkaRecordFn(self.accepted_schema_ids, self.limits)).with_outputs(
                DEAD_LETTERS, main="events")
        )
