"""Read and decode: event files in, validated Events and dead letters out.

``ReadEventFiles`` takes file patterns (local paths or any Beam filesystem), reads Avro container
files of the EngagementEvent schema and JSON Lines of the same fields (sniffed by content, not by
name), and outputs :class:`~transforms.events.Event` on the main output and
:class:`~transforms.events.DeadLetter` on ``dead_letters``. Every record read is counted, and every
record that fails to parse or validate leaves with its origin (``file:N``: line number for JSON Lines,
record number for Avro) and its reason; the run goes on.
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any, Iterable, Iterator

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas import engagement_event_schema, wire
from transforms.events import PARSE_ERROR, DeadLetter, Event, InvalidEvent, event_from_record

DEAD_LETTERS = "dead_letters"
AVRO_MAGIC = b"Obj\x01"
PROGRESS_EVERY = 100_000
MAX_RAW_PAYLOAD = 16_384  # characters kept of a bad record: enough to debug, bounded in size

progress_log = logging.getLogger("social_mentors.progress")


def raw_text(value: Any) -> str:
    """A bounded, printable copy of a bad record for the dead-letter table."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="backslashreplace")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str, sort_keys=True)
    return text[:MAX_RAW_PAYLOAD]


def decode_record(record: Any, origin: str, raw: Any) -> Event | DeadLetter:
    """Validate one decoded record; never raises."""
    try:
        return event_from_record(record, origin)
    except InvalidEvent as error:
        event_id = record.get("event_id") if isinstance(record, dict) else None
        return DeadLetter(origin, error.error_kind, str(error), _id_or_none(event_id), raw_text(raw))


def _id_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None


def iter_avro_file(path: str, stream: Any) -> Iterator[Event | DeadLetter]:
    """Records of an Avro container file; a corrupt block ends the file with one PARSE_ERROR."""
    number = 0
    try:
        # Read into the current schema's shape: a file of an older version gets the new fields' defaults.
        for record in fastavro.reader(stream, reader_schema=engagement_event_schema()):
            number += 1
            yield decode_record(record, f"{path}:{number}", record)
    except Exception as error:  # fastavro raises many types on corrupt data
        yield DeadLetter(
            f"{path}:{number + 1}", PARSE_ERROR,
            f"Avro file unreadable from record {number + 1} on ({type(error).__name__}: {error}); "
            "records after this point could not be read",
            None, None,
        )


def iter_jsonl_file(path: str, stream: Any) -> Iterator[Event | DeadLetter]:
    """Records of a JSON Lines file; blank lines are not records."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            text = line.decode("utf-8")
            record = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            yield DeadLetter(origin, PARSE_ERROR, f"not a JSON object: {error}", None, raw_text(line.rstrip(b"\r\n")))
            continue
        yield decode_record(record, origin, text.rstrip("\r\n"))


def iter_event_file(path: str, stream: Any) -> Iterator[Event | DeadLetter]:
    """Sniff the format (Avro's magic bytes, else JSON Lines) and decode the file."""
    head = stream.read(len(AVRO_MAGIC))
    stream.seek(0)
    if head == AVRO_MAGIC:
        return iter_avro_file(path, stream)
    return iter_jsonl_file(path, stream)


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
    """A file pattern in, each matching path out; a pattern that matches nothing is an error."""

    def process(self, pattern: str) -> Iterable[str]:
        matches = FileSystems.match([pattern])[0].metadata_list
        if not matches:
            raise FileNotFoundError(f"no input file matches {pattern!r}: check the --input path")
        for metadata in sorted(matches, key=lambda m: m.path):
            yield metadata.path


class DecodeEventFileFn(beam.DoFn):
    """A path in; its Events out, and a DeadLetter for each record that does not validate."""

    def __init__(self) -> None:
        self.counters = DecodeCounters()

    def process(self, path: str) -> Iterable[Any]:
        count = 0
        with FileSystems.open(path, compression_type="uncompressed") as stream:
            for item in iter_event_file(path, stream):
                count += 1
                if count % PROGRESS_EVERY == 0:
                    progress_log.info("read %s records from %s", f"{count:,}", path)
                yield self.counters.route(item)
        progress_log.info("finished %s: %s records", path, f"{count:,}")


class ReadEventFiles(beam.PTransform):
    """File patterns -> Events (main output) and DeadLetters (``dead_letters``)."""

    def __init__(self, patterns: list[str]):
        super().__init__()
        self.patterns = list(patterns)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "Patterns" >> beam.Create(self.patterns)
            | "ExpandPatterns" >> beam.ParDo(ExpandFilePatternsFn())
            # One file per element: spread the files over workers before the heavy decode.
            | "SpreadFiles" >> beam.Reshuffle()
            | "DecodeFiles" >> beam.ParDo(DecodeEventFileFn()).with_outputs(DEAD_LETTERS, main="events")
        )


def kafka_raw_payload(record: Any) -> str:
    """A bad Kafka message's key and value, base64 (they are bytes, often not text)."""
    def b64(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data[:MAX_RAW_PAYLOAD]).decode("ascii")

    return json.dumps({"key_b64": b64(record.key), "value_b64": b64(record.value)})


def decode_kafka_record(record: Any, accepted_schema_ids: frozenset[int] | None = None) -> Event | DeadLetter:
    """A KafkaRecord's Event, or a DeadLetter with topic/partition@offset, key and raw bytes."""
    try:
        decoded = wire.decode(record.value, accepted_schema_ids)
    except wire.WireFormatError as error:
        return DeadLetter(record.origin, error.kind, str(error), None, kafka_raw_payload(record))
    item = decode_record(decoded, record.origin, decoded)
    if isinstance(item, DeadLetter):
        item = item._replace(raw_payload=kafka_raw_payload(record))
    return item


class DecodeKafkaRecordFn(beam.DoFn):
    """A KafkaRecord in; its Event out, or a DeadLetter on ``dead_letters``."""

    def __init__(self, accepted_schema_ids: frozenset[int] | None = None):
        self.accepted_schema_ids = frozenset(accepted_schema_ids) if accepted_schema_ids is not None else None
        self.counters = DecodeCounters()

    def process(self, record: Any) -> Iterable[Any]:
        yield self.counters.route(decode_kafka_record(record, self.accepted_schema_ids))


class ReadEventsFromKafka(beam.PTransform):
    """PBegin -> Events (main output) and DeadLetters (``dead_letters``) from planned Kafka partitions."""

    def __init__(self, kafka_read: beam.PTransform, accepted_schema_ids: frozenset[int] | None = None):
        super().__init__()
        self.kafka_read = kafka_read
        self.accepted_schema_ids = accepted_schema_ids

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "ReadKafka" >> self.kafka_read
            | "DecodeRecords" >> beam.ParDo(DecodeKafkaRecordFn(self.accepted_schema_ids)).with_outputs(
                DEAD_LETTERS, main="events")
        )
