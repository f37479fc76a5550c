"""Read Kafka with a splittable DoFn over kafka-python: partitions as restrictions, offsets as positions.

``ReadFromKafkaPartitions`` takes a plan (one :class:`PartitionPlan` per partition: where to start,
where to stop or None for unbounded) and outputs :class:`KafkaRecord`, timestamped with the record's
Kafka timestamp (our producer sets it to the event's created_at).

Watermark, per partition: the newest record timestamp seen minus ``max_out_of_orderness_s``. A
partition with nothing new for ``idle_timeout_s`` while at its end offset is idle: its watermark then
follows the wall clock (minus the same bound), so one quiet partition cannot hold every window open.

Progress: when a bundle is finalized (its output safely handed to the runner), the consumer group's
offset for the partition is committed with the partition's watermark as metadata. The offset says how
far the pipeline has read; the watermark lets a restarted pipeline compute where to resume so that
every window that may still change is recomputed in full (see :mod:`pipelines.kafka_resume`).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Iterable, NamedTuple, Optional

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.metrics import Metrics
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp

log = logging.getLogger(__name__)

UNBOUNDED_STOP = 2**63 - 1
POLL_MS = 200
SLICE_S = 1.0  # how long one unbounded process() call reads before it checkpoints


class KafkaRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    timestamp_ms: int

    @property
    def origin(self) -> str:
        return f"kafka:{self.topic}/{self.partition}@{self.offset}"


class PartitionPlan(NamedTuple):
    """Read ``topic``/``partition`` from ``start`` to ``stop`` (exclusive; None = unbounded)."""

    bootstrap_servers: str
    topic: str
    partition: int
    start: int
    stop: Optional[int]
    group_id: Optional[str]


class CheckpointOnlyTracker(OffsetRestrictionTracker):
    """Offsets of one partition; splits only at the current position (checkpoints).

    A runner's dynamic split of an unbounded range would cut it at an arbitrary offset, far beyond
    the end of the partition; one reader per partition is the unit of parallelism here.
    """

    def try_split(self, fraction_of_remainder: float):
        if fraction_of_remainder != 0:
            return None
        return super().try_split(0)


class PartitionRestrictionProvider(RestrictionProvider):
    def initial_restriction(self, plan: PartitionPlan) -> OffsetRange:
        return OffsetRange(plan.start, plan.stop if plan.stop is not None else UNBOUNDED_STOP)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return CheckpointOnlyTracker(restriction)

    def split(self, plan: PartitionPlan, restriction: OffsetRange) -> Iterable[OffsetRange]:
        yield restriction  # one reader per partition keeps records of a thread in order

    def restriction_size(self, plan: PartitionPlan, restriction: OffsetRange) -> int:
        if restriction.stop == UNBOUNDED_STOP:
            return 1
        return max(0, restriction.stop - restriction.start)

    def truncate(self, plan: PartitionPlan, restriction: OffsetRange) -> None:
        return None  # on drain, stop reading at once


def commit_metadata(watermark_ms: Optional[int]) -> str:
    return json.dumps({"watermark_ms": watermark_ms})


def parse_commit_metadata(metadata: Optional[str]) -> Optional[int]:
    try:
        return json.loads(metadata or "{}").get("watermark_ms")
    except (ValueError, AttributeError):
        return None


class _PartitionReader:
    """One kafka-python consumer assigned to one partition, kept across process() calls."""

    def __init__(self, plan: PartitionPlan, consumer_config: dict[str, Any]):
        from kafka import KafkaConsumer, TopicPartition

        self.partition = TopicPartition(plan.topic, plan.partition)
        self.consumer = KafkaConsumer(
            bootstrap_servers=plan.bootstrap_servers,
            group_id=plan.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **consumer_config,
        )
        self.consumer.assign([self.partition])
        self.max_timestamp_ms: Optional[int] = None
        self.idle_since: Optional[float] = None
        self.lock = threading.Lock()

    def seek(self, offset: int) -> None:
        if self.consumer.position(self.partition) != offset:
            self.consumer.seek(self.partition, offset)

    def poll(self) -> list:
        return self.consumer.poll(timeout_ms=POLL_MS, max_records=1000).get(self.partition, [])

    def at_end(self) -> bool:
        highwater = self.consumer.highwater(self.partition)
        return highwater is not None and self.consumer.position(self.partition) >= highwater

    def commit(self, offset: int, watermark_ms: Optional[int]) -> None:
        from kafka.structs import OffsetAndMetadata

        try:
            with self.lock:
                self.consumer.commit({self.partition: OffsetAndMetadata(offset, commit_metadata(watermark_ms), -1)})
        except Exception as error:  # a broker restart: the next finalized bundle commits again
            log.warning("could not commit offset %s of %s: %s", offset, self.partition, error)


class _ReadPartitionBase(beam.DoFn):
    def __init__(self, max_out_of_orderness_s: float = 0.0, idle_timeout_s: float = 10.0,
                 consumer_config: Optional[dict[str, Any]] = None):
        self.max_out_of_orderness_ms = int(max_out_of_orderness_s * 1000)
        self.idle_timeout_s = idle_timeout_s
        self.consumer_config = dict(consumer_config or {})
        self.records_read = Metrics.counter("kafka", "records_read")
        self.commits = Metrics.counter("kafka", "offset_commits")

    def setup(self) -> None:
        self.readers: dict[tuple[str, int], _PartitionReader] = {}

    def teardown(self) -> None:
        for reader in getattr(self, "readers", {}).values():
            reader.consumer.close()

    def _reader(self, plan: PartitionPlan) -> _PartitionReader:
        key = (plan.topic, plan.partition)
        if key not in self.readers:
            self.readers[key] = _PartitionReader(plan, self.consumer_config)
        return self.readers[key]

    def _read(self, plan, tracker, watermark_estimator, bundle_finalizer, unbounded: bool) -> Iterable[Any]:
        reader = self._reader(plan)
        restriction = tracker.current_restriction()
        reader.seek(restriction.start)
        next_offset = restriction.start
        deadline = time.monotonic() + SLICE_S
        while True:
            records = reader.poll()
            for record in records:
                if not tracker.try_claim(record.offset):
                    self._finalize(reader, bundle_finalizer, next_offset, watermark_estimator)
                    return
                next_offset = record.offset + 1
                self.records_read.inc()
                Metrics.distribution("kafka_timestamps", f"{record.topic}/{record.partition}").update(record.timestamp)
                if reader.max_timestamp_ms is None or record.timestamp > reader.max_timestamp_ms:
                    reader.max_timestamp_ms = record.timestamp
                yield TimestampedValue(
                    KafkaRecord(record.topic, record.partition, record.offset, record.key, record.value, record.timestamp),
                    record.timestamp / 1000.0,
                )
            position = reader.consumer.position(reader.partition)
            if not unbounded and position >= restriction.stop:
                tracker.try_claim(restriction.stop)  # gaps (compaction) end the range too
                self._finalize(reader, bundle_finalizer, restriction.stop, watermark_estimator)
                return
            if unbounded:
                self._advance_watermark(reader, watermark_estimator, got_records=bool(records))
                if time.monotonic() >= deadline:
                    self._finalize(reader, bundle_finalizer, max(next_offset, restriction.start), watermark_estimator)
                    tracker.defer_remainder(Duration.of(0.0 if records else 0.2))
                    return

    def _advance_watermark(self, reader: _PartitionReader, estimator, got_records: bool) -> None:
        candidate = None
        if reader.max_timestamp_ms is not None:
            candidate = reader.max_timestamp_ms - self.max_out_of_orderness_ms
        if got_records or not reader.at_end():
            reader.idle_since = None
        elif reader.idle_since is None:
            reader.idle_since = time.monotonic()
        elif time.monotonic() - reader.idle_since >= self.idle_timeout_s:
            wall = int(time.time() * 1000) - self.max_out_of_orderness_ms
            candidate = wall if candidate is None else max(candidate, wall)
        if candidate is None:
            return
        current = estimator.current_watermark()
        proposed = Timestamp(micros=candidate * 1000)
        if current is None or proposed > current:
            estimator.set_watermark(proposed)

    def _finalize(self, reader: _PartitionReader, bundle_finalizer, offset: int, estimator) -> None:
        # Bounded reads (no estimator) commit from the driver once the whole run has succeeded.
        if estimator is None or reader.consumer.config.get("group_id") is None:
            return
        watermark = estimator.current_watermark()
        watermark_ms = None
        if watermark is not None and watermark.micros > -(2**62):
            watermark_ms = watermark.micros // 1000

        def commit() -> None:
            reader.commit(offset, watermark_ms)
            self.commits.inc()

        bundle_finalizer.register(commit)


class ReadPartitionFn(_ReadPartitionBase):
    """Bounded: a PartitionPlan in, the records of [start, stop) out."""

    # Beam passes the restriction and watermark parameters by keyword: they must come last.
    def process(
        self,
        plan: PartitionPlan,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(PartitionRestrictionProvider()),
    ) -> Iterable[Any]:
        yield from self._read(plan, tracker, None, bundle_finalizer, unbounded=False)


class ReadPartitionUnboundedFn(_ReadPartitionBase):
    """Unbounded: a PartitionPlan in, its records out for as long as the pipeline runs."""

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        plan: PartitionPlan,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(PartitionRestrictionProvider()),
        watermark_estimator=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterable[Any]:
        yield from self._read(plan, tracker, watermark_estimator, bundle_finalizer, unbounded=True)


class ReadFromKafkaPartitions(beam.PTransform):
    """PBegin -> KafkaRecords of the planned partitions (bounded when every plan has a stop)."""

    def __init__(self, plans: list[PartitionPlan], max_out_of_orderness_s: float = 0.0,
                 idle_timeout_s: float = 10.0, consumer_config: Optional[dict[str, Any]] = None):
        super().__init__()
        if not plans:
            raise ValueError("no Kafka partitions to read: does the topic exist?")
        self.plans = plans
        self.unbounded = any(plan.stop is None for plan in plans)
        self.options = dict(max_out_of_orderness_s=max_out_of_orderness_s, idle_timeout_s=idle_timeout_s,
                            consumer_config=consumer_config)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        reader = ReadPartitionUnboundedFn if self.unbounded else ReadPartitionFn
        return (
            pbegin
            | "Partitions" >> beam.Create(self.plans)
            | "ReadPartitions" >> beam.ParDo(reader(**self.options))
        )
