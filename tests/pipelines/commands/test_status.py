"""`social-mentors status` against a real broker: a known lag per partition, the newest window and
the last hour's dead letters."""
import datetime as dt
import re

import pytest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from helpers import T0, score_row
from pipelines.cli import main
from warehouse import open_warehouse


def test_status_shows_the_lag_of_each_partition_the_newest_window_and_recent_dead_letters(
        kafka_broker, topic, warehouse_path, capsys):
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    for partition, count in ((0, 5), (1, 3), (2, 0)):
        for n in range(count):
            producer.send(topic, value=b"x%d" % n, partition=partition)
    producer.flush()
    producer.close()
    group = "status-test"
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=group, enable_auto_commit=False)
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1)})  # 3 behind; partition 1 never committed
    consumer.close()

    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores([score_row("a", "r", T0 + 7 * 86400_000, 0.5)])
    now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    warehouse.write_dead_letters([
        {"origin": f"kafka:{topic}/0@{n}", "error_kind": "PARSE_ERROR", "message": "bad", "arrived_at": now_ms, "run_started_at": T0}
        for n in range(2)] + [
        {"origin": "old:1", "error_kind": "BAD_TIMESTAMP", "message": "old", "arrived_at": now_ms - 2 * 3600_000, "run_started_at": T0}])

    assert main(["status", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic, "--group-id", group,
                 "--warehouse", warehouse_path]) == 0
    out = capsys.readouterr().out
    rows = {int(m[0]): m[1:] for m in re.findall(r"^(\d)\s+(\S+)\s+(\d+)\s+(\d+)$", out, re.M)}
    assert rows == {0: ("2", "5", "3"), 1: ("-", "3", "3"), 2: ("-", "0", "0")}, out
    assert "total lag 6" in out
    newest_end = dt.datetime.fromtimestamp((T0 + 7 * 86400_000) / 1000, dt.timezone.utc).replace(tzinfo=None)
    assert f"{newest_end.isoformat(timespec='seconds')}Z (ended " in out
    assert "dead letters in the last 60 min: 2 (PARSE_ERROR: 2)" in out


def test_the_newest_window_still_open_is_said_to_end_in_so_long_not_to_have_ended_in_the_past():
    # Outside probe: a live stream's current week printed "(ended -2.4 d ago)".
    from pipelines.commands.status import window_end_note

    now = dt.datetime(2026, 11, 27, 12, 0)
    assert window_end_note(dt.datetime(2026, 11, 30), now) == "still open: it ends in 2.5 d"
    assert window_end_note(dt.datetime(2026, 11, 23), now) == "ended 4.5 d ago"
    assert window_end_note(None, now) == "-"


def test_status_of_a_missing_topic_is_a_clear_error(kafka_broker, topic, tmp_path, capsys):
    assert main(["status", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                 "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert f"no topic '{topic}'" in capsys.readouterr().err


def test_with_the_broker_down_status_still_shows_the_warehouse_then_fails_naming_the_broker(warehouse_path, capsys):
    # Outside probe: with no broker, status showed nothing, though the warehouse is what an operator
    # wants to see then (is anything still being written?).
    import socket

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
    open_warehouse(warehouse_path).write_scores([score_row("a", "r", T0 + 7 * 86400_000, 0.5)])
    assert main(["status", "--bootstrap-servers", address, "--topic", "t", "--warehouse", warehouse_path]) == 2
    captured = capsys.readouterr()
    assert f"Kafka {address} topic t" in captured.out and "not reachable" in captured.out
    assert f"Warehouse {warehouse_path}" in captured.out and "newest window" in captured.out
    (line,) = captured.err.splitlines()
    assert address in line


@pytest.mark.parametrize("kind", ["duckdb", "bigquery"])
def test_a_replayed_dead_letter_is_counted_once(kind, tmp_path, request, capsys):
    # an outside probe: status counted the raw dead_letters table, so a replay of the same input (the
    # same records dead-lettered again under a new run) doubled the count export and report show once.
    import socket

    url = str(tmp_path / "status.duckdb") if kind == "duckdb" else request.getfixturevalue("empty_bigquery_url")
    warehouse = open_warehouse(url)
    warehouse.prepare()
    now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    for run in (T0, T0 + 3600_000):  # the first run, then its replay
        warehouse.write_dead_letters([
            {"origin": f"events.jsonl:{n}", "error_kind": "PARSE_ERROR", "message": "bad", "arrived_at": now_ms,
             "run_started_at": run} for n in (3, 9)])
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
    assert main(["status", "--bootstrap-servers", address, "--topic", "t", "--warehouse", url]) == 2
    out = capsys.readouterr().out
    assert "dead letters in the last 60 min: 2 (PARSE_ERROR: 2)" in out, out
