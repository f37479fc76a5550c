"""Kafka as a source: where each partition starts and stops, and what is committed when.

Every run, bounded or streaming, reads each partition from its earliest retained offset and
recomputes every window from all retained events, exactly as one long run would: dedupe and parent
resolution see everything retained, so a restart, a tombstone stamped "now" or a backfill of old
events produced after an earlier run can never hide events from the scores. Rows are upserted by
(pair, window), so reading an event again rewrites a row with the same value and never adds to it.

The consumer group's committed offsets are progress only (consumer lag): a bounded run commits its
stop offsets after it succeeded, a streaming run the positions of each finalized source bundle, and
when it is stopped (Ctrl-C, SIGTERM) its final positions. The plan reports how many records lie below
them, i.e. are read again. The cost is replay time proportional to the topic's retention (see
deploy/kafka for sizing).

Kafka being away is bounded in time for a bounded run: planning (and reading, see
:mod:`transforms.kafka_source`) waits at most ``timeout_s`` for the broker, printing progress every
few seconds, then fails with :class:`KafkaUnreachable`. A shorter outage (a broker restart) costs
only its own length.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any, Callable, Optional, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from schemas import wire
from transforms.kafka_security import KafkaSecurity, client_kwargs
from transforms.kafka_consumer import (
    CONSUMER_CONFIG, DEFAULT_MAX_OUT_OF_ORDERNESS_S, PROGRESS_EVERY_S, KafkaUnreachable, PartitionPlan, commit_metadata,
    unreachable_message,
)

DEFAULT_GROUP = "social-mentors"
DEFAULT_TIMEOUT_S = 60.0

progress_log = logging.getLogger("social_mentors.progress")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class KafkaSourceSettings:
    bootstrap_servers: str
    topic: str
    group_id: str = DEFAULT_GROUP
    until_end: bool = False  # bounded: stop at the end offsets seen at start
    stop_at_ms: Optional[int] = None  # bounded: stop before the first record at or after this time
    accepted_schema_ids: frozenset[int] = dataclasses.field(default_factory=wire.known_schema_ids)
    idle_timeout_s: float = 10.0
    max_out_of_orderness_s: float = DEFAULT_MAX_OUT_OF_ORDERNESS_S
    timeout_s: float = DEFAULT_TIMEOUT_S  # how long a bounded run waits for an unreachable broker
    security: Optional[KafkaSecurity] = None  # TLS/SASL of every client, secrets by reference

    @property
    def bounded(self) -> bool:
        return self.until_end or self.stop_at_ms is not None


@dataclasses.dataclass
class KafkaReadPlan:
    plans: list[PartitionPlan]
    reread: int = 0  # records below the group's committed offsets: read again, not new

    def describe(self) -> str:
        parts = ", ".join(
            f"p{p.partition} {p.start}..{'' if p.stop is None else p.stop}" for p in self.plans)
        if self.reread:
            return (f"partitions {parts}; re-reading {self.reread:,} records below the group's committed "
                    "offsets (every window is recomputed from all retained events)")
        return f"partitions {parts}"


def _consumer(source: KafkaSourceSettings, timeout_s: float) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=source.bootstrap_servers, group_id=source.group_id,
                         enable_auto_commit=False, bootstrap_timeout_ms=max(1000, int(timeout_s * 1000)),
                         **{**CONSUMER_CONFIG, **client_kwargs(source.security, "consumer")})


def with_kafka(source: KafkaSourceSettings, what: str, work: Callable[[KafkaConsumer], T]) -> T:
    """``work(consumer)``, retried while Kafka does not answer, for at most ``source.timeout_s``.

    kafka-python blocks without a deadline in some metadata calls when the broker is away, so each
    attempt runs in a daemon thread and this one keeps the time (and prints progress meanwhile).
    """
    from kafka.errors import KafkaError

    started = time.monotonic()
    deadline = started + source.timeout_s
    reported = started
    while True:
        outcome: dict[str, Any] = {}

        def attempt() -> None:
            try:
                consumer = _consumer(source, min(5.0, max(0.5, deadline - time.monotonic())))
            except Exception as error:  # noqa: BLE001 - reported to the waiting thread
                outcome["error"] = error
                return
            try:
                outcome["value"] = work(consumer)
            except Exception as error:  # noqa: BLE001
                outcome["error"] = error
            finally:
                consumer.close()

        thread = threading.Thread(target=attempt, name=f"kafka-{what}", daemon=True)
        thread.start()
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            if thread.is_alive() and time.monotonic() - reported >= PROGRESS_EVERY_S:
                reported = time.monotonic()
                progress_log.info("waiting for Kafka at %s to %s (%.0f s of %.0f s)", source.bootstrap_servers,
                                  what, reported - started, source.timeout_s)
        if "value" in outcome:
            return outcome["value"]
        error = outcome.get("error")
        if error is not None and not isinstance(error, KafkaError):
            raise error  # not a connection problem: a missing topic, a bug
        if time.monotonic() >= deadline:
            raise KafkaUnreachable(unreachable_message(source.bootstrap_servers, source.timeout_s))
        if time.monotonic() - reported >= PROGRESS_EVERY_S:
            reported = time.monotonic()
            progress_log.info("no answer from Kafka at %s yet (%.0f s of %.0f s): %s", source.bootstrap_servers,
                              reported - started, source.timeout_s, error)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def plan_read(source: KafkaSourceSettings) -> KafkaReadPlan:
    """Start (the earliest retained offset) and stop offsets of every partition of the topic."""
    return with_kafka(source, "plan the read", lambda consumer: _plan(consumer, source))


def _plan(consumer: KafkaConsumer, source: KafkaSourceSettings) -> KafkaReadPlan:
    timeout_ms = 10_000
    partitions = consumer.partitions_for_topic(source.topic)
    if not partitions:
        raise ValueError(
            f"topic {source.topic!r} does not exist on {source.bootstrap_servers}: produce to it first "
            "(social-mentors produce ...) or check --topic")
    tps = [TopicPartition(source.topic, p) for p in sorted(partitions)]
    starts = consumer.beginning_offsets(tps, timeout_ms=timeout_ms)
    ends = consumer.end_offsets(tps, timeout_ms=timeout_ms)
    committed = {tp: consumer.committed(tp, timeout_ms=timeout_ms) for tp in tps}
    reread = sum(max(0, min(committed[tp], ends[tp]) - starts[tp]) for tp in tps if committed[tp] is not None)
    stops: dict[TopicPartition, Optional[int]] = {tp: None for tp in tps}
    if source.stop_at_ms is not None:
        found = consumer.offsets_for_times({tp: source.stop_at_ms for tp in tps}, timeout_ms=timeout_ms)
        stops = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}
    elif source.until_end:
        stops = dict(ends)
    plans = [
        PartitionPlan(source.bootstrap_servers, source.topic, tp.partition, starts[tp],
                      None if stops[tp] is None else max(starts[tp], stops[tp]), source.group_id, source.timeout_s,
                      security=source.security)
        for tp in tps
    ]
    return KafkaReadPlan(plans, reread)


def commit_bounded_run(source: KafkaSourceSettings, plan: KafkaReadPlan) -> None:
    """After a bounded run succeeded: commit each partition's stop offset (progress: consumer lag)."""
    offsets = {TopicPartition(p.topic, p.partition): OffsetAndMetadata(p.stop, commit_metadata("bounded"), -1)
               for p in plan.plans}
    with_kafka(source, "commit the offsets", lambda consumer: consumer.commit(offsets, timeout_ms=10_000))
