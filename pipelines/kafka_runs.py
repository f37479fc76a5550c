"""Kafka as a source: where each partition starts and stops, and what is committed when.

Guarantee: at-least-once into the pipeline, exactly-once in the warehouse's scores. Every write is
keyed by (pair, window) and every score is recomputed deterministically from the events, so reading
an event twice can overwrite a row with the same value but never add to it.

* Bounded runs commit the stop offsets, with the data watermark W they reached, after the whole run
  succeeded: everything they read is in the warehouse then. The next bounded run of the group resumes
  there. The oldest window that may still change starts at the fence F = align(W - window -
  allowed_lateness); the run re-reads from the first offset with a timestamp at or after
  F - dedupe_horizon (Kafka looks it up by timestamp). Events older than F are context: they fill
  dedupe and parent resolution as before, but are not scored again; every window from F on is
  recomputed from all of its events.
* Streaming runs commit offsets when a source bundle is finalized, marked as progress. Those records
  are safe in the runner, not in the warehouse: their windows may not have fired when the process
  dies, and on the DirectRunner or Prism window state lives in memory. So a streaming run (and a
  bounded run after one) starts from the earliest retained offsets and recomputes everything it
  replays: after a crash, the restarted pipeline converges to exactly the uninterrupted run's scores.
  The price is replay time proportional to the topic's retention (see deploy/kafka for sizing).
* Offsets committed by other tools (no metadata of ours) are respected as the start.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipelines.settings import RunSettings
from schemas import wire
from transforms.kafka_source import FINAL, PROGRESS, PartitionPlan, commit_metadata, parse_commit_metadata

DEFAULT_GROUP = "social-mentors"


@dataclasses.dataclass(frozen=True)
class KafkaSourceSettings:
    bootstrap_servers: str
    topic: str
    group_id: str = DEFAULT_GROUP
    until_end: bool = False  # bounded: stop at the end offsets seen at start
    stop_at_ms: Optional[int] = None  # bounded: stop before the first record at or after this time
    accepted_schema_ids: frozenset[int] = dataclasses.field(default_factory=wire.known_schema_ids)
    idle_timeout_s: float = 10.0
    max_out_of_orderness_s: float = 0.0

    @property
    def bounded(self) -> bool:
        return self.until_end or self.stop_at_ms is not None


@dataclasses.dataclass
class KafkaReadPlan:
    plans: list[PartitionPlan]
    replay_fence_ms: Optional[int]
    committed_watermarks: dict[int, Optional[int]]

    def describe(self) -> str:
        parts = ", ".join(
            f"p{p.partition} {p.start}..{'' if p.stop is None else p.stop}" for p in self.plans)
        if self.replay_fence_ms is not None:
            return f"partitions {parts}; resuming, events before {self.replay_fence_ms} ms are context"
        return f"partitions {parts}"


def _consumer(source: KafkaSourceSettings) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=source.bootstrap_servers, group_id=source.group_id,
                         enable_auto_commit=False, request_timeout_ms=30_000)


def align_down(millis: int, window_ms: int) -> int:
    return millis - millis % window_ms


def plan_read(source: KafkaSourceSettings, settings: RunSettings) -> KafkaReadPlan:
    """Start and stop offsets of every partition, and the replay fence for a resumed group."""
    consumer = _consumer(source)
    try:
        partitions = consumer.partitions_for_topic(source.topic)
        if not partitions:
            raise ValueError(
                f"topic {source.topic!r} does not exist on {source.bootstrap_servers}: produce to it first "
                "(social-mentors produce ...) or check --topic")
        tps = [TopicPartition(source.topic, p) for p in sorted(partitions)]
        beginnings = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        committed = {tp: consumer.committed(tp, metadata=True) for tp in tps}
        metadata = {tp: parse_commit_metadata(c.metadata) if c else {} for tp, c in committed.items()}
        watermarks = {tp.partition: metadata[tp].get(FINAL) for tp in tps}
        starts: dict[TopicPartition, int] = {}
        fence = None
        known = [w for w in watermarks.values() if w is not None]
        progress_only = any(PROGRESS in m for m in metadata.values())
        if not source.bounded or progress_only:
            starts = dict(beginnings)  # replay: see the module docstring
        elif known:
            window_ms = int(settings.window_s * 1000)
            fence = align_down(min(known) - window_ms - int(settings.allowed_lateness_s * 1000), window_ms)
            replay_from = fence - int(settings.dedupe_horizon_s * 1000)
            found = consumer.offsets_for_times({tp: max(0, replay_from) for tp in tps})
            for tp in tps:
                by_time = found[tp].offset if found.get(tp) else ends[tp]
                resume = committed[tp].offset if committed[tp] else beginnings[tp]
                starts[tp] = max(beginnings[tp], min(by_time, resume))
        else:
            for tp in tps:
                starts[tp] = committed[tp].offset if committed[tp] else beginnings[tp]
        stops: dict[TopicPartition, Optional[int]] = {tp: None for tp in tps}
        if source.stop_at_ms is not None:
            found = consumer.offsets_for_times({tp: source.stop_at_ms for tp in tps})
            stops = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}
        elif source.until_end:
            stops = dict(ends)
        plans = [
            PartitionPlan(source.bootstrap_servers, source.topic, tp.partition, starts[tp],
                          None if stops[tp] is None else max(starts[tp], stops[tp]), source.group_id)
            for tp in tps
        ]
        return KafkaReadPlan(plans, fence, watermarks)
    finally:
        consumer.close()


def commit_bounded_run(source: KafkaSourceSettings, plan: KafkaReadPlan, result: Any) -> None:
    """After a bounded run succeeded: commit each partition's stop offset and data watermark."""
    from apache_beam.metrics.metric import MetricsFilter

    newest: dict[int, int] = {}
    for dist in result.metrics().query(MetricsFilter().with_namespace("kafka_timestamps"))["distributions"]:
        topic, partition = dist.key.metric.name.rsplit("/", 1)
        value = dist.committed or dist.attempted
        if topic == source.topic and value and value.count:
            newest[int(partition)] = max(newest.get(int(partition), value.max), value.max)
    offsets = {}
    for p in plan.plans:
        watermark = newest.get(p.partition, plan.committed_watermarks.get(p.partition))
        offsets[TopicPartition(p.topic, p.partition)] = OffsetAndMetadata(p.stop, commit_metadata(watermark), -1)
    consumer = _consumer(source)
    try:
        consumer.commit(offsets)
    finally:
        consumer.close()
