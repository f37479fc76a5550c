"""The consumer side of the Kafka source: what a read is planned as (``PartitionPlan``), what it
yields (``KafkaRecord``, with its origin), the kafka-python consumer behind it (``TopicReader``), and
the one-line error of a broker that does not answer (``KafkaUnreachable``).

Kept apart from the splittable DoFns of :mod:`transforms.kafka_source` because the bounded runs'
planning (:mod:`pipelines.kafka_runs`) needs these without Beam's machinery.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, NamedTuple, Optional

from transforms.kafka_security import KafkaSecurity, client_kwargs

# A record stamped this much before the newest one read is still on time. Producers on several hosts,
# their batching and retries put records seconds out of created_at order; with no allowance a caught-up
# stream reads every such record behind the watermark, and settles a reused item_id by arrival where
# a restart or a bounded run settles it by created_at (an outside probe counted a comment twice that
# way). The price: rows settle this much later.
DEFAULT_MAX_OUT_OF_ORDERNESS_S = 30.0

log = logging.getLogger(__name__)

POLL_MS = 200
PROGRESS_EVERY_S = 5.0  # how often a wait for an unreachable broker says so
# Our consumers: reconnect within a second once a broker is back (kafka-python's default backoff
# grows to 30 s, which turned a 30 s outage into a 2-minute one), and give up on an unanswered
# request (a paused broker) after 15 s, so it is sent again on a fresh connection.
CONSUMER_CONFIG: dict[str, Any] = {"reconnect_backoff_max_ms": 1000, "request_timeout_ms": 15_000}

class KafkaUnreachable(RuntimeError):
    """Kafka did not answer for the configured time."""


_UNREACHABLE = re.compile(r"cannot reach Kafka at [^\n]*")


def unreachable_message(bootstrap_servers: str, timeout_s: float) -> str:
    return (f"cannot reach Kafka at {bootstrap_servers} for {timeout_s:.0f} s: is the broker running? "
            "(check --bootstrap-servers; --kafka-timeout sets how long to wait)")


def unreachable_line(error: BaseException) -> Optional[str]:
    """The one-line KafkaUnreachable message inside a runner's error (which wraps it in tracebacks)."""
    found = _UNREACHABLE.search(str(error))
    return found.group(0) if found else None


class KafkaRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    timestamp_ms: int
    # Unbounded reads: the source's watermark when the record was read (None: bounded, or none yet);
    # the decoder turns a record older than the stream remembers into a TOO_OLD dead letter.
    watermark_ms: Optional[int] = None

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
    timeout_s: float = 60.0  # bounded: fail after this long without an answer from Kafka
    security: Optional[KafkaSecurity] = None


def commit_metadata(run_kind: str) -> str:
    """What our commits carry: which kind of run committed. Offsets are progress (consumer lag) only."""
    return json.dumps({"committed_by": "social-mentors", "run": run_kind})


class TopicReader:
    """One kafka-python consumer assigned to the planned partitions (``partitions``: some of them),
    kept across process() calls."""

    def __init__(self, plans: tuple, consumer_config: dict[str, Any], partitions: Optional[tuple[int, ...]] = None):
        from kafka import KafkaConsumer, TopicPartition

        first = plans[0]
        self.topic = first.topic
        self.bootstrap_servers = first.bootstrap_servers
        self.partitions = {p.partition: TopicPartition(p.topic, p.partition) for p in plans
                           if partitions is None or p.partition in partitions}
        self.consumer = KafkaConsumer(
            bootstrap_servers=first.bootstrap_servers,
            group_id=first.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            bootstrap_timeout_ms=int(min(first.timeout_s, PROGRESS_EVERY_S) * 1000),
            **{**CONSUMER_CONFIG, **client_kwargs(first.security, "consumer"), **consumer_config},
        )
        self.consumer.assign(list(self.partitions.values()))
        self.max_timestamp_ms: dict[int, int] = {}
        self.idle_since: dict[int, float] = {}

    def seek(self, positions: dict[int, int]) -> None:
        for partition, offset in positions.items():
            if self.position(partition) != offset:
                self.consumer.seek(self.partitions[partition], offset)

    def poll(self) -> dict:
        return self.consumer.poll(timeout_ms=POLL_MS, max_records=1000)

    def position(self, partition: int) -> Optional[int]:
        """The consumer's position, None when not known yet; never waits for the broker."""
        return self.consumer.position(self.partitions[partition], timeout_ms=0)

    def at_end(self, partition: int) -> bool:
        highwater = self.consumer.highwater(self.partitions[partition])
        position = self.position(partition)
        return highwater is not None and position is not None and position >= highwater

    def commit(self, positions: dict[int, int], wait: bool) -> None:
        """Commit as progress. Without ``wait`` it never blocks: a bundle finalization that waited on
        an absent broker made the runner ask again for a bundle already finalized (an SDK error)."""
        from kafka.structs import OffsetAndMetadata

        offsets = {self.partitions[p]: OffsetAndMetadata(offset, commit_metadata("streaming"), -1)
                   for p, offset in positions.items()}
        try:
            if wait:
                self.consumer.commit(offsets, timeout_ms=5_000)
            else:
                self.consumer.commit_async(offsets, callback=self._committed)
        except Exception as error:  # a broker restart: the next finalized bundle commits again
            log.warning("could not commit offsets of %s: %s", self.topic, error)

    def _committed(self, offsets: Any, result: Any) -> None:
        if isinstance(result, Exception):
            log.info("could not commit offsets of %s (the next bundle commits again): %s", self.topic, result)
