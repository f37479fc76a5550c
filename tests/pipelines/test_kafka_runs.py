"""The pipeline reading a real Kafka broker: bounded replays in-process, streaming as the CLI runs it."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from helpers import DAY_MS, HOUR_MS, T0
from pipelines.kafka_runs import KafkaSourceSettings, commit_bounded_run, plan_read
from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.event_files import write_events
from producers.kafka_producer import EventPublisher
from producers.synthetic import CommunitySpec, generate_community
from schemas import wire
from transforms.decode import ReadEventFiles, ReadEventsFromKafka
from transforms.kafka_source import ReadFromKafkaPartitions
from warehouse import open_warehouse

SCORE_COLUMNS = ("site", "author_id", "reader_id", "window_start", "reader_comments", "author_replies",
                 "reader_active_days", "reply_latency_p50_s", "reply_rate", "reciprocity", "mentor_score",
                 "first_interaction_at", "last_interaction_at")
SMALL = CommunitySpec(seed=21, sites=1, authors_per_site=6, readers_per_site=50, planted_per_site=8, days=40)


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


def bounded_run(bootstrap, topic, warehouse, group="bounded"):
    source = KafkaSourceSettings(bootstrap, topic, group_id=group, until_end=True)
    settings = RunSettings(warehouse=warehouse)
    plan = plan_read(source, settings)
    summary = run_scoring(ReadEventsFromKafka(ReadFromKafkaPartitions(plan.plans)), settings,
                          on_success=lambda result: commit_bounded_run(source, plan, result))
    return summary, plan


def test_a_bounded_run_gives_exactly_the_scores_of_the_same_events_from_a_file(kafka_broker, topic, tmp_path):
    events = generate_community(SMALL).events
    sent = publish(kafka_broker.bootstrap, topic, events)
    summary, plan = bounded_run(kafka_broker.bootstrap, topic, str(tmp_path / "kafka.duckdb"))
    assert summary.records_in == sent == len(events)
    assert summary.balanced and plan.replay_fence_ms is None
    expected = file_scores(events, tmp_path)
    assert scores_of(str(tmp_path / "kafka.duckdb")) == expected and len(expected) > 100


def test_a_second_bounded_run_of_the_same_group_resumes_without_double_counting(kafka_broker, topic, tmp_path):
    events = generate_community(SMALL).events
    half = len(events) // 2
    publish(kafka_broker.bootstrap, topic, events[:half])
    warehouse = str(tmp_path / "kafka.duckdb")
    first, _ = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    publish(kafka_broker.bootstrap, topic, events[half:])
    second, plan = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    assert second.records_in == len(events)  # it replays what the topic retains: one long run
    assert scores_of(warehouse) == file_scores(events, tmp_path)


def test_poison_messages_become_dead_letters_with_their_offsets(kafka_broker, topic, tmp_path):
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    good = generate_community(SMALL).events[:200]
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    truncated = wire.encode(dict(good[0]))[:-4]
    poison = [b"\x13\x37 random bytes \xff", truncated, b"\x00\x00\x00\x00\x63" + wire.encode(dict(good[0])), None]
    for value in poison:
        producer.send(topic, key=b"poison", value=value, timestamp_ms=T0)
    producer.flush()
    producer.close()
    publish(kafka_broker.bootstrap, topic, good)
    warehouse = str(tmp_path / "kafka.duckdb")
    summary, _ = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    assert summary.records_in == len(good) + len(poison) and summary.balanced
    columns, rows = open_warehouse(warehouse).export("dead_letters")
    dead = {r[columns.index("origin")]: r for r in rows}
    for offset, kind in enumerate(["PARSE_ERROR", "PARSE_ERROR", "UNKNOWN_SCHEMA_ID", "EMPTY_PAYLOAD"]):
        row = dead[f"kafka:{topic}/0@{offset}"]
        assert row[columns.index("error_kind")] == kind
        assert json.loads(row[columns.index("raw_payload")])["key_b64"] == "cG9pc29u"  # b"poison"
    assert summary.scored > 0


# --- streaming, as an operator runs it: the CLI in its own process, on Prism -------------------

def start_streaming(bootstrap, topic, warehouse, group, idle="300s", extra=()):
    command = [sys.executable, "-m", "pipelines.cli", "run", "--source", "kafka", "--streaming",
               "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", group,
               "--warehouse", warehouse, "--idle-timeout", idle, "--early-firing", "1s", *extra]
    log = open(f"{warehouse}.{group}.{time.monotonic_ns()}.log", "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log.name
    return process


def stop(process, sig=signal.SIGTERM):
    """End the pipeline as an operator would (SIGTERM to it, or SIGKILL to it and Prism, its child)."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        process.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    try:  # whatever of the group is left (Prism, after a clean exit too)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return open(process.log_path).read()


def wait_for(condition, timeout_s, process, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the pipeline exited while waiting for {what}:\n{open(process.log_path).read()[-4000:]}")
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}:\n{open(process.log_path).read()[-4000:]}")


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


@pytest.mark.slow
def test_streaming_rows_appear_while_running_and_late_events_update_their_window(kafka_broker, topic, tmp_path,
                                                                                  prism_binary):
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    warehouse = str(tmp_path / "stream.duckdb")
    day2 = T0 + DAY_MS
    publish(kafka_broker.bootstrap, topic, [
        ev("p1", "POST", "a", T0 + 8 * HOUR_MS),
        ev("c1", "COMMENT", "r", T0 + 9 * HOUR_MS, "p1"),
        ev("r1", "REPLY", "a", T0 + 10 * HOUR_MS, "c1"),
    ])
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "live",
                              extra=("--window", "1d", "--dedupe-horizon", "3d"))
    try:
        # the second day's events move the watermark past the first day's window
        publish(kafka_broker.bootstrap, topic, [
            ev("p2", "POST", "a", day2 + 8 * HOUR_MS, thread="t2"),
            ev("c2", "COMMENT", "r", day2 + 9 * HOUR_MS, "p2", thread="t2"),
        ])
        row = wait_for(lambda: (r := pair_row(warehouse, T0)) and r["pane_timing"] == "ON_TIME" and r, 240, process,
                       "the first day's on-time row")
        assert (row["reader_comments"], row["author_replies"]) == (1, 1)
        # a late comment on the first day, within the allowed lateness, updates that window
        publish(kafka_broker.bootstrap, topic, [ev("c3", "COMMENT", "r", T0 + 15 * HOUR_MS, "p1")])
        on_time_index = row["pane_index"]
        row = wait_for(lambda: (r := pair_row(warehouse, T0)) and r["reader_comments"] == 2 and r, 120, process,
                       "the late pane")
        # A later pane of the same window. (Prism labels it ON_TIME, not LATE: the pane timing of late
        # firings is pinned on the DirectRunner in tests/transforms/test_windowing.py.)
        assert row["pane_index"] > on_time_index and row["author_replies"] == 1
    finally:
        output = stop(process)
    assert "Run summary" in output


def committed_offsets(bootstrap, topic, group):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum((consumer.committed(tp) or 0) for tp in tps)
    finally:
        consumer.close()


@pytest.mark.slow
def test_a_hard_killed_pipeline_restarts_from_its_group_without_loss_or_double_counting(kafka_broker, topic, tmp_path,
                                                                                        prism_binary):
    events = generate_community(SMALL).events
    half = len(events) // 2
    expected = file_scores(events, tmp_path)
    warehouse = str(tmp_path / "stream.duckdb")
    publish(kafka_broker.bootstrap, topic, events[:half])
    first = start_streaming(kafka_broker.bootstrap, topic, warehouse, "restart", idle="5s")
    wait_for(lambda: committed_offsets(kafka_broker.bootstrap, topic, "restart") > 0, 240, first, "a commit")
    stop(first, signal.SIGKILL)  # no goodbye: in-flight windows are lost with the process
    publish(kafka_broker.bootstrap, topic, events[half:])
    second = start_streaming(kafka_broker.bootstrap, topic, warehouse, "restart", idle="5s")
    try:
        wait_for(lambda: scores_of(warehouse) == expected, 300, second, "the scores of an uninterrupted run")
    finally:
        stop(second)


@pytest.mark.slow
def test_the_pipeline_survives_a_broker_restart_and_catches_up(tmp_path, prism_binary):
    from services.kafka_broker import KafkaBroker
    from services.maven import free_port

    broker = KafkaBroker(state_dir=tmp_path / "kafka", port=free_port())
    broker.start()
    try:
        events = generate_community(SMALL).events
        half = len(events) // 2
        expected = file_scores(events, tmp_path)
        warehouse = str(tmp_path / "stream.duckdb")
        publish(broker.bootstrap, "events", events[:half])
        # No idle timeout here: with historical event times, an idle partition's watermark would jump
        # to the wall clock while the broker is away, and the second half would all be too late.
        process = start_streaming(broker.bootstrap, "events", warehouse, "survivor", idle="3600s")
        try:
            wait_for(lambda: committed_offsets(broker.bootstrap, "events", "survivor") > 0, 240, process, "a commit")
            broker.stop()
            time.sleep(5)
            assert process.poll() is None, "the pipeline died with the broker"
            broker.start()
            publish(broker.bootstrap, "events", events[half:])
            # The last days stay open (no idle timeout); every window the watermark has closed must
            # hold exactly the scores of the uninterrupted batch run.
            cutoff = datetime.datetime.utcfromtimestamp(max(e["created_at"] for e in events) / 1000 - 9 * 86400)
            closed = [row for row in expected if row[3] < cutoff]
            wait_for(lambda: [r for r in scores_of(warehouse) if r[3] < cutoff] == closed, 300, process,
                     "catching up after the restart")
            assert len(closed) > 50
        finally:
            stop(process)
    finally:
        broker.stop()
