"""The Kafka source on the real batch runner: a bounded read that cannot reach its broker fails in
the plan's time with a one-line message the CLI can show."""
import time

import apache_beam as beam
import pytest

from services.maven import free_port
from transforms.kafka_consumer import KafkaUnreachable, PartitionPlan, unreachable_line, unreachable_message
from transforms.kafka_source import ReadFromKafkaPartitions


def test_a_bounded_read_from_a_port_where_nothing_listens_fails_in_the_plan_s_time():
    bootstrap = f"127.0.0.1:{free_port()}"
    plans = [PartitionPlan(bootstrap, "t", 0, 0, 10, None, timeout_s=6)]
    started = time.monotonic()
    with pytest.raises(Exception) as failure:
        with beam.Pipeline("FnApiRunner") as pipeline:
            _ = pipeline | ReadFromKafkaPartitions(plans)
    assert time.monotonic() - started < 60
    # The runner wraps the source's error in its own; the CLI shows just this line.
    assert unreachable_line(failure.value) == unreachable_message(bootstrap, 6)
    assert unreachable_line(failure.value).startswith(f"cannot reach Kafka at {bootstrap} for 6 s: is the broker")


def test_unreachable_line_finds_the_message_only_where_it_is():
    wrapped = RuntimeError("Traceback ...\n  File x\nKafkaUnreachable: " + unreachable_message("h:1", 60) + "\n\nmore")
    assert unreachable_line(wrapped) == unreachable_message("h:1", 60)
    assert unreachable_line(KafkaUnreachable(unreachable_message("h:1", 5))) == unreachable_message("h:1", 5)
    assert unreachable_line(RuntimeError("something else")) is None


def test_kafka_python_checks_record_batch_crcs_with_the_c_crc32c():
    # setup.py asks for kafka-python[crc32c]: without it every fetched batch's CRC was computed in
    # pure Python, a tenth of a bounded Kafka run's CPU (README, "The bounded Kafka read")
    from kafka.record import util

    assert util._crc32c is not util.crc32c_py
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # CRC-32C's check value


def test_a_bounded_read_counts_every_record_it_read_and_decoded_once(kafka_broker, topic):
    # The read and the decoder count per poll and per bundle (not per record): the totals must still
    # be each record once, tombstones and malformed values among them, over several partitions.
    from apache_beam.metrics.metric import MetricsFilter
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from helpers import record
    from pipelines.kafka_runs import KafkaSourceSettings, plan_read
    from schemas import wire
    from transforms.decode import ReadEventsFromKafka
    from transforms.events import PARSE_ERROR

    bootstrap = kafka_broker.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for n in range(2500):
        value = (None if n % 500 == 7 else b"\x02garbage" if n % 500 == 9
                 else wire.encode(record(event_id=f"e{n}", item_id=f"i{n}")))
        producer.send(topic, key=f"k{n % 11}".encode(), value=value, partition=n % 3)
    producer.flush()
    producer.close()
    plans = plan_read(KafkaSourceSettings(bootstrap_servers=bootstrap, topic=topic, group_id="counted",
                                           until_end=True)).plans
    pipeline = beam.Pipeline("FnApiRunner")
    _ = pipeline | ReadEventsFromKafka(ReadFromKafkaPartitions(plans))
    result = pipeline.run()
    result.wait_until_finish()

    def counter(namespace, name):
        found = result.metrics().query(MetricsFilter().with_namespace(namespace).with_name(name))["counters"]
        return sum(c.committed for c in found)

    assert counter("kafka", "records_read") == 2500
    assert (counter("decode", "records_read"), counter("decode", "events_decoded"),
            counter("decode", "dead_lettered")) == (2500, 2490, 10)
    assert (counter("dead_letters", "EMPTY_PAYLOAD"), counter("dead_letters", PARSE_ERROR)) == (5, 5)
