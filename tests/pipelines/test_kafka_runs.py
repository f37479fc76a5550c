"""Bounded Kafka runs against a real broker, in-process: scores equal a file run's, every run recomputes
from everything retained (tombstones, backfills, old parents), poison messages become dead letters,
and an unreachable broker fails the run in the configured time with one line."""
import json
import time

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from helpers import DAY_MS, HOUR_MS, T0
from kafka_helpers import (SMALL, committed_offsets, ev, file_scores, own_broker, pair_row, publish,  # noqa: F401,F811
                           scores_of)
from pipelines.kafka_runs import KafkaSourceSettings, commit_bounded_run, plan_read
from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.synthetic import generate_community
from schemas import wire
from transforms.decode import ReadEventsFromKafka
from transforms.kafka_source import ReadFromKafkaPartitions
from warehouse import open_warehouse


def bounded_run(bootstrap, topic, warehouse, group="bounded"):
    source = KafkaSourceSettings(bootstrap, topic, group_id=group, until_end=True)
    plan = plan_read(source)
    summary = run_scoring(ReadEventsFromKafka(ReadFromKafkaPartitions(plan.plans)), RunSettings(warehouse=warehouse),
                          on_success=lambda result: commit_bounded_run(source, plan))
    return summary, plan


def test_a_bounded_run_gives_exactly_the_scores_of_the_same_events_from_a_file(kafka_broker, topic, tmp_path):
    events = generate_community(SMALL).events
    sent = publish(kafka_broker.bootstrap, topic, events)
    summary, plan = bounded_run(kafka_broker.bootstrap, topic, str(tmp_path / "kafka.duckdb"))
    assert summary.records_in == sent == len(events)
    assert summary.balanced and plan.reread == 0
    expected = file_scores(events, tmp_path)
    assert scores_of(str(tmp_path / "kafka.duckdb")) == expected and len(expected) > 100


def test_a_second_bounded_run_of_the_same_group_recomputes_from_everything_retained(kafka_broker, topic, tmp_path):
    events = generate_community(SMALL).events
    half = len(events) // 2
    publish(kafka_broker.bootstrap, topic, events[:half])
    warehouse = str(tmp_path / "kafka.duckdb")
    bounded_run(kafka_broker.bootstrap, topic, warehouse)
    publish(kafka_broker.bootstrap, topic, events[half:])
    second, plan = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    assert plan.reread == half  # the first run's records, read again below the committed offsets
    assert second.records_in == len(events) and second.balanced and not second.skipped.get("replay_context")
    assert committed_offsets(kafka_broker.bootstrap, topic, "bounded") == len(events)
    assert scores_of(warehouse) == file_scores(events, tmp_path)


def test_a_tombstone_stamped_now_does_not_hide_older_events_produced_after_it(kafka_broker, topic, tmp_path):
    """Issue 9, item 1: a tombstone (Kafka stamps it "now") used to become the resume watermark, and
    the 41 valid older events produced after it were all skipped as replay context."""
    events = sorted(generate_community(SMALL).events, key=lambda e: e["created_at"])
    early, late = events[:-41], events[-41:]
    publish(kafka_broker.bootstrap, topic, early)
    warehouse = str(tmp_path / "kafka.duckdb")
    bounded_run(kafka_broker.bootstrap, topic, warehouse)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)  # any tool: timestamp = now
    producer.send(topic, key=b"some/thread", value=None).get(timeout=30)
    producer.close()
    publish(kafka_broker.bootstrap, topic, late)
    second, _ = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    assert not second.skipped.get("replay_context")
    assert second.records_in == len(events) + 1 and second.dead_letters["EMPTY_PAYLOAD"] == 1
    assert second.balanced
    assert scores_of(warehouse) == file_scores(events, tmp_path)


def test_old_events_backfilled_into_a_live_topic_are_scored(kafka_broker, topic, tmp_path):
    """Issue 9, item 1: a backfill of events older than what a previous run saw is scored, not skipped."""
    events = sorted(generate_community(SMALL).events, key=lambda e: e["created_at"])
    third = len(events) // 3
    publish(kafka_broker.bootstrap, topic, events[third:])
    warehouse = str(tmp_path / "kafka.duckdb")
    bounded_run(kafka_broker.bootstrap, topic, warehouse)
    publish(kafka_broker.bootstrap, topic, events[:third])  # the backfill: the oldest third, afterwards
    second, _ = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    assert not second.skipped.get("replay_context") and second.balanced
    assert scores_of(warehouse) == file_scores(events, tmp_path)


def test_a_resumed_run_resolves_a_comment_on_an_old_post_as_one_long_run_does(kafka_broker, topic, tmp_path):
    """Issue 9, item 4: a comment (without parent_actor_id) on a post from long before the resume point
    was dead-lettered PARENT_UNRESOLVED by a resumed run; one long run resolves it."""
    old_post = ev("p1", "POST", "a", T0)
    traffic = [ev(f"q{d}", "POST", "x", T0 + d * DAY_MS, thread=f"t{d}") for d in range(1, 21)]
    comment = ev("c1", "COMMENT", "r", T0 + 20 * DAY_MS + HOUR_MS, "p1")  # parent_actor_id unknown
    reply = ev("r1", "REPLY", "a", T0 + 20 * DAY_MS + 2 * HOUR_MS, "c1")
    publish(kafka_broker.bootstrap, topic, [old_post, *traffic])
    warehouse = str(tmp_path / "kafka.duckdb")
    bounded_run(kafka_broker.bootstrap, topic, warehouse)
    publish(kafka_broker.bootstrap, topic, [comment, reply])
    second, _ = bounded_run(kafka_broker.bootstrap, topic, warehouse)
    assert not second.dead_letters and second.balanced
    row = pair_row(warehouse, T0 + 14 * DAY_MS)  # the week (from Monday) that holds day 20
    assert row and (row["reader_comments"], row["author_replies"]) == (1, 1)
    assert scores_of(warehouse) == file_scores([old_post, *traffic, comment, reply], tmp_path)


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




# --- Kafka away: a bounded run waits a bounded time, says so, and fails with one clear line ------

def test_planning_against_a_port_where_nothing_listens_fails_in_the_configured_time(capsys, tmp_path):
    from pipelines.cli import main
    from services.maven import free_port

    bootstrap = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    code = main(["run", "--source", "kafka", "--bootstrap-servers", bootstrap, "--topic", "t", "--until-end",
                 "--kafka-timeout", "12s", "--warehouse", str(tmp_path / "unused.duckdb")])
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code != 0 and took < 60
    assert f"error: cannot reach Kafka at {bootstrap} for 12 s: is the broker running?" in err
    assert "waiting for Kafka" in err or "no answer from Kafka" in err  # progress while it waits
    assert "Traceback" not in err


def run_with_broker_stopped_after_planning(broker, topic, warehouse, monkeypatch, back_after_s=None, timeout="15s"):
    """The CLI's bounded run, the broker stopped between planning and reading (and started again
    ``back_after_s`` later when given)."""
    import threading

    from pipelines import kafka_runs
    from pipelines.cli import main

    plan_read_for_real = kafka_runs.plan_read
    restarted = []

    def plan_then_stop_the_broker(source):
        plan = plan_read_for_real(source)
        broker.stop()
        if back_after_s is not None:
            timer = threading.Timer(back_after_s, lambda: restarted.append(broker.start()))
            timer.start()
        return plan

    monkeypatch.setattr(kafka_runs, "plan_read", plan_then_stop_the_broker)
    try:
        return main(["run", "--source", "kafka", "--bootstrap-servers", broker.bootstrap, "--topic", topic,
                     "--until-end", "--kafka-timeout", timeout, "--warehouse", warehouse])
    finally:
        deadline = time.monotonic() + 120
        while back_after_s is not None and not restarted and time.monotonic() < deadline:
            time.sleep(0.5)
        broker.start()  # a no-op when it is running


@pytest.mark.slow
def test_a_bounded_run_whose_broker_never_comes_back_fails_in_the_configured_time(own_broker, tmp_path, capsys,
                                                                               monkeypatch):
    topic = "gone"
    publish(own_broker.bootstrap, topic, generate_community(SMALL).events[:300])
    started = time.monotonic()
    code = run_with_broker_stopped_after_planning(own_broker, topic, str(tmp_path / "k.duckdb"), monkeypatch)
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code != 0
    assert f"error: cannot reach Kafka at {own_broker.bootstrap} for 15 s: is the broker running?" in err
    assert "no answer from Kafka" in err  # progress every few seconds while it waits
    assert "Traceback" not in err.split("error: cannot reach")[-1]
    assert took < 15 + 120  # bounded: the wait, start-up and the broker's own restart in the test


@pytest.mark.slow
def test_a_bounded_run_completes_after_a_short_broker_outage(own_broker, tmp_path, capsys, monkeypatch):
    topic = "outage"
    events = generate_community(SMALL).events
    publish(own_broker.bootstrap, topic, events)
    warehouse = str(tmp_path / "k.duckdb")
    code = run_with_broker_stopped_after_planning(own_broker, topic, warehouse, monkeypatch, back_after_s=5,
                                                  timeout="120s")
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    assert "no answer from Kafka" in out.err  # the wait was reported
    assert scores_of(warehouse) == file_scores(events, tmp_path)
