"""What the streaming latency benchmark (bench/streaming_latency.py) watches while a stream runs: the
consumer group's lag, the warehouse's rows (read-only, between the pipeline's writes), the load
average, and a warm-up comment that shows the pipeline is up before the clock starts."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Optional

from producers.kafka_producer import EventPublisher

ROWS_SQL = ("SELECT site, author_id, reader_id, epoch_ms(window_start), reader_comments "
            "FROM pair_scores_latest")


class ConsumerLag:
    """End offsets minus the pipeline group's committed offsets, summed over the topic's partitions."""

    def __init__(self, bootstrap: str, topic: str, group: str):
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        self.partitions = [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic))]

    def sample(self) -> tuple[int, int]:
        """(end offsets, lag) now."""
        ends = self.consumer.end_offsets(self.partitions)
        committed = sum(self.consumer.committed(tp) or 0 for tp in self.partitions)
        return sum(ends.values()), sum(ends.values()) - committed

    def close(self) -> None:
        self.consumer.close()


class WarehouseReader:
    """The stream's warehouse, read-only: every (pair, window)'s reader_comments now. DuckDB allows one
    writing process or readers, not both: each read holds a shared lock that the pipeline's next
    write waits out (and a read waits out a write), so reads are spaced (``--poll-every`` after each)."""

    def __init__(self, path: Path):
        self.path, self.warehouse = path, None

    def rows(self) -> Optional[list[tuple]]:
        """None while the file is not there yet or a writer held it past connect()'s retries."""
        from warehouse import open_warehouse

        try:
            if self.warehouse is None:
                self.warehouse = open_warehouse(str(self.path), read_only=True)
            return self.warehouse.sql(ROWS_SQL)[1]
        except Exception:
            return None


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def warm_up(bootstrap: str, topic: str, reader: WarehouseReader, pipeline: subprocess.Popen, timeout_s: float) -> float:
    """Publish one comment and wait until its row shows: the pipeline is then running. Its seconds."""
    started = time.time()
    now = int(started * 1000)
    post = {"event_id": "warm-p", "kind": "POST", "site": "warmup", "thread_id": "warm-p", "item_id": "warm-p",
            "parent_id": None, "actor_id": "warm-author", "parent_actor_id": None, "created_at": now,
            "parent_created_at": None}
    comment = dict(post, event_id="warm-c", kind="COMMENT", item_id="warm-c", parent_id="warm-p",
                   actor_id="warm-reader", created_at=now + 1)
    with EventPublisher(bootstrap, topic) as publisher:
        publisher.publish(post)
        publisher.publish(comment)
    while time.time() - started < timeout_s:
        if pipeline.poll() is not None:
            raise RuntimeError(f"the pipeline exited during start-up (code {pipeline.returncode})")
        rows = reader.rows()
        if rows and any(r[0] == "warmup" for r in rows):
            return time.time() - started
        time.sleep(1)
    raise RuntimeError(f"the warm-up comment did not show within {timeout_s:.0f} s")
