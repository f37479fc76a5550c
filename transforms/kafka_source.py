"""Read Kafka with a splittable DoFn over kafka-python: a topic's partitions as the restriction,
(partition, offset) as positions (:mod:`transforms.kafka_positions`).

``ReadFromKafkaPartitions`` takes a plan (one :class:`PartitionPlan` per partition: where to start,
where to stop or None for unbounded) and outputs :class:`KafkaRecord`, timestamped with the record's
Kafka timestamp (our producer sets it to the event's created_at).

Watermark: the oldest partition's newest record timestamp, minus ``max_out_of_orderness_s`` (default
:data:`DEFAULT_MAX_OUT_OF_ORDERNESS_S`). A
partition with nothing new for ``idle_timeout_s`` while at its end offset is idle and stops holding
the watermark back; when every partition is idle the watermark follows the wall clock (minus the same
bound), so windows close when traffic stops.

Progress: when a bundle is finalized (its output safely handed to the runner), the consumer group's
offsets are committed as progress (consumer lag); a restart never resumes from them (see
:mod:`pipelines.kafka_runs`).

Stopping: :data:`STOP_READING` (set by the run's signal handler, in the same process as the SDK
worker on the local runners) makes an unbounded read end at the positions reached, with no residual:
the runner then advances the watermark to the end of time, every pending window fires and is
written, and the pipeline finishes.

A bounded read that gets nothing from Kafka for ``PartitionPlan.timeout_s`` fails with
:class:`KafkaUnreachable` (it prints progress every few seconds while it waits).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Duration, Timestamp

import transforms.beam_workarounds  # noqa: F401  (a split of a quiet read must not fail the run)
from transforms.kafka_consumer import (DEFAULT_MAX_OUT_OF_ORDERNESS_S, POLL_MS, PROGRESS_EVERY_S, KafkaRecord,
                                       KafkaUnreachable, PartitionPlan, TopicReader, unreachable_message)
from transforms.kafka_positions import STOP_HERE, TopicPositionsTracker, TopicRestrictionProvider

log = logging.getLogger(__name__)
progress_log = logging.getLogger("social_mentors.progress")

SLICE_S = 1.0  # how long one unbounded process() call reads before it checkpoints

# Set by the run's SIGINT/SIGTERM handler: unbounded reads end where they are, so the stream drains.
STOP_READING = threading.Event()


class _ReadTopicBase(beam.DoFn):
    def __init__(self, max_out_of_orderness_s: float = DEFAULT_MAX_OUT_OF_ORDERNESS_S, idle_timeout_s: float = 10.0,
                 consumer_config: Optional[dict[str, Any]] = None):
        self.max_out_of_orderness_ms = int(max_out_of_orderness_s * 1000)
        self.idle_timeout_s = idle_timeout_s
        self.consumer_config = dict(consumer_config or {})
        self.records_read = Metrics.counter("kafka", "records_read")
        self.commits = Metrics.counter("kafka", "offset_commits")
        self.broker_errors = Metrics.counter("kafka", "broker_unavailable")

    def setup(self) -> None:
        self.readers: dict[tuple, TopicReader] = {}

    def teardown(self) -> None:
        for reader in getattr(self, "readers", {}).values():
            reader.consumer.close()

    def _reader(self, plans: tuple, partitions: Optional[tuple[int, ...]] = None) -> TopicReader:
        """The consumer of ``partitions`` (default: every planned one), kept for the next call."""
        key = (plans[0].topic, partitions)
        if key not in self.readers:
            self.readers[key] = TopicReader(plans, self.consumer_config, partitions)
        return self.readers[key]

    def _claimed(self, reader: TopicReader, batches: dict, tracker: Any, positions: dict[int, int],
                 watermark_ms: Optional[int] = None) -> Iterable[TimestampedValue]:
        """The polled records the restriction claims, in offset order per partition; ``positions``
        follow them. Counted once a poll, as the file decoder counts once a range (a counter call
        a record is not free)."""
        claimed = 0
        for records in batches.values():
            for record in records:
                if not tracker.try_claim((record.partition, record.offset)):
                    break
                positions[record.partition] = record.offset + 1
                claimed += 1
                yield self._emit(reader, record, watermark_ms)
        self.records_read.inc(claimed)

    def _emit(self, reader: TopicReader, record: Any, watermark_ms: Optional[int] = None) -> TimestampedValue:
        newest = reader.max_timestamp_ms.get(record.partition)
        if newest is None or record.timestamp > newest:
            reader.max_timestamp_ms[record.partition] = record.timestamp
        return TimestampedValue(
            KafkaRecord(record.topic, record.partition, record.offset, record.key, record.value, record.timestamp,
                        watermark_ms),
            record.timestamp / 1000.0,
        )


class ReadTopicFn(_ReadTopicBase):
    """Bounded: the planned partitions in, the records of each [start, stop) out.

    Kafka being away is waited out (kafka-python reconnects by itself) for at most the plan's
    ``timeout_s`` without a record or a position moving, with a progress line every few seconds;
    then the run fails with :class:`KafkaUnreachable`.
    """

    # Beam passes the restriction parameter by keyword: it must come last.
    def process(
        self,
        plans: tuple,
        tracker=beam.DoFn.RestrictionParam(TopicRestrictionProvider()),
    ) -> Iterable[Any]:
        from kafka.errors import KafkaError

        timeout_s = plans[0].timeout_s
        last_progress = reported = time.monotonic()
        stops = dict(tracker.current_restriction().stops)
        positions = dict(tracker.current_restriction().starts)
        reader = None
        while reader is None:
            try:
                # the restriction's partitions only: a bounded read is split per partition
                reader = self._reader(plans, tuple(sorted(stops)))
            except KafkaError as error:  # no broker to bootstrap from: wait, within the timeout
                now = time.monotonic()
                if now - last_progress >= timeout_s:
                    raise KafkaUnreachable(unreachable_message(plans[0].bootstrap_servers, timeout_s)) from error
                progress_log.info("no answer from Kafka at %s for %.0f s; waiting up to %.0f s",
                                  plans[0].bootstrap_servers, now - last_progress, timeout_s)
                time.sleep(1.0)
        reader.seek(positions)
        while not all(positions[p] >= stop for p, stop in stops.items()):
            before = dict(positions)
            try:
                batches = reader.poll()
            except KafkaError as error:  # the broker is away: wait it out, within the timeout
                log.debug("Kafka poll failed: %s", error)
                batches = {}
                time.sleep(POLL_MS / 1000)
            yield from self._claimed(reader, batches, tracker, positions)
            for partition, stop in stops.items():
                position = reader.position(partition)
                if position is not None and position >= stop > positions[partition]:  # offset gaps at the end
                    tracker.try_claim((partition, stop - 1))  # the gap up to the stop is read
                    positions[partition] = stop
            now = time.monotonic()
            if positions != before:
                last_progress = reported = now
            elif now - last_progress >= timeout_s:
                raise KafkaUnreachable(unreachable_message(reader.bootstrap_servers, timeout_s))
            elif now - reported >= PROGRESS_EVERY_S:
                reported = now
                done = sum(positions[p] >= stop for p, stop in stops.items())
                progress_log.info("no answer from Kafka at %s for %.0f s (%d of %d partitions read); waiting up "
                                  "to %.0f s", reader.bootstrap_servers, now - last_progress, done, len(stops),
                                  timeout_s)


class ReadTopicUnboundedFn(_ReadTopicBase):
    """Unbounded: the planned partitions in, their records out until :data:`STOP_READING` is set.

    Each process() call reads for about a second, then checkpoints (the runner resumes it); when the
    run is stopping, it ends at the positions reached instead, so the stream drains.
    """

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        plans: tuple,
        bundle_finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(TopicRestrictionProvider()),
        watermark_estimator=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterable[Any]:
        from kafka.errors import IllegalStateError, KafkaError

        if STOP_READING.is_set():
            self._stop(plans, tracker, bundle_finalizer, dict(tracker.current_restriction().starts))
            return
        try:
            yield from self._read_slice(plans, tracker, watermark_estimator, bundle_finalizer)
        except IllegalStateError:
            # The consumer was closed under us: the runner is tearing this DoFn down (cancel).
            tracker.defer_remainder(Duration.of(2.0))
        except KafkaError as error:
            # The broker is away (restarting, say): keep the positions reached and try again soon;
            # kafka-python reconnects by itself.
            log.warning("Kafka unavailable (%s); retrying in 2 s", error)
            self.broker_errors.inc()
            tracker.defer_remainder(Duration.of(2.0))

    def _read_slice(self, plans, tracker, watermark_estimator, bundle_finalizer) -> Iterable[Any]:
        reader = self._reader(plans)
        positions = dict(tracker.current_restriction().starts)
        reader.seek(positions)
        deadline = time.monotonic() + SLICE_S
        while True:
            if STOP_READING.is_set():
                self._stop(plans, tracker, bundle_finalizer, positions)
                return
            batches = reader.poll()
            watermark = watermark_estimator.current_watermark()
            watermark_ms = None if watermark is None or watermark <= MIN_TIMESTAMP else watermark.micros // 1000
            yield from self._claimed(reader, batches, tracker, positions, watermark_ms)
            self._advance_watermark(reader, watermark_estimator, {tp.partition for tp, r in batches.items() if r})
            if time.monotonic() >= deadline:
                self._commit_when_finalized(reader, bundle_finalizer, positions)
                tracker.defer_remainder(Duration.of(0.0 if batches else 0.2))
                return

    def _stop(self, plans, tracker: TopicPositionsTracker, bundle_finalizer, positions: dict[int, int]) -> None:
        """End the read here (no residual), and commit the positions reached once they are safe."""
        tracker.try_claim(STOP_HERE)
        reader = getattr(self, "readers", {}).get(plans[0].topic)
        if reader is not None:
            self._commit_when_finalized(reader, bundle_finalizer, positions, last=True)
        log.info("stopped reading %s at %s", plans[0].topic, positions)

    def _advance_watermark(self, reader: TopicReader, estimator, active: set[int]) -> None:
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

    def _commit_when_finalized(self, reader: TopicReader, bundle_finalizer, positions: dict[int, int],
                               last: bool = False) -> None:
        """Commit the positions as progress once the runner has durably taken this bundle's output
        (waiting for the broker only for the last commit of a stopping stream)."""
        if reader.consumer.config.get("group_id") is None:
            return
        snapshot = dict(positions)

        def commit() -> None:
            reader.commit(snapshot, wait=last)
            self.commits.inc()

        bundle_finalizer.register(commit)


class ReadFromKafkaPartitions(beam.PTransform):
    """PBegin -> KafkaRecords of the planned partitions of one topic (bounded when every plan stops)."""

    def __init__(self, plans: list[PartitionPlan], max_out_of_orderness_s: float = DEFAULT_MAX_OUT_OF_ORDERNESS_S,
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
