"""Read and decode: event files or Kafka messages in, validated Events and dead letters out.

``ReadEventFiles`` takes file patterns (local paths or any Beam filesystem), reads Avro container
files of the EngagementEvent schema and JSON Lines of the same fields (sniffed by content, not by
name; see transforms/event_files.py for how each record is read and bounded), and outputs
:class:`~transforms.events.Event` on the main output and :class:`~transforms.events.DeadLetter` on
``dead_letters``. A file that several patterns name is read once; a big one is read in ranges that
workers decode apart (transforms/file_ranges.py). ``ReadEventsFromKafka`` does the
same for Kafka messages. Every record read is counted, and every record that fails to parse or
validate leaves with its origin and its reason; the run goes on.
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas import wire
from transforms import file_ranges
from transforms.event_files import (  # re-exported: the file readers' public names
    AVRO_MAGIC, DEFAULT_LIMITS, MAX_RAW_PAYLOAD, MAX_RECORD_BYTES, DecodeLimits, canonical_path, decode_record,
    iter_avro_file, iter_event_file, iter_jsonl_file, raw_text, repeated_paths,
)
from transforms.events import RECORD_TOO_LARGE, TOO_OLD, DeadLetter, Event, iso_utc
from transforms.file_ranges import FileRange, RangeSize, iter_range, plan_ranges
from transforms.worker_gc import tune_worker_gc

__all__ = [
    "AVRO_MAGIC", "DEAD_LETTERS", "DEFAULT_LIMITS", "MAX_RAW_PAYLOAD", "MAX_RECORD_BYTES", "DecodeLimits",
    "RangeSize", "ReadEventFiles", "ReadEventsFromKafka", "decode_kafka_record", "decode_record", "iter_avro_file",
    "iter_event_file", "iter_jsonl_file", "raw_text", "repeated_paths",
]

DEAD_LETTERS = "dead_letters"
PROGRESS_EVERY = 100_000

progress_log = logging.getLogger("social_mentors.progress")


class DecodeCounters:
    """The counters every decoder keeps. ``route`` tallies one decoded item and tags its output;
    ``flush`` (at the end of a bundle) adds the tally to the counters, since three counter calls a
    record cost more than its validation."""

    def __init__(self) -> None:
        self.records_read = Metrics.counter("decode", "records_read")
        self.events_decoded = Metrics.counter("decode", "events_decoded")
        self.dead_lettered = Metrics.counter("decode", "dead_lettered")
        self.reset()

    def reset(self) -> None:
        self.tallied_read, self.tallied_dead_letters = 0, {}

    def route(self, item: Event | DeadLetter) -> Any:
        self.tallied_read += 1
        if type(item) is Event:
            return item
        self.tallied_dead_letters[item.error_kind] = self.tallied_dead_letters.get(item.error_kind, 0) + 1
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, item)

    def flush(self) -> None:
        self.add(self.tallied_read, self.tallied_dead_letters)
        self.reset()

    def add(self, read: int, dead_letters: dict[str, int]) -> None:
        """Count many decoded items at once (a file's): ``read`` in all, ``dead_letters`` by error kind."""
        dead = sum(dead_letters.values())
        self.records_read.inc(read)
        self.events_decoded.inc(read - dead)
        self.dead_lettered.inc(dead)
        for kind, n in dead_letters.items():
            Metrics.counter("dead_letters", kind).inc(n)


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


class PlanFileRangesFn(beam.DoFn):
    """A path in; its ranges out (transforms/file_ranges.py), so that workers share a big file."""

    def __init__(self, range_size: RangeSize) -> None:
        self.range_size = range_size

    def process(self, path: str) -> Iterable[FileRange]:
        with FileSystems.open(path, compression_type="uncompressed") as stream:
            ranges = plan_ranges(path, stream, self.range_size)
        if len(ranges) > 1:
            progress_log.info("reading %s in %d parts", path, len(ranges))
        yield from ranges


class DecodeFileRangeFn(beam.DoFn):
    """A file's range in; its Events out, and a DeadLetter for each record that does not validate."""

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.counters = DecodeCounters()

    def setup(self) -> None:
        tune_worker_gc()  # every worker that runs the pipeline decodes (transforms.worker_gc says why)

    def process(self, file_range: FileRange) -> Iterable[Any]:
        # Counted per range, not per record: three counter calls a record cost more than its validation.
        count, dead_letters, shown_as = 0, {}, file_range.describe()
        try:
            with FileSystems.open(file_range.path, compression_type="uncompressed") as stream:
                for item in iter_range(file_range, stream, self.limits):
                    count += 1
                    if count % PROGRESS_EVERY == 0:
                        progress_log.info("read %s records from %s", f"{count:,}", shown_as)
                    if type(item) is Event:
                        yield item
                    else:
                        dead_letters[item.error_kind] = dead_letters.get(item.error_kind, 0) + 1
                        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, item)
        finally:
            self.counters.add(count, dead_letters)
        progress_log.info("finished %s: %s records", shown_as, f"{count:,}")


class ReadEventFiles(beam.PTransform):
    """File patterns -> Events (main output) and DeadLetters (``dead_letters``); each file read once,
    a big one in ranges (``range_size``) that workers decode apart."""

    def __init__(self, patterns: list[str], limits: DecodeLimits = DEFAULT_LIMITS,
                 range_size: Optional[RangeSize] = None):
        super().__init__()
        self.patterns = list(patterns)
        self.limits = limits
        # Looked up when built, not when imported, so a run (or a test) can set the module's default.
        self.range_size = range_size if range_size is not None else file_ranges.DEFAULT_RANGE_SIZE

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "Patterns" >> beam.Create(self.patterns)
            | "ExpandPatterns" >> beam.ParDo(ExpandFilePatternsFn())
            # `--input f --input f` (or a glob and a path) read f twice and counted its records twice.
            | "GroupNamesOfAFile" >> beam.GroupByKey()
            | "OnePathPerFile" >> beam.ParDo(OnePathPerFileFn())
            # A file was decoded by one worker however big it was: its ranges are planned from the
            # framing (cheap, reads no record) and spread over the workers before the heavy decode.
            | "PlanRanges" >> beam.ParDo(PlanFileRangesFn(self.range_size))
            | "SpreadRanges" >> beam.Reshuffle()
            | "DecodeRanges" >> beam.ParDo(DecodeFileRangeFn(self.limits)).with_outputs(DEAD_LETTERS, main="events")
        )


def kafka_raw_payload(record: Any) -> str:
    """A bad Kafka message's key and value, base64 (they are bytes, often not text)."""
    def b64(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data[:MAX_RAW_PAYLOAD]).decode("ascii")

    return json.dumps({"key_b64": b64(record.key), "value_b64": b64(record.value)})


def decode_kafka_record(
    record: Any, accepted_schema_ids: frozenset[int] | None = None, limits: DecodeLimits = DEFAULT_LIMITS,
    remembered_ms: Optional[int] = None,
) -> Event | DeadLetter:
    """A KafkaRecord's Event, or a DeadLetter with topic/partition@offset, key and raw bytes.

    ``remembered_ms`` (streaming: the dedupe horizon): an event read when the watermark was further
    past its created_at than that is a TOO_OLD dead letter (see :func:`too_old_dead_letter`); one read
    behind the watermark by less carries that watermark (``Event.read_watermark_ms``)."""
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
    elif remembered_ms is not None and getattr(record, "watermark_ms", None) is not None \
            and record.watermark_ms > item.created_at:
        if item.created_at + remembered_ms < record.watermark_ms:
            return too_old_dead_letter(item, record, remembered_ms)
        item = item._replace(read_watermark_ms=record.watermark_ms)  # read behind the watermark: a backfill
    return item


def too_old_dead_letter(event: Event, record: Any, remembered_ms: int) -> DeadLetter:
    """A stream forgets an event id and its window's panes ``remembered_ms`` (the dedupe horizon)
    after its created_at: an event read later than that could be a duplicate it can no longer
    recognise, and its window's row is final; scoring it would count it without any row showing it."""
    return DeadLetter(
        record.origin, TOO_OLD,
        f"created_at {iso_utc(event.created_at)} was read when the stream's watermark was "
        f"{iso_utc(record.watermark_ms)}, more than the dedupe horizon ({remembered_ms / 86_400_000:g} days) "
        "later: a backfill this old is scored by a bounded run (run --source kafka without --streaming), "
        "or allow it with a longer --dedupe-horizon",
        event.event_id, kafka_raw_payload(record),
    )


class DecodeKafkaRecordFn(beam.DoFn):
    """A KafkaRecord in; its Event out, or a DeadLetter on ``dead_letters``."""

    def __init__(self, accepted_schema_ids: frozenset[int] | None = None, limits: DecodeLimits = DEFAULT_LIMITS,
                 remembered_ms: Optional[int] = None):
        # None: every schema version this release knows (schemas.wire.known_schema_ids)
        self.accepted_schema_ids = frozenset(accepted_schema_ids) if accepted_schema_ids is not None else None
        self.limits = limits
        self.remembered_ms = remembered_ms
        self.counters = DecodeCounters()

    def setup(self) -> None:
        tune_worker_gc()  # every worker that runs the pipeline decodes (transforms.worker_gc says why)

    def start_bundle(self) -> None:
        self.counters.reset()  # a failed bundle's tally is not this one's

    def process(self, record: Any) -> Iterable[Any]:
        yield self.counters.route(decode_kafka_record(record, self.accepted_schema_ids, self.limits,
                                                      self.remembered_ms))

    def finish_bundle(self) -> None:
        self.counters.flush()


class ReadEventsFromKafka(beam.PTransform):
    """PBegin -> Events (main output) and DeadLetters (``dead_letters``) from planned Kafka partitions."""

    def __init__(self, kafka_read: beam.PTransform, accepted_schema_ids: frozenset[int] | None = None,
                 limits: DecodeLimits = DEFAULT_LIMITS, remembered_s: Optional[float] = None):
        super().__init__()
        self.kafka_read = kafka_read
        self.accepted_schema_ids = accepted_schema_ids
        self.limits = limits
        self.remembered_ms = None if remembered_s is None else int(remembered_s * 1000)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "ReadKafka" >> self.kafka_read
            | "DecodeRecords" >> beam.ParDo(DecodeKafkaRecordFn(self.accepted_schema_ids, self.limits,
                                                                   self.remembered_ms)).with_outputs(
                DEAD_LETTERS, main="events")
        )
