from kafka import KafkaConsumer, TopicPartition

from producers.kafka_producer import EventPublisher, message_key
from schemas import wire
from helpers import T0, record


def test_the_broker_answers_and_reports_its_status(kafka_broker):
    assert kafka_broker.is_ready()
    status = kafka_broker.status()
    assert "running" in status and kafka_broker.bootstrap in status
    assert kafka_broker.start() == kafka_broker.bootstrap  # starting a running broker is a no-op


def _consume_all(bootstrap, topic, expected):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    got = []
    for _ in range(50):
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(records)
        if len(got) >= expected:
            break
    consumer.close()
    return got


def test_events_are_keyed_by_thread_timestamped_by_event_time_and_decodable(kafka_broker, topic):
    records = [record(event_id=f"e{i}", item_id=f"c{i}", thread_id=f"t{i % 2}", created_at=T0 + i) for i in range(6)]
    with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
        report = publisher.publish_all(records, progress=None)
    assert (report.sent, report.failed) == (6, 0)
    got = _consume_all(kafka_broker.bootstrap, topic, 6)
    assert sorted(m.key for m in got) == sorted(message_key(r) for r in records)
    assert sorted(m.timestamp for m in got) == [T0 + i for i in range(6)]
    by_partition = {}
    for message in got:  # one thread's events share a partition, in order
        by_partition.setdefault(message.key, set()).add(message.partition)
        assert wire.decode(message.value)["event_id"].startswith("e")
    assert all(len(p) == 1 for p in by_partition.values())


def test_confluent_framing_carries_the_schema_id(kafka_broker, topic):
    with EventPublisher(kafka_broker.bootstrap, topic, wire_format=wire.CONFLUENT, schema_id=42) as publisher:
        publisher.publish_all([record()], progress=None)
    (message,) = _consume_all(kafka_broker.bootstrap, topic, 1)
    assert message.value[:5] == b"\x00\x00\x00\x00\x2a"
    assert wire.decode(message.value, frozenset({42}))["event_id"] == "e1"


def test_invalid_records_are_counted_not_sent(kafka_broker, topic):
    with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
        report = publisher.publish_all([record(), record(kind="LIKE"), record(actor_id="")], progress=None)
    assert (report.sent, report.failed) == (1, 2)
    assert report.reasons == {"UNKNOWN_KIND": 1, "MISSING_FIELD": 1}
