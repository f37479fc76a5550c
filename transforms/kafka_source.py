"""Read Kafka with a splittable DoFn over kafka-python: a topic's partitions as the restriction,
(partition, offset) as positions.

``ReadFromKafkaPartitions`` takes a plan (one :class:`PartitionPlan` per partition: where to start,
where to stop or None for unbounded) and outputs :class:`KafkaRecord`, timestamped with the record's
Kafka timestamp (our producer sets it to the event's created_at).

Watermark: the oldest partition's newest record timestamp, minus ``max_out_of_orderness_s``. A
partition with nothing new for ``idle_timeout_s`` while at its end offset is idle and stops holding
the watermark back; when every partition is idle the watermark follows the wall clock (minus the same
bound), so windows close when traffic stops.

Progress: when a bundle is finalized (its output safely handed to the runner), the consumer group's
offsets are committed, marked as progress: they show how far the pipeline has read (consumer lag),
but windows of those records may not have fired yet, so a restart never resumes from them (see
:mod:`pipelines.kafka_runs`).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterable, NamedTuple, Optional

import apache_beam as beam
from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.metrics import Metrics
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms.kafka_security import KafkaSecurity, client_kwargs

log = logging.getLogger(__name__)

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
    """Read ``topic``/``partition`` from ``start`` to ``stop`` (exclusive; None = unbounded).

    ``security`` travels with the plan to the workers: it names where the password is (environment
    variable or file), never holds it; each worker reads it when it opens its consumer."""

    bootstrap_servers: str
    topic: str
    partition: int
    start: int
    stop: Optional[int]
    group_id: Optional[str]
    security: Optional[KafkaSecurity] = None


class TopicRestriction(NamedTuple):
    """Per partition, the next offset to read and (bounded) the offset to stop before."""

    starts: tuple[tuple[int, int], ...]
    stops: Optional[tuple[tuple[int, int], ...]]


class TopicPositionsTracker(RestrictionTracker):
    """Claims (partition, offset) positions of one topic; splits only at the current positions.

    One restriction covers every partition of the topic, so one watermark estimator sees them all:
    the topic's watermark is the oldest partition's, which a per-partition restriction cannot give on
    Prism (a partition that has not started yet did not hold back the others).
    """

    def __init__(self, restriction: TopicRestriction):
        self._restriction = restriction
        self._positions = dict(restriction.starts)
        self._stops = dict(restriction.stops) if restriction.stops is not None else None
        self._checkpointed = False

    def current_restriction(self) -> TopicRestriction:
        return self._restriction

    def positions(self) -> dict[int, int]:
        return dict(self._positions)

    def try_claim(self, position: tuple[int, int]) -> bool:
        partition, offset = position
        if self._checkpointed:
            return False
        if self._stops is not None and offset >= self._stops[partition]:
            return False
        self._positions[partition] = max(self._positions[partition], offset + 1)
        return True

    def finish_partition(self, partition: int) -> None:
        """Bounded: the partition's consumer is at or past its stop (offset gaps included)."""
        if self._stops is not None:
            self._positions[partition] = max(self._positions[partition], self._stops[partition])

    def try_split(self, fraction_of_remainder: float):
        if fraction_of_remainder != 0 or self._checkpointed:
            return None
        current = tuple(sorted(self._positions.items()))
        primary = TopicRestriction(self._restriction.starts, current)
        residual = TopicRestriction(current, self._restriction.stops)
        self._restriction = primary
        self._checkpointed = True
        return primary, residual

    def check_done(self) -> None:
        if self._checkpointed:
            return
        if self._stops is None:
            raise ValueError("an unbounded Kafka read must end with a checkpoint")
        behind = {p: (self._positions[p], stop) for p, stop in self._stops.items() if self._positions[p] < stop}
        if behind:
            raise ValueError(f"partitions not read to their stop offsets: {behind}")

    def current_progress(self) -> RestrictionProgress:
        done = sum(self._positions[p] - start for p, start in self._restriction.starts)
        if self._stops is None:
            return RestrictionProgress(completed=done, remaining=1)
        remaining = sum(max(0, stop - self._positions[p]) for p, stop in self._stops.items())
        return RestrictionProgress(completed=done, remaining=remaining)

    def is_bounded(self) -> bool:
        return self._stops is not None


class TopicRestrictionProvider(RestrictionProvider):
    def initial_restriction(self, plans: tuple) -> TopicRestriction:
        starts = tuple((p.partition, p.start) for p in plans)
        if any(p.stop is None for p in plans):
            return TopicRestriction(starts, None)
        return TopicRestriction(starts, tuple((p.partition, p.stop) for p in plans))

    def create_tracker(self, restriction: TopicRestriction) -> TopicPositionsTracker:
        return TopicPositionsTracker(restriction)

    def split(self, plans: tuple, restriction: TopicRestriction) -> Iterable[TopicRestriction]:
        yield restriction

    def restriction_size(self, plans: tuple, restriction: TopicRestriction) -> int:
        if restriction.stops is None:
            return 1
        starts = dict(restriction.starts)
        return sum(max(0, stop - starts[p]) for p, stop in restriction.stops)

    def truncate(self, plans: tuple, restriction: TopicRestriction) -> None:
        return None  # on drain, stop reading at once


# Commit metadata says which kind of run committed. A bounded run commits after everything it read is
# in the warehouse, so its watermark is a safe place to resume from. A streaming run commits when a
# source bundle is finalized, before the windows of those records have fired: its offsets measure
# progress (consumer lag), never a resume point.
FINAL = "watermark_ms"
PROGRESS = "progress_watermark_ms"


def commit_metadata(watermark_ms: Optional[int], final: bool = True) -> str:
    return json.dumps({FINAL if final else PROGRESS: watermark_ms})


def parse_commit_metadata(metadata: Optional[str]) -> dict[str, Any]:
    """The metadata this pipeline committed ({} for offsets committed by anyone else)."""
    try:
        parsed = json.loads(metadata or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) and (FINAL in parsed or PROGRESS in parsed) else {}


class _TopicReader:
    """One kafka-python consumer assigned to every planned partition, kept across process() calls."""

    def __init__(self, plans: tuple, consumer_config: dict[str, Any]):
        from kafka import KafkaConsumer, TopicPartition

        first = plans[0]
        self.topic = first.topic
        self.partitions = {p.partition: TopicPartition(p.topic, p.partition) for p in plans}
        self.consumer = KafkaConsumer(
            bootstrap_servers=first.bootstrap_servers,
            group_id=first.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **{**client_kwargs(first.security, "consumer"), **consumer_config},
        )
        self.consumer.assign(list(self.partitions.values()))
        self.max_timestamp_ms: dict[int, int] = {}
        self.idle_since: dict[int, float] = {}

    def seek(self, positions: dict[int, int]) -> None:
        for partition, offset in positions.items():
            tp = self.partitions[partition]
            if self.consumer.position(tp) != offset:
                self.consumer.seek(tp, offset)

    def poll(self) -> dict:
        return self.consumer.poll(timeout_ms=POLL_MS, max_records=1000)

    def position(self, partition: int) -> int:
        return self.consumer.position(self.partitions[partition])

    def at_end(self, partition: int) -> bool:
        tp = self.partitions[partition]
        highwater = self.consumer.highwater(tp)
        return highwater is not None and self.consumer.position(tp) >= highwater

    def data_watermark_ms(self, max_out_of_orderness_ms: int) -> Optional[int]:
        """The oldest partition's newest timestamp (minus the bound), over partitions that have data."""
        if not self.max_timestamp_ms:
            return None
        return min(self.max_timestamp_ms.values()) - max_out_of_orderness_ms

    def commit(self, positions: dict[int, int], watermark_ms: Optional[int]) -> None:
        from kafka.structs import OffsetAndMetadata

        offsets = {self.partitions[p]: OffsetAndMetadata(offset, commit_metadata(watermark_ms, final=False), -1)
                   for p, offset in positions.items()}
        try:
            self.consumer.commit(offsets)
        except Exception as error:  # a broker restart: the next finalized bundle commits again
            log.warning("could not commit offsets of %s: %s", self.topic, error)


class _ReadTopicBase(beam.DoFn):
    def __init__(self, max_out_of_orderness_s: float = 0.0, idle_timeout_s: float = 10.0,
                 consumer_config: Optional[dict[str, Any]] = None):
        self.max_out_of_orderness_ms = int(max_out_of_orderness_s * 1000)
        self.idle_timeout_s = idle_timeout_s
        self.consumer_config = dict(consumer_config or {})
        self.records_read = Metrics.counter("kafka", "records_read")
        self.commits = Metrics.counter("kafka", "offset_commits")
        self.broker_errors = Metrics.counter("kafka", "broker_unavailable")

    def setup(self) -> None:
        self.readers: dict[str, _TopicReader] = {}

    def teardown(self) -> None:
        for reader in getattr(self, "readers", {}).values():
            reader.consumer.close()

    def _reader(self, plans: tuple) -> _TopicReader:
        topic = plans[0].topic
        if topic not in self.readers:
            self.readers[topic] = _TopicReader(plans, self.consumer_config)
        return self.readers[topic]

    def _read(self, plans, tracker, watermark_estimator, bundle_finalizer, unbounded: bool) -> Iterable[Any]:
        from kafka.errors import IllegalStateError, KafkaError

        try:
            yield from self._read_slice(plans, tracker, watermark_estimator, bundle_finalizer, unbounded)
        except IllegalStateError:
            if not unbounded:
                raise
            # The consumer was closed under us: the runner is tearing this DoFn down (cancel).
            tracker.defer_remainder(Duration.of(2.0))
        except KafkaError as error:
            if not unbounded:
                raise  # a bounded run fails and is retried by the runner
            # The broker is away (restarting, say): keep the positions reached and try again soon;
            # kafka-python reconnects by itself.
            log.warning("Kafka unavailable (%s); retrying in 2 s", error)
            self.broker_errors.inc()
            tracker.defer_remainder(Duration.of(2.0))

    def _read_slice(self, plans, tracker, watermark_estimator, bundle_finalizer, unbounded: bool) -> Iterable[Any]:
        reader = self._reader(plans)
        restriction = tracker.current_restriction()
        stops = dict(restriction.stops) if restriction.stops is not None else None
        positions = dict(restriction.starts)
        reader.seek(positions)
        deadline = time.monotonic() + SLICE_S
        while True:
            batches = reader.poll()
            for tp, records in batches.items():
                for record in records:
                    if not tracker.try_claim((record.partition, record.offset)):
                        break
                    positions[record.partition] = record.offset + 1
                    self.records_read.inc()
                    newest = reader.max_timestamp_ms.get(record.partition)
                    if newest is None or record.timestamp > newest:
                        reader.max_timestamp_ms[record.partition] = record.timestamp
                    Metrics.distribution("kafka_timestamps", f"{record.topic}/{record.partition}").update(record.timestamp)
                    yield TimestampedValue(
                        KafkaRecord(record.topic, record.partition, record.offset, record.key, record.value,
                                    record.timestamp),
                        record.timestamp / 1000.0,
                    )
            if not unbounded:
                for partition, stop in stops.items():
                    if reader.position(partition) >= stop:
                        tracker.try_claim((partition, stop - 1)) if stop > 0 else None
                        positions[partition] = max(positions[partition], stop)
                if all(positions[p] >= stop for p, stop in stops.items()):
                    return
                continue
            self._advance_watermark(reader, watermark_estimator, {tp.partition for tp, r in batches.items() if r})
            if time.monotonic() >= deadline:
                self._commit_when_finalized(reader, bundle_finalizer, positions)
                tracker.defer_remainder(Duration.of(0.0 if batches else 0.2))
                return

    def _advance_watermark(self, reader: _TopicReader, estimator, active: set[int]) -> None:
        now = time.monotonic()
        considered = []
        for partition in reader.partitions:
            if partition in active or not reader.at_end(partition):
                reader.idle_since.pop(partition, None)
            else:
                reader.idle_since.setdefault(partition, now)
            idle = now - reader.idle_since.get(partition, now) >= self.idle_timeout_s
            if idle:
                continue  # a quiet partition stops holding the watermark back
            newest = reader.max_timestamp_ms.get(partition)
            if newest is None:
                return  # a partition with data still to read and none read yet holds the watermark
            considered.append(newest - self.max_out_of_orderness_ms)
        if considered:
            candidate = min(considered)
        else:  # every partition is idle: follow the wall clock
            candidate = int(time.time() * 1000) - self.max_out_of_orderness_ms
        current = estimator.current_watermark()
        proposed = Timestamp(micros=candidate * 1000)
        if current is None or proposed > current:
            estimator.set_watermark(proposed)

    def _commit_when_finalized(self, reader: _TopicReader, bundle_finalizer, positions: dict[int, int]) -> None:
        """Commit the positions as progress, with the data watermark (never the idle, wall-clock one),
        once the runner has durably taken this bundle's output."""
        if reader.consumer.config.get("group_id") is None:
            return
        watermark_ms = reader.data_watermark_ms(self.max_out_of_orderness_ms)
        snapshot = dict(positions)

        def commit() -> None:
            reader.commit(snapshot, watermark_ms)
            self.commits.inc()

        bundle_finalizer.register(commit)


class ReadTopicFn(_ReadTopicBase):
    """Bounded: the planned partitions in, the records of each [start, stop) out."""

    # Beam passes the restriction and watermark parameters by keyword: they must come last.
    def process(
        self,
        plans: tuple,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(TopicRestrictionProvider()),
    ) -> Iterable[Any]:
        yield from self._read(plans, tracker, None, bundle_finalizer, unbounded=False)


class ReadTopicUnboundedFn(_ReadTopicBase):
    """Unbounded: the planned partitions in, their records out for as long as the pipeline runs."""

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        plans: tuple,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(TopicRestrictionProvider()),
        watermark_estimator=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterable[Any]:
        yield from self._read(plans, tracker, watermark_estimator, bundle_finalizer, unbounded=True)


class ReadFromKafkaPartitions(beam.PTransform):
    """PBegin -> KafkaRecords of the planned partitions of one topic (bounded when every plan stops)."""

    def __init__(self, plans: list[PartitionPlan], max_out_of_orderness_s: float = 0.0,
                 idle_timeout_s: float = 10.0, consumer_config: Optional[dict[str, Any]] = None):
        super().__init__()
        if not plans:
            raise ValueError("no Kafka partitions to read: does the topic exist?")
        if len({p.topic for p in plans}) != 1:
            raise ValueError("one ReadFromKafkaPartitions reads one topic")
        self.plans = tuple(plans)
        self.unbounded = any(plan.stop is None for plan in plans)
        self.options = dict(max_out_of_orderness_s=max_out_of_orderness_s, idle_timeout_s=idle_timeout_s,
                            consumer_config=consumer_config)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        reader = ReadTopicUnboundedFn if self.unbounded else ReadTopicFn
        return (
            pbegin
            | "Topic" >> beam.Create([self.plans])
            | "ReadTopic" >> beam.ParDo(reader(**self.options))
        )
