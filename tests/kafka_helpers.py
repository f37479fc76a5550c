"""Helpers of the Kafka tests: publishing, reading the warehouse back, offsets, a broker of their own."""
import pytest
from kafka import KafkaConsumer, TopicPartition

from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.event_files import write_events
from producers.kafka_producer import EventPublisher
from producers.synthetic import CommunitySpec
from transforms.decode import ReadEventFiles
from warehouse import open_warehouse

SCORE_COLUMNS = ("site", "author_id", "reader_id", "window_start", "reader_comments", "author_replies",
                 "author_replies_by_window_end", "reader_active_days", "reply_latency_p50_s", "reply_rate", "reciprocity", "mentor_score",
                 "first_interaction_at", "last_interaction_at", "reply_latency_p50_s_by_window_end",
                 "mentor_score_by_window_end", "last_interaction_at_by_window_end")
# Answers within 2 days: none comes after its comment's week plus the default 2 days of allowed
# lateness, so a stream (which counts such replies as late) must end with exactly the batch scores.
SMALL = CommunitySpec(seed=21, sites=1, authors_per_site=6, readers_per_site=50, planted_per_site=8, days=40,
                      max_delay_s=2 * 86_400)


def scores_of(warehouse_url):
    columns, rows = open_warehouse(warehouse_url).export("pair_scores")
    picked = [columns.index(c) for c in SCORE_COLUMNS]
    return sorted(tuple(r[i] for i in picked) for r in rows)


def file_scores(events, tmp_path):
    path = tmp_path / "same-events.avro"
    write_events(path, events)
    warehouse = str(tmp_path / "from-file.duckdb")
    run_scoring(ReadEventFiles([str(path)]), RunSettings(warehouse=warehouse))
    return scores_of(warehouse)


def publish(bootstrap, topic, events):
    with EventPublisher(bootstrap, topic) as publisher:
        report = publisher.publish_all(events, progress=None)
    assert report.failed == 0
    return report.sent


def committed_offsets(bootstrap, topic, group):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum((consumer.committed(tp) or 0) for tp in tps)
    finally:
        consumer.close()


def rewind_group(bootstrap, topic, group):
    """Set the group's committed offsets back to 0, so a wait on them measures the next process's
    reading, not a killed one's (our reads assign partitions: the group has no members to refuse it)."""
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.commit({tp: OffsetAndMetadata(0, "", -1) for tp in tps})
    finally:
        consumer.close()


def topic_end(bootstrap, topic):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def pair_row(warehouse, window_start):
    columns, rows = open_warehouse(warehouse).query("history", {"author": "a", "reader": "r", "site": None})
    for row in rows:
        if row[columns.index("window_start")].timestamp() * 1000 == window_start:
            return dict(zip(columns, row))
    return None


def ev(item, kind, actor, at, parent=None, parent_actor=None, thread="t1"):
    return {"event_id": f"s:{item}", "kind": kind, "site": "s", "thread_id": thread, "item_id": item,
            "parent_id": parent, "actor_id": actor, "parent_actor_id": parent_actor, "created_at": at,
            "parent_created_at": None}


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory):
    """A broker these tests stop and start, apart from the session's."""
    from services.kafka_broker import KafkaBroker
    from services.maven import free_port

    broker = KafkaBroker(state_dir=tmp_path_factory.mktemp("own-kafka"), port=free_port())
    broker.start()
    yield broker
    broker.stop()
