"""The streaming pipeline as an operator runs it: the CLI in its own process, on Prism, reading a real
broker; stopped with Ctrl-C or SIGTERM (it drains), killed, or with its broker restarted or paused."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from helpers import DAY_MS, HOUR_MS, T0
from kafka_helpers import (SMALL, committed_offsets, ev, file_scores, own_broker, pair_row, publish,  # noqa: F401,F811
                           rewind_group, scores_of, topic_end)
from producers.synthetic import generate_community
from warehouse import open_warehouse

# The generator delivers some records hours late and answers some comments days later; a stream counts
# an author reply that reaches a closed window as late (by design), where a batch run credits it. The
# runs compared with a batch run therefore allow lateness beyond the data's span: nothing is late.
NOTHING_LATE = ("--allowed-lateness", "30d", "--dedupe-horizon", "40d")


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
    # day 1's window closes at its end + 2 days' lateness (day 3); the stream remembers it, and every
    # event id, until the dedupe horizon (5 days) after
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "live",
                              extra=("--window", "1d", "--dedupe-horizon", "5d"))
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
        # A later pane of the same window, fired from state (transforms/panes.py), so labelled LATE.
        assert row["pane_index"] > on_time_index and row["author_replies"] == 1 and row["pane_timing"] == "LATE"
        # Day 4 moves the watermark past day 1's close: its final pane. A comment on day 1 now is TOO_LATE.
        publish(kafka_broker.bootstrap, topic, [
            ev("p4", "POST", "a", T0 + 4 * DAY_MS + 8 * HOUR_MS, thread="t4"),
            ev("c4", "COMMENT", "r", T0 + 4 * DAY_MS + 9 * HOUR_MS, "p4", thread="t4"),
        ])
        wait_for(lambda: final_pane(warehouse, T0), 240, process, "day 1's final pane")
        publish(kafka_broker.bootstrap, topic, [ev("c5", "COMMENT", "r", T0 + 16 * HOUR_MS, "p1", parent_actor="a")])
        wait_for(lambda: dead_letter_kinds(warehouse) == ["TOO_LATE"], 120, process, "the TOO_LATE dead letter")
        # Day 9 moves it past the horizon: a day-1 comment now is older than the stream remembers (its id
        # and its window are forgotten). Before TOO_OLD it was counted as scored and shown in no row.
        publish(kafka_broker.bootstrap, topic, [ev("p9", "POST", "a", T0 + 9 * DAY_MS + 8 * HOUR_MS, thread="t9")])
        wait_for(lambda: final_pane(warehouse, T0 + 4 * DAY_MS), 240, process, "day 4's final pane")
        publish(kafka_broker.bootstrap, topic, [ev("c6", "COMMENT", "r", T0 + 17 * HOUR_MS, "p1", parent_actor="a")])
        wait_for(lambda: dead_letter_kinds(warehouse) == ["TOO_LATE", "TOO_OLD"], 120, process,
                 "the TOO_OLD dead letter")
    finally:
        output = stop(process)
    assert "Run summary" in output and "balanced" in output, output[-3000:]
    assert "TOO_LATE: 1" in output and "TOO_OLD: 1" in output, output[-3000:]
    assert (pair_row(warehouse, T0)["reader_comments"], pair_row(warehouse, T0)["author_replies"]) == (2, 1)


def final_pane(warehouse, window_start):
    """Whether the warehouse holds the final pane of some pair's window starting at window_start."""
    _, rows = open_warehouse(warehouse).sql(
        f"SELECT count(*) FROM pair_scores_latest WHERE is_final_pane "
        f"AND epoch_ms(window_start) = {int(window_start)}")
    return rows[0][0] > 0


def dead_letter_kinds(warehouse):
    _, rows = open_warehouse(warehouse).sql("SELECT error_kind FROM dead_letters ORDER BY error_kind")
    return [kind for (kind,) in rows]


def read_everything_then_drain(bootstrap, topic, group, process):
    """Wait until the stream has read (and committed) the whole topic, then stop it with Ctrl-C."""
    end = topic_end(bootstrap, topic)
    wait_for(lambda: committed_offsets(bootstrap, topic, group) == end, 300, process, "every record read")
    code, output = drain(process, signal.SIGINT)
    assert code == 0 and "Traceback" not in output, output[-4000:]
    return output


# --- faults: each ends with the warehouse of one uninterrupted run --------------------------------
# No idle timeout in these (3600 s): historical event times must not meet a wall-clock watermark
# (that is issue 9, item 2); the final drain fires every window.

@pytest.mark.slow
def test_a_hard_killed_pipeline_restarts_from_its_group_without_loss_or_double_counting(kafka_broker, topic, tmp_path,
                                                                                        prism_binary):
    import random

    # in time order, so the second half is newer than the first: nothing arrives after its window
    # closed (late data is another matter: TOO_LATE), and the faults alone are tested
    events = sorted(generate_community(SMALL).events, key=lambda e: e["created_at"])
    half = len(events) // 2
    warehouse = str(tmp_path / "stream.duckdb")
    bootstrap = kafka_broker.bootstrap
    publish(bootstrap, topic, events[:half])
    for attempt in range(2):  # killed twice, at a random moment after it started reading
        # offsets are progress only (every start replays from the earliest); rewound, so that each wait
        # on them is this process's reading (CI, stop 20: the last process, with the killed one's
        # offsets already at the end, was drained while still importing Beam)
        rewind_group(bootstrap, topic, "restart")
        process = start_streaming(bootstrap, topic, warehouse, "restart", idle="3600s", extra=NOTHING_LATE)
        wait_for(lambda: committed_offsets(bootstrap, topic, "restart") > 0, 240, process, "a commit")
        time.sleep(random.uniform(0, 4))
        stop(process, signal.SIGKILL)  # no goodbye: in-flight windows are lost with the process
        if attempt == 0:
            publish(bootstrap, topic, events[half:])
    rewind_group(bootstrap, topic, "restart")
    process = start_streaming(bootstrap, topic, warehouse, "restart", idle="3600s", extra=NOTHING_LATE)
    read_everything_then_drain(bootstrap, topic, "restart", process)
    same_rows_as_the_batch_run(warehouse, events, tmp_path)


@pytest.mark.slow
def test_the_pipeline_survives_a_broker_restart_and_ends_with_the_uninterrupted_scores(own_broker, tmp_path,
                                                                                       prism_binary):
    # in time order, so the second half is newer than the first: nothing arrives after its window
    # closed (late data is another matter: TOO_LATE), and the faults alone are tested
    events = sorted(generate_community(SMALL).events, key=lambda e: e["created_at"])
    half = len(events) // 2
    warehouse = str(tmp_path / "stream.duckdb")
    publish(own_broker.bootstrap, "restarted", events[:half])
    process = start_streaming(own_broker.bootstrap, "restarted", warehouse, "survivor", idle="3600s", extra=NOTHING_LATE)
    try:
        wait_for(lambda: committed_offsets(own_broker.bootstrap, "restarted", "survivor") > 0, 240, process,
                 "a commit")
        own_broker.stop()
        time.sleep(5)
        assert process.poll() is None, "the pipeline died with the broker"
    finally:
        own_broker.start()
    publish(own_broker.bootstrap, "restarted", events[half:])
    read_everything_then_drain(own_broker.bootstrap, "restarted", "survivor", process)
    same_rows_as_the_batch_run(warehouse, events, tmp_path)


@pytest.mark.slow
def test_the_pipeline_survives_a_broker_paused_past_the_consumer_timeouts(own_broker, tmp_path, prism_binary):
    from transforms.kafka_consumer import CONSUMER_CONFIG

    # in time order, so the second half is newer than the first: nothing arrives after its window
    # closed (late data is another matter: TOO_LATE), and the faults alone are tested
    events = sorted(generate_community(SMALL).events, key=lambda e: e["created_at"])
    half = len(events) // 2
    warehouse = str(tmp_path / "stream.duckdb")
    publish(own_broker.bootstrap, "paused", events[:half])
    process = start_streaming(own_broker.bootstrap, "paused", warehouse, "paused", idle="3600s", extra=NOTHING_LATE)
    wait_for(lambda: committed_offsets(own_broker.bootstrap, "paused", "paused") > 0, 240, process, "a commit")
    pid = own_broker.pid()
    os.kill(pid, signal.SIGSTOP)  # the JVM hangs: connections stay open, nothing answers
    try:
        time.sleep(CONSUMER_CONFIG["request_timeout_ms"] / 1000 + 10)
        assert process.poll() is None, "the pipeline died with the paused broker"
    finally:
        os.kill(pid, signal.SIGCONT)
    publish(own_broker.bootstrap, "paused", events[half:])
    read_everything_then_drain(own_broker.bootstrap, "paused", "paused", process)
    same_rows_as_the_batch_run(warehouse, events, tmp_path)


# --- stopping a stream drains it -----------------------------------------------------------------

def drain(process, sig):
    """Stop the stream as an operator does: Ctrl-C in its terminal (SIGINT to the process group), or
    `kill PID` (SIGTERM to the pipeline's process); it must drain and exit by itself."""
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    try:
        process.wait(timeout=600)  # every window of the topic fires at once: slow on a loaded machine
    finally:
        output = stop(process)
    return process.returncode, output


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_a_stream_fires_writes_and_commits_everything_then_exits_0(kafka_broker, topic, tmp_path,
                                                                           prism_binary, sig):
    """Issue 9, item 9: Ctrl-C printed no summary, exited 1 with gRPC tracebacks; SIGTERM lost panes.
    With no idle timeout, no window closes by itself: only the drain can fire them."""
    events = generate_community(SMALL).events
    sent = publish(kafka_broker.bootstrap, topic, events)
    warehouse = str(tmp_path / "stream.duckdb")
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "drain", idle="3600s", extra=NOTHING_LATE)
    wait_for(lambda: committed_offsets(kafka_broker.bootstrap, topic, "drain") == sent, 240, process,
             "every record read")
    code, output = drain(process, sig)
    assert code == 0, output[-4000:]
    assert "Run summary" in output and "accounting      balanced" in output
    assert "Traceback" not in output, output[-4000:]
    assert f"records in      {sent:>12,}" in output
    assert committed_offsets(kafka_broker.bootstrap, topic, "drain") == topic_end(kafka_broker.bootstrap, topic)
    same_rows_as_the_batch_run(warehouse, events, tmp_path)  # = a bounded run of the same topic


@pytest.mark.slow
def test_a_stream_under_gnu_timeout_drains_when_the_timeout_signals_it_and_its_group(kafka_broker, topic, tmp_path,
                                                                                   prism_binary):
    """An outside probe: plain `timeout` (no --foreground) SIGTERMs the command, then its whole process
    group. Prism, then a child in that group, exited on its SIGTERM, and the second SIGTERM aborted the
    drain: exit 130, no summary, the run left RUNNING. The deployment's exact command line, with the
    timeout signalled as when it expires (it forwards a signal it receives the same way)."""
    events = generate_community(SMALL).events
    sent = publish(kafka_broker.bootstrap, topic, events)
    warehouse = str(tmp_path / "stream.duckdb")
    console_script = str(Path(sys.executable).with_name("social-mentors"))  # what a deployment runs
    command = ["timeout", "3600", console_script, "run", "--source", "kafka", "--streaming",
               "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic, "--group-id", "timeout",
               "--warehouse", warehouse, "--idle-timeout", "3600s", "--early-firing", "1s", *NOTHING_LATE]
    log = open(f"{warehouse}.timeout.log", "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log.name
    wait_for(lambda: committed_offsets(kafka_broker.bootstrap, topic, "timeout") == sent, 240, process,
             "every record read")
    process.send_signal(signal.SIGTERM)  # to `timeout`, which signals the stream, then the group
    try:
        process.wait(timeout=600)
    finally:
        output = stop(process)
    assert process.returncode == 0, output[-4000:]
    assert "accounting      balanced" in output and "Traceback" not in output, output[-4000:]
    _, rows = open_warehouse(warehouse).sql("SELECT status FROM runs")
    assert rows == [("FINISHED",)], rows
    same_rows_as_the_batch_run(warehouse, events, tmp_path)


def same_rows_as_the_batch_run(warehouse, events, tmp_path):
    """The stream's rows are the batch run's, strictly. (Issue 9: rows an author reply short, with the
    accounting balanced, came from Prism splitting stateful bundles; ``pipeline_options`` turns its
    splitting off, see tests/pipelines/test_scoring.py.)"""
    streamed, batch = scores_of(warehouse), file_scores(events, tmp_path)
    assert [row[:4] for row in streamed] == [row[:4] for row in batch]  # site, author, reader, window
    differing = [(s, b) for s, b in zip(streamed, batch) if s != b]
    assert not differing, (f"{len(differing)} of {len(batch)} rows differ from the batch run, "
                           f"first: stream {differing[0][0]} vs batch {differing[0][1]}")


@pytest.mark.slow
def test_a_stream_whose_runner_is_killed_fails_in_one_line_that_names_the_runner(kafka_broker, topic, tmp_path,
                                                                               prism_binary):
    """#13's probe: Prism got SIGTERM under a running stream; the run ended FAILED with the reason
    "_MultiThreadedRendezvous: >" after a gRPC traceback from one of Beam's threads."""
    publish(kafka_broker.bootstrap, topic, generate_community(SMALL).events)
    warehouse = str(tmp_path / "stream.duckdb")
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "runner-killed", idle="3600s")
    wait_for(lambda: committed_offsets(kafka_broker.bootstrap, topic, "runner-killed") > 0, 240, process, "a commit")
    runners = subprocess.run(["pgrep", "-P", str(process.pid), "-x", "prism"], capture_output=True, text=True)
    assert runners.stdout.split(), "no Prism process under the stream"
    for pid in runners.stdout.split():
        os.kill(int(pid), signal.SIGTERM)
    try:
        process.wait(timeout=300)
    finally:
        output = stop(process)
    assert process.returncode == 1 and "Traceback" not in output, output[-4000:]
    assert "the runner stopped answering (gRPC UNAVAILABLE" in output and "Rendezvous" not in output, output[-4000:]
    _, rows = open_warehouse(warehouse).sql("SELECT status, message FROM runs")
    assert [status for status, _ in rows] == ["FAILED"], rows


# --- a reused item_id: the same holder in every run (the outside probe) ------------------------------

def drain_then_restart(bootstrap, topic, warehouse, process, group):
    """Drain the live stream (group GROUP-live), then restart over its warehouse with a new group (the
    whole topic again); each balanced, with one DUPLICATE_ITEM. The live run's scores."""
    output = read_everything_then_drain(bootstrap, topic, f"{group}-live", process)
    assert "accounting      balanced" in output and "DUPLICATE_ITEM: 1" in output, output[-3000:]
    live = scores_of(warehouse)
    process = start_streaming(bootstrap, topic, warehouse, f"{group}-restart", idle="2s")
    output = read_everything_then_drain(bootstrap, topic, f"{group}-restart", process)
    assert "accounting      balanced" in output and "DUPLICATE_ITEM: 1" in output, output[-3000:]
    return live


def pair_totals(warehouse):
    """(author, reader) -> (reader_comments, author_replies), summed over windows: events stamped
    minutes before now may straddle a Monday."""
    totals = {}
    for row in scores_of(warehouse):
        comments, replies = totals.get((row[1], row[2]), (0, 0))
        totals[(row[1], row[2])] = (comments + row[4], replies + row[5])
    return totals


@pytest.mark.slow
def test_a_reused_item_id_is_held_by_its_first_claim_in_every_run_and_a_restart_counts_it_once(
        kafka_broker, topic, tmp_path, prism_binary):
    """The probe: comment c by r, then at a later offset another event_id reusing item c, by x; the author
    answers c. The dedupe shuffle before the resolver reorders them: before the fix, replays kept x's
    claim in some runs, and a restart over an earlier run's warehouse kept x's rows of one run and r's of
    the other (one comment counted twice, every summary balanced). Twelve threads, so that a run that
    picks by arrival almost surely picks x somewhere. x's claim is created and written after r's (as
    the probe's was); the same claims in two partitions are the next test."""
    threads = [f"t{i}" for i in range(12)]
    genuine = [e for t in threads for e in (ev(f"p-{t}", "POST", "a", T0, thread=t),
                                             ev(f"c-{t}", "COMMENT", "r", T0 + HOUR_MS, f"p-{t}", thread=t))]
    reused = [{**ev(f"c-{t}", "COMMENT", "x", T0 + 2 * HOUR_MS, f"p-{t}", thread=t), "event_id": f"s:reuse-{t}"}
              for t in threads]
    replies = [ev(f"r-{t}", "REPLY", "a", T0 + 3 * HOUR_MS, f"c-{t}", thread=t) for t in threads]
    # 3 partitions, keyed by thread: both claims of an item in one partition, in offset order
    publish(kafka_broker.bootstrap, topic, genuine + reused + replies)
    warehouse = str(tmp_path / "stream.duckdb")
    for run in ("first", "restart"):  # the second run over the first one's warehouse
        process = start_streaming(kafka_broker.bootstrap, topic, warehouse, f"reuse-{run}", idle="3600s",
                                  extra=NOTHING_LATE)
        output = read_everything_then_drain(kafka_broker.bootstrap, topic, f"reuse-{run}", process)
        assert "accounting      balanced" in output and "DUPLICATE_ITEM: 12" in output, output[-3000:]
    rows = {(row[1], row[2]): row[4:6] for row in scores_of(warehouse)}  # (author, reader): (comments, replies)
    assert rows == {("a", "r"): (12, 12), ("r", "a"): (12, 0)}, rows  # r's comments once each, none of x's
    _, dead = open_warehouse(warehouse).sql(
        "SELECT DISTINCT event_id, origin, message FROM dead_letters WHERE error_kind = 'DUPLICATE_ITEM'")
    assert sorted(event_id for event_id, _, _ in dead) == sorted(f"s:reuse-{t}" for t in threads)
    assert all(f"'s:c-{event_id[len('s:reuse-'):]}'" in message for event_id, _, message in dead), dead


@pytest.mark.slow
def test_a_thread_written_to_two_partitions_keeps_one_holder_live_and_after_a_restart(
        kafka_broker, topic, tmp_path, prism_binary):
    """The outside probe of stop 22: a producer that does not key by thread writes a post and comment c
    (by r, created 5 minutes ago) to partition 2; the stream scores them; 25 s later another event_id
    reusing item c (by x, created 4 minutes ago) and the author's answer to c reach partition 0. Before
    the fix the holder was the lower (partition, offset): the live stream had already settled r's claim
    and kept it, and a restart over its warehouse kept x's, so both comments and the answer counted,
    every summary balanced. An item is now held by the claim created first, in every reading."""
    import functools

    from producers.kafka_producer import EventPublisher

    def publish_to(partition, events):  # our producer, but to the partition named, whatever the key
        with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
            publisher.producer.send = functools.partial(publisher.producer.send, partition=partition)
            assert publisher.publish_all(events, progress=None).failed == 0

    now = int(time.time() * 1000)
    minute = 60_000
    publish_to(2, [ev("p", "POST", "a", now - 10 * minute), ev("c", "COMMENT", "r", now - 5 * minute, "p")])
    warehouse = str(tmp_path / "stream.duckdb")
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "split-live", idle="2s")
    wait_for(lambda: any(row[2] == "r" for row in scores_of(warehouse)), 240, process, "r's comment scored")
    publish_to(0, [{**ev("c", "COMMENT", "x", now - 4 * minute, "p"), "event_id": "s:reuse-c"},
                   ev("answer", "REPLY", "a", now - 3 * minute, "c")])
    live = drain_then_restart(kafka_broker.bootstrap, topic, warehouse, process, "split")
    totals = pair_totals(warehouse)
    assert totals == {("a", "r"): (1, 1), ("r", "a"): (1, 0)}, (totals, live)  # r's comment once, none of x's
    _, dead = open_warehouse(warehouse).sql(
        "SELECT DISTINCT event_id FROM dead_letters WHERE error_kind = 'DUPLICATE_ITEM'")
    assert dead == [("s:reuse-c",)], dead


@pytest.mark.slow
def test_a_comment_and_its_answer_after_midnight_backfilled_into_a_closed_week_both_count(
        kafka_broker, topic, tmp_path, prism_binary):
    """The outside probe of stop 22: a comment at 23:50 on a Sunday and the author's answer at 00:10,
    backfilled into a live stream whose watermark is past that week's end + allowed lateness. The
    comment opened the week's row, which closed at once; the answer, read a moment later, was a "late
    reply" where a bounded run counts it. The week now takes data for the allowed lateness from the
    watermark the backfill was read at."""
    from datetime import datetime, timedelta

    from pipelines.cli import main

    week_ms, hour_ms = 7 * DAY_MS, HOUR_MS
    # the latest Monday 00:00 UTC at least 3 hours ago (1970-01-05 was a Monday)
    monday = (int(time.time() * 1000) - 3 * hour_ms - 4 * DAY_MS) // week_ms * week_ms + 4 * DAY_MS
    monday_utc = datetime(1970, 1, 1) + timedelta(milliseconds=monday)
    publish(kafka_broker.bootstrap, topic, [ev("live", "POST", "a", int(time.time() * 1000), thread="live"),
                                            ev("live-c", "COMMENT", "r", int(time.time() * 1000), "live", thread="live")])
    warehouse = str(tmp_path / "stream.duckdb")
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "backfill", idle="2s",
                              extra=("--allowed-lateness", "1h"))
    wait_for(lambda: scores_of(warehouse), 240, process, "the live comment's row")
    time.sleep(5)  # every partition idle: the watermark follows the wall clock, past the backfill's week
    publish(kafka_broker.bootstrap, topic, [ev("p", "POST", "a", monday - hour_ms, thread="old"),
                                            ev("c", "COMMENT", "r", monday - 10 * 60_000, "p", thread="old")])
    wait_for(lambda: [row for row in scores_of(warehouse) if row[3] < monday_utc], 240, process,
             "the backfilled comment's row")
    publish(kafka_broker.bootstrap, topic, [ev("answer", "REPLY", "a", monday + 10 * 60_000, "c", thread="old")])
    output = read_everything_then_drain(kafka_broker.bootstrap, topic, "backfill", process)
    assert "accounting      balanced" in output and "late replies" not in output, output[-3000:]
    bounded = str(tmp_path / "bounded.duckdb")
    assert main(["run", "--source", "kafka", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                 "--until-end", "--warehouse", bounded]) == 0
    week_before = [row[:6] for row in scores_of(warehouse) if row[3] < monday_utc]
    assert week_before == [row[:6] for row in scores_of(bounded) if row[3] < monday_utc]
    assert [row[1:3] + row[4:6] for row in week_before] == [("a", "r", 1, 1)], week_before  # comment and answer


@pytest.mark.slow
def test_claims_a_few_seconds_out_of_order_in_a_caught_up_stream_keep_one_holder_after_a_restart(
        kafka_broker, topic, tmp_path, prism_binary):
    """The outside probe of stop 23: a caught-up stream (every partition idle) with no out-of-orderness
    allowed read any record stamped before the newest one behind the watermark. Item k claimed by u1
    (created 2 s ago), then, a second later, by u2 (created 4 s ago), in one partition as `produce`
    writes a thread: the stream kept u1, a restart u2, and the warehouse then held both (the reply
    counted twice). With the default allowance (30 s) both are on time and u2, created first, holds k."""
    warehouse = str(tmp_path / "stream.duckdb")
    now = int(time.time() * 1000)
    publish(kafka_broker.bootstrap, topic, [ev("p", "POST", "a", now - 60_000)])
    process = start_streaming(kafka_broker.bootstrap, topic, warehouse, "ooo-live", idle="2s")
    wait_for(lambda: committed_offsets(kafka_broker.bootstrap, topic, "ooo-live") == topic_end(kafka_broker.bootstrap, topic),
             240, process, "the post read")
    time.sleep(4)  # caught up and idle: the watermark follows the wall clock
    now = int(time.time() * 1000)
    publish(kafka_broker.bootstrap, topic, [ev("k", "COMMENT", "u1", now - 2_000, "p")])
    time.sleep(1)
    publish(kafka_broker.bootstrap, topic, [{**ev("k", "COMMENT", "u2", now - 4_000, "p"), "event_id": "s:k-again"},
                                            ev("answer", "REPLY", "a", now, "k")])
    live = drain_then_restart(kafka_broker.bootstrap, topic, warehouse, process, "ooo")
    totals = pair_totals(warehouse)
    assert totals == {("a", "u2"): (1, 1), ("u2", "a"): (1, 0)}, (totals, live)
    _, dead = open_warehouse(warehouse).sql(
        "SELECT DISTINCT event_id FROM dead_letters WHERE error_kind = 'DUPLICATE_ITEM'")
    assert dead == [("s:k",)], dead
