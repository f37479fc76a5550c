"""How far a consumer group is behind on a topic: per partition the committed offset, the end
offset and the lag, for ``social-mentors status``. Read-only: nothing is committed or consumed.

In: bootstrap servers, topic, group id and the Kafka security settings. Out: one
:class:`PartitionLag` per partition, in partition order.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from transforms.kafka_security import KafkaSecurity, client_kwargs


class PartitionLag(NamedTuple):
    partition: int
    committed: Optional[int]  # None: the group never committed on this partition
    beginning: int
    end: int

    @property
    def lag(self) -> int:
        """Records not yet committed: from the committed offset (or the oldest retained) to the end."""
        return self.end - max(self.committed if self.committed is not None else self.beginning, self.beginning)


def consumer_lag(bootstrap_servers: str, topic: str, group_id: str,
                 security: Optional[KafkaSecurity] = None) -> list[PartitionLag]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False,
                             **{"request_timeout_ms": 30_000, **client_kwargs(security, "consumer")})
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"no topic {topic!r} at {bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = consumer.end_offsets(tps)
        beginnings = consumer.beginning_offsets(tps)
        return [PartitionLag(tp.partition, consumer.committed(tp), beginnings[tp], ends[tp]) for tp in tps]
    finally:
        consumer.close()
