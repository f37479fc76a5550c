"""End to end on the local runners: synthetic community in, warehouse rows and accounting out."""
import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import apache_beam as beam
import duckdb
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from helpers import record as event_record
from pipelines.cli import run_query
from pipelines.scoring import build_scoring_pipeline, run_scoring
from pipelines.settings import RunSettings
from pipelines.summary import summarize
from producers.event_files import write_events
from producers.synthetic import CommunitySpec, generate_community, write_community
from transforms.decode import ReadEventFiles
from transforms.events import DeadLetter, event_from_record
from transforms.worker_gc import WORKER_THRESHOLDS
from warehouse import open_warehouse

REPO = Path(__file__).resolve().parents[2]

SCORE_COLUMNS = ("site", "author_id", "reader_id", "window_start", "reader_comments", "author_replies",
                 "author_replies_by_window_end", "reader_active_days", "reply_latency_p50_s", "reply_rate", "reciprocity", "mentor_score",
                 "first_interaction_at", "last_interaction_at", "reply_latency_p50_s_by_window_end",
                 "mentor_score_by_window_end", "last_interaction_at_by_window_end")


def runs_of(warehouse_url):
    columns, rows = open_warehouse(warehouse_url).export("runs")
    return [dict(zip(columns, row)) for row in rows]


def dead_letters_of_run(warehouse_url, run_started_at):
    columns, rows = open_warehouse(warehouse_url).export("dead_letters", all_rows=True)
    runs = [row[columns.index("run_started_at")] for row in rows]
    return sum(1 for run in runs if utc_millis(run) == run_started_at)


def utc_millis(naive_utc):
    import datetime as dt

    return round(naive_utc.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def scores_of(warehouse_url):
    columns, rows = open_warehouse(warehouse_url).export("pair_scores")
    picked = [columns.index(c) for c in SCORE_COLUMNS]
    return sorted(tuple(r[i] for i in picked) for r in rows)


@pytest.fixture(scope="module")
def community(tmp_path_factory):
    folder = tmp_path_factory.mktemp("community")
    community = generate_community(CommunitySpec(seed=11, invalid_rate=0.003))
    write_community(community, folder / "events.avro", folder / "truth.jsonl")
    return community, folder / "events.avro"


@pytest.fixture(scope="module")
def batch_run(community, tmp_path_factory):
    _, events_path = community
    warehouse = str(tmp_path_factory.mktemp("wh") / "batch.duckdb")
    summary = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=warehouse))
    return summary, warehouse


def test_the_planted_mentor_ranks_first_for_nearly_every_planted_reader(community, batch_run):
    generated, _ = community
    _, warehouse = batch_run
    hits = 0
    for pair in generated.planted_pairs:
        columns, rows = run_query(warehouse, "mentors", {"reader": pair["reader_id"], "site": pair["site"], "top": 1})
        hits += bool(rows) and rows[0][columns.index("author_id")] == pair["author_id"]
    assert hits / len(generated.planted_pairs) >= 0.95


def test_every_record_is_accounted_for(community, batch_run):
    generated, _ = community
    summary, warehouse = batch_run
    assert summary.records_in == len(generated.events)
    assert summary.duplicates == generated.duplicate_count
    assert summary.balanced
    decode_dead = sum(v for k, v in summary.dead_letters.items() if k != "PARENT_UNRESOLVED")
    assert decode_dead == generated.invalid_count > 0
    assert summary.dead_letters.get("PARENT_UNRESOLVED", 0) > 0  # the generator plants orphans
    assert summary.stored_dead_letters == summary.dead_letters  # read back from the warehouse
    assert open_warehouse(warehouse).count("dead_letters") == summary.dead_letters_total
    assert open_warehouse(warehouse).count("pair_scores") == summary.pair_score_rows
    assert "balanced" in summary.render()


def test_the_run_is_recorded_finished_with_its_counts(batch_run):
    summary, warehouse = batch_run
    run = next(r for r in runs_of(warehouse) if utc_millis(r["run_started_at"]) == summary.run_started_at)
    assert run["status"] == "FINISHED" and run["finished_at"] is not None
    assert (run["records_in"], run["scored"], run["skipped"], run["duplicates"], run["dead_lettered"], run["pair_rows"]) == (
        summary.records_in, summary.scored, summary.skipped_total, summary.duplicates, summary.dead_letters_total,
        summary.pair_score_rows)
    assert run["source"].startswith("files: ") and run["source"].endswith("events.avro")


@pytest.mark.parametrize("interrupted", ["summarize", "record_run"])
def test_a_run_interrupted_after_its_pipeline_finished_is_recorded_failed_not_left_running(
        community, tmp_path, monkeypatch, interrupted):
    # An outside probe: Ctrl-C two seconds into a small bounded run on Prism, once the pipeline had
    # finished, exited 130 "interrupted" and left the run RUNNING ("still going, or killed", said
    # query and export): only an interrupt inside the pipeline recorded the run FAILED.
    import pipelines.scoring as scoring

    _, events_path = community
    real = getattr(scoring, interrupted)
    calls = []

    def interrupting(*args, **kwargs):
        calls.append(args)
        if interrupted == "summarize" or len(calls) == 2:  # record_run: RUNNING, then the final status
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, interrupted, interrupting)
    warehouse = str(tmp_path / "w.duckdb")
    with pytest.raises(KeyboardInterrupt):
        run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=warehouse))
    (run,) = runs_of(warehouse)
    assert (run["status"], run["message"]) == (
        "FAILED", "interrupted after the pipeline finished, before its summary was recorded: its rows are "
                  "written; run it again for a summary"), run


def test_a_run_tunes_the_collector_while_it_runs_and_gives_the_callers_thresholds_back(tmp_path):
    # transforms.worker_gc: the in-process runner's workers are threads of the caller's process
    seen = tmp_path / "thresholds seen by the worker"

    class SeeThresholds(beam.PTransform):  # the DoFn is pickled: it reports through a file
        def expand(self, pbegin):
            decoded = pbegin | ReadEventFiles([str(events)])
            decoded.events | beam.Map(lambda e, path=str(seen): open(path, "w").write(repr(gc.get_threshold())))
            return decoded

    events = tmp_path / "a.jsonl"
    write_events(events, [event_record(event_id="a1")])
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        summary = run_scoring(SeeThresholds(), RunSettings(warehouse=str(tmp_path / "w.duckdb")))
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*saved)
    assert summary.balanced and seen.read_text() == repr(WORKER_THRESHOLDS)


def test_the_summary_comes_from_the_warehouse_not_from_metrics(community, tmp_path):
    # The pipeline runs without anyone asking its metrics; the summary is read back afterwards.
    _, events_path = community
    warehouse = str(tmp_path / "w.duckdb")
    settings = RunSettings(warehouse=warehouse).started()
    with beam.Pipeline("FnApiRunner") as p:
        decoded = p | ReadEventFiles([str(events_path)])
        build_scoring_pipeline(decoded.events, decoded.dead_letters, settings)
    summary = summarize(warehouse, settings.run_started_at, 1.0)
    assert summary.balanced and summary.records_in > 3000
    assert summary.pair_score_rows == open_warehouse(warehouse).count("pair_scores")


def test_replaying_the_same_input_changes_nothing(community, batch_run):
    _, events_path = community
    summary, warehouse = batch_run
    before = scores_of(warehouse)
    again = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=warehouse))
    assert again.scored == summary.scored and again.balanced
    assert scores_of(warehouse) == before
    # Each run stores the dead letters it found, under its own id.
    assert dead_letters_of_run(warehouse, again.run_started_at) == again.dead_letters_total == summary.dead_letters_total
    assert dead_letters_of_run(warehouse, summary.run_started_at) == summary.dead_letters_total


def test_the_same_events_twice_count_each_event_once_and_the_summary_is_what_was_stored(community, tmp_path):
    # Issue 9, item 8: the same file given twice counted 10 dead letters while the table held 5.
    _, events_path = community
    copy = tmp_path / "copy.avro"  # a copy: the same file named twice is read once (tests/transforms/test_decode.py)
    copy.write_bytes(events_path.read_bytes())
    once = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=str(tmp_path / "a.duckdb")))
    twice = run_scoring(ReadEventFiles([str(events_path), str(copy)]), RunSettings(warehouse=str(tmp_path / "b.duckdb")))
    assert twice.records_in == 2 * once.records_in
    assert twice.scored == once.scored
    assert twice.dead_letters_total > once.dead_letters_total  # the copy's bad records have origins of their own
    assert twice.balanced and twice.stored_dead_letters == twice.dead_letters
    assert open_warehouse(str(tmp_path / "b.duckdb")).count("dead_letters") == twice.dead_letters_total
    assert scores_of(str(tmp_path / "a.duckdb")) == scores_of(str(tmp_path / "b.duckdb"))


def _unwritable_dead_letters(path):
    """A warehouse file whose dead_letters table refuses every row, as a full disk would."""
    import schemas

    ddl = schemas.duckdb_ddl("dead_letters").replace("PRIMARY KEY", "CHECK (length(origin) < 0),\n  PRIMARY KEY")
    open_warehouse(path)  # a warehouse of this release, then its dead_letters table replaced
    with duckdb.connect(path) as connection:
        connection.execute("DROP TABLE dead_letters")
        connection.execute(ddl)


def test_a_run_whose_dead_letters_were_not_stored_is_not_balanced_and_not_finished(community, tmp_path, capsys):
    # Issue 9, item 8: "disk full leaves pair_scores written and dead_letters missing" and the
    # summary still said balanced.
    from pipelines.cli import main

    _, events_path = community
    warehouse = str(tmp_path / "full.duckdb")
    _unwritable_dead_letters(warehouse)
    assert main(["run", "--input", str(events_path), "--warehouse", warehouse]) == 1
    out = capsys.readouterr().out
    assert "NOT balanced" in out and "the pipeline did not finish" in out and "CHECK constraint" in out
    (run,) = runs_of(warehouse)
    assert run["status"] == "FAILED" and "did not finish" in run["message"]


def test_dead_letters_missing_from_the_warehouse_after_the_run_are_named(community, tmp_path):
    _, events_path = community
    warehouse = str(tmp_path / "w.duckdb")
    settings = RunSettings(warehouse=warehouse).started()
    with beam.Pipeline("FnApiRunner") as p:
        decoded = p | ReadEventFiles([str(events_path)])
        build_scoring_pipeline(decoded.events, decoded.dead_letters, settings)
    with duckdb.connect(warehouse) as connection:  # lost on the way, silently
        connection.execute("DELETE FROM dead_letters WHERE error_kind = 'PARENT_UNRESOLVED'")
    summary = summarize(warehouse, settings.run_started_at, 1.0)
    counted = summary.dead_letters["PARENT_UNRESOLVED"]
    assert not summary.balanced and summary.records_in == summary.accounted
    assert f"PARENT_UNRESOLVED: {counted:,} counted, 0 stored" in summary.render()
    assert "NOT balanced" in summary.render()


def test_a_prism_run_after_a_plain_direct_runner_pipeline_uses_its_own_prism_location(tmp_path, prism_binary):
    """Beam keeps one Prism job server per process, made by the first pipeline that asks. A plain
    DirectRunner pipeline (as a unit test's) asks without --prism_location, fails to download Prism
    offline and falls back; a later run with --prism_location then inherited that server and failed
    to download it too (the full suite's two Prism failures). A fresh interpreter keeps the order."""
    script = tmp_path / "two_runs.py"
    script.write_text(textwrap.dedent(f"""
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
        from pipelines.scoring import pipeline_options
        with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as plain:
            _ = plain | beam.Create([1, 2]) | beam.Map(lambda x: x)
        options = pipeline_options(["--runner=PrismRunner", "--prism_location={prism_binary}"], streaming=False)
        with beam.Pipeline(options=options) as on_prism:
            _ = on_prism | beam.Create(["on prism"]) | beam.Map(print)
    """))
    ran = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "on prism" in ran.stdout


def test_on_prism_the_summary_balances_from_the_ledger_and_equals_the_warehouse(community, batch_run, prism_binary,
                                                                                 tmp_path):
    _, events_path = community
    on_fn_api, fn_api_warehouse = batch_run
    warehouse = str(tmp_path / "prism.duckdb")
    summary = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=warehouse),
                          ["--runner", "PrismRunner", "--prism_location", str(prism_binary)])
    assert summary.balanced and summary.error is None
    assert summary.stored_dead_letters == summary.dead_letters
    assert open_warehouse(warehouse).count("dead_letters") == summary.dead_letters_total
    assert open_warehouse(warehouse).count("pair_scores") == summary.pair_score_rows
    counts = ("records_in", "scored", "skipped", "duplicates", "dead_letters", "pair_score_rows")
    assert [getattr(summary, c) for c in counts] == [getattr(on_fn_api, c) for c in counts]
    assert scores_of(warehouse) == scores_of(fn_api_warehouse)


@pytest.mark.slow
def test_streaming_gives_the_batch_scores_when_nothing_is_late(tmp_path):
    generated = generate_community(CommunitySpec(seed=5, sites=1, authors_per_site=6, readers_per_site=50,
                                                 planted_per_site=8, days=10))
    batch_file = tmp_path / "events.avro"
    write_community(generated, batch_file, tmp_path / "truth.jsonl")
    batch_wh, stream_wh = str(tmp_path / "batch.duckdb"), str(tmp_path / "stream.duckdb")
    run_scoring(ReadEventFiles([str(batch_file)]), RunSettings(warehouse=batch_wh))

    events = [event_from_record(r, f"stream:{i}") for i, r in enumerate(generated.events) if not r["event_id"].startswith("bad:")]
    stream = TestStream()
    burst = 400
    for start in range(0, len(events), burst):
        chunk = events[start:start + burst]
        stream = stream.add_elements([TimestampedValue(e, e.created_at / 1000) for e in chunk])
        remaining = events[start + burst:]
        if remaining:  # the watermark never passes an event still to come: nothing is late
            stream = stream.advance_watermark_to(min(e.created_at for e in remaining) / 1000)
    # Past every deadline of the resolver and the panes first: the DirectRunner does not hold the
    # watermark for timers, so what they emit at infinity would miss the ledger's last firing.
    stream = stream.advance_watermark_to(max(e.created_at for e in events) / 1000 + 90 * 86400)
    stream = stream.advance_watermark_to_infinity()

    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    # The generator answers some comments days later: with the default 2-day lateness a stream counts
    # those author replies as late (by design) where a batch run credits them. Nothing is late here.
    settings = RunSettings(warehouse=stream_wh, streaming=True, early_firing_s=None,
                           allowed_lateness_s=30 * 86400, dedupe_horizon_s=40 * 86400).started()
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        build_scoring_pipeline(p | stream, p | "NoDecodeErrors" >> beam.Create([]), settings)
    assert scores_of(stream_wh) == scores_of(batch_wh)
    assert len(scores_of(batch_wh)) > 50
    assert summarize(stream_wh, settings.run_started_at, 1.0).balanced


def test_a_stream_writes_its_ledger_as_it_goes_and_completely_at_the_end(tmp_path):
    generated = generate_community(CommunitySpec(seed=5, sites=1, authors_per_site=6, readers_per_site=50,
                                                 planted_per_site=8, days=7, invalid_rate=0.03))
    decoded = []
    for i, record in enumerate(generated.events):
        try:
            decoded.append(event_from_record(record, f"stream:{i}"))
        except ValueError:
            pass  # invalid records: the decode dead letters below stand for them
    events = sorted(decoded, key=lambda e: e.created_at)
    undecodable = len(generated.events) - len(events)
    stream = TestStream()
    for start in range(0, len(events), 40):
        chunk = events[start:start + 40]
        stream = stream.add_elements([TimestampedValue(e, e.created_at / 1000) for e in chunk])
        stream = stream.advance_processing_time(11)  # past the ledger's firing period: it fires
    # Past every deadline of the resolver and the panes first: the DirectRunner does not hold the
    # watermark for timers, so what they emit at infinity would miss the ledger's last firing.
    stream = stream.advance_watermark_to(max(e.created_at for e in events) / 1000 + 90 * 86400)
    stream = stream.advance_watermark_to_infinity()
    warehouse = str(tmp_path / "stream.duckdb")
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    settings = RunSettings(warehouse=warehouse, streaming=True, early_firing_s=None).started()
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        bad = p | "DecodeErrors" >> beam.Create([DeadLetter(f"bad:{i}", "PARSE_ERROR", "m", None, "x")
                                                 for i in range(undecodable)])
        build_scoring_pipeline(p | stream, bad, settings)
    summary = summarize(warehouse, settings.run_started_at, 1.0)
    assert summary.balanced and summary.records_in == len(generated.events) and undecodable > 0
    assert summary.stored_dead_letters == summary.dead_letters
    with duckdb.connect(warehouse) as connection:
        (records_in_pane,) = connection.execute(
            "SELECT pane_index FROM run_ledger WHERE outcome = 'records_in'").fetchone()
    assert records_in_pane > 0  # earlier firings wrote partial counts first; the final one won


def test_the_summary_names_refused_rows_apart_from_the_balance_of_records():
    from pipelines.scoring import RunSummary

    summary = RunSummary(records_in=10, scored=8, skipped={"post": 2}, duplicates=0, dead_letters={},
                         pair_score_rows=12, seconds=1.0, warehouse="bigquery://p/d", refused_rows=3)
    text = summary.render()
    assert summary.balanced and "accounting      balanced" in text
    assert "refused rows               3" in text and "WAREHOUSE_REFUSED" in text
    assert "refused rows" not in RunSummary(10, 8, {"post": 2}, 0, {}, 12, 1.0, "w").render()


def test_late_author_replies_have_their_own_line_outside_the_balance():
    from pipelines.scoring import RunSummary

    summary = RunSummary(records_in=10, scored=8, skipped={"post": 2}, duplicates=0, dead_letters={},
                         pair_score_rows=12, seconds=1.0, warehouse="w", late_author_replies=4)
    text = summary.render()
    assert summary.balanced and "late replies               4" in text and "--allowed-lateness" in text


def test_refused_rows_stored_apart_from_those_counted_do_not_balance():
    from pipelines.scoring import RunSummary

    summary = RunSummary(10, 8, {"post": 2}, 0, {}, 12, 1.0, "w", refused_rows=3, stored_refused_rows=1)
    assert not summary.balanced and "refused rows: 3 counted, 1 stored" in summary.render()



def _damage(kind, data, blocks):
    """Damage one of five_block_avro's files: a record of block 3, the sync marker after block 2, or
    the byte size in block 3's header."""
    if kind == "record":
        offset, size = blocks[2]
        data[data.index(b"r17\x02", offset, offset + size) + 3] = 0x7E  # record 17: no such kind
    elif kind == "sync marker":
        offset, size = blocks[1]
        data[offset + size - 8] ^= 0xFF
    else:
        data[blocks[2][0] + 1] ^= 0x08
    return bytes(data)


@pytest.mark.parametrize("damaged, parse_errors, uncounted, records_in, exit_code", [
    ("record", 5, 0, 31, 0),  # records 17..21 (the rest of block 3): one dead letter each
    ("sync marker", 7, 0, 31, 0),  # records 8..14 (block 2); reading resumes at the next marker
    ("block header", 0, 1, 25, 1),  # block 3's records cannot be counted: 24 events + 1 dead letter
])
def test_a_damaged_avro_file_is_accounted_record_by_record_or_not_balanced(
        damaged, parse_errors, uncounted, records_in, exit_code, tmp_path, capsys):
    # An outside tester: a corrupt block lost records while the summary said "balanced" and run exited 0.
    from helpers import five_block_avro
    from pipelines.cli import main

    path = tmp_path / "damaged.avro"
    path.write_bytes(_damage(damaged, *five_block_avro()))
    warehouse = str(tmp_path / "w.duckdb")
    assert main(["run", "--input", str(path), "--warehouse", warehouse]) == exit_code
    out = capsys.readouterr().out
    (run,) = runs_of(warehouse)
    summary = summarize(warehouse, utc_millis(run["run_started_at"]), 1.0)
    assert summary.records_in == records_in == summary.accounted
    assert summary.dead_letters.get("PARSE_ERROR", 0) == parse_errors
    assert summary.dead_letters.get("UNCOUNTED_RECORDS", 0) == uncounted
    assert summary.stored_dead_letters == summary.dead_letters
    if uncounted:
        assert "NOT balanced" in out and "records may be missing" in out and run["status"] == "FAILED"
    else:
        assert "  accounting      balanced" in out and run["status"] == "FINISHED"


def test_an_item_id_reused_under_other_event_ids_is_dead_lettered_counted_and_scored_once(tmp_path):
    import json

    from helpers import HOUR_MS, T0

    def line(event_id, kind, item_id, actor, at, parent=None):
        return json.dumps({"event_id": event_id, "kind": kind, "site": "s", "thread_id": "p1", "item_id": item_id,
                           "parent_id": parent, "actor_id": actor, "created_at": at})

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        line("d1", "POST", "p1", "A", T0),
        line("d4", "COMMENT", "c4", "R", T0 + HOUR_MS, "p1"),
        line("d5", "COMMENT", "c4", "R", T0 + HOUR_MS, "p1"),
        line("d6", "COMMENT", "c4", "EVIL", T0 + HOUR_MS, "p1"),
        line("d7", "REPLY", "r7", "A", T0 + 2 * HOUR_MS, "c4"),
    ]) + "\n")
    warehouse = str(tmp_path / "w.duckdb")
    summary = run_scoring(ReadEventFiles([str(path)]), RunSettings(warehouse=warehouse))
    assert summary.balanced and summary.records_in == 5
    assert summary.dead_letters == {"DUPLICATE_ITEM": 2} and summary.stored_dead_letters == summary.dead_letters
    assert summary.scored == 2  # R's comment once, A's reply to R
    pairs = {(row[1], row[2]): row[4] for row in scores_of(warehouse)}
    assert set(pairs) == {("A", "R"), ("R", "A")} and pairs[("A", "R")] == 1
    with duckdb.connect(warehouse, read_only=True) as connection:
        rows = connection.execute("SELECT origin, event_id, message FROM dead_letters ORDER BY origin").fetchall()
    assert [(origin, event_id) for origin, event_id, _ in rows] == [(f"{path}:3", "d5"), (f"{path}:4", "d6")]
    assert all("'d4'" in message and f"{path}:2" in message for _, _, message in rows)


# One thread on Prism: an author answers six readers' comments. The stage that resolves the thread
# stalls on the first author-reply credit (a slow consumer fused into it), as a loaded machine does.
STALLED_REPLY_AT = None


def _stall_on_the_first_credit(contribution):
    import time

    if contribution.created_at == STALLED_REPLY_AT:
        time.sleep(3)  # > 2 progress ticks of Prism (100 ms each): it asks the SDK to split the bundle
    return contribution


@pytest.mark.slow
def test_on_prism_a_stalled_bundle_of_a_thread_is_not_split_and_every_author_reply_is_credited(tmp_path,
                                                                                             prism_binary):
    """Issue 9's divergence: Prism split the slow bundle of a stateful stage, released its keys while
    the primary still held them, and ran the rest of the thread at once on a snapshot of its state:
    the comments and replies on each side missed each other (author replies lost, balanced), and the
    last commit overwrote the other's state. ``pipeline_options`` turns Prism's splitting off."""
    global STALLED_REPLY_AT
    from helpers import HOUR_MS, T0, event

    from pipelines.scoring import pipeline_options

    readers = [f"reader-{i}" for i in range(1, 7)]
    events = [event("p", "POST", "author", T0)]
    for i, reader in enumerate(readers, start=1):
        events.append(event(f"c{i}", "COMMENT", reader, T0 + i * HOUR_MS, "p"))
        events.append(event(f"x{i}", "REPLY", "author", T0 + i * HOUR_MS + 600_000, f"c{i}"))
    STALLED_REPLY_AT = T0 + HOUR_MS + 600_000  # x1: the thread's later events are still to process
    warehouse = str(tmp_path / "prism.duckdb")
    settings = RunSettings(warehouse=warehouse, streaming=True, early_firing_s=None,
                           allowed_lateness_s=30 * 86400, dedupe_horizon_s=40 * 86400).started()
    options = pipeline_options(["--runner=PrismRunner", f"--prism_location={prism_binary}"], streaming=True)
    with beam.Pipeline(options=options) as p:
        stream = (p | beam.Create(events)
                  | "Stamped" >> beam.Map(lambda e: TimestampedValue(e, e.created_at / 1000)))
        outputs = build_scoring_pipeline(stream, p | "NoDecodeErrors" >> beam.Create([]), settings)
        _ = outputs.author_replies | "SlowConsumer" >> beam.Map(_stall_on_the_first_credit)
    rows = {(row[1], row[2]): (row[4], row[5]) for row in scores_of(warehouse)}
    assert {reader: rows.get(("author", reader)) for reader in readers} == {reader: (1, 1) for reader in readers}
    assert {reader: rows.get((reader, "author")) for reader in readers} == {reader: (1, 0) for reader in readers}
    summary = summarize(warehouse, settings.run_started_at, 1.0)
    assert summary.balanced and summary.records_in == 13 and summary.dead_letters_total == 0


def test_a_runner_that_stops_answering_is_named_with_grpc_s_status_not_its_object():
    """#13's probe: a stream whose Prism got SIGTERM recorded the reason "_MultiThreadedRendezvous: >"
    (the last line of gRPC's repr). A real gRPC error, from a port where no runner listens."""
    import grpc
    from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

    from pipelines.scoring import _first_line
    from services.maven import free_port

    stub = beam_job_api_pb2_grpc.JobServiceStub(grpc.insecure_channel(f"127.0.0.1:{free_port()}"))
    with pytest.raises(grpc.RpcError) as raised:
        for _ in stub.GetMessageStream(beam_job_api_pb2.JobMessagesRequest(job_id="gone"), timeout=10):
            pass
    line = _first_line(raised.value)
    assert line.startswith("the runner stopped answering (gRPC UNAVAILABLE: failed to connect"), line
    assert "run it again" in line and ">" not in line.split("(")[0]


@pytest.mark.parametrize("fmt", ["avro", "jsonl"])
def test_run_on_a_file_read_in_ranges_gives_the_scores_and_accounting_of_a_whole_read(
        fmt, community, batch_run, tmp_path, capsys, monkeypatch):
    # Issue 11: one big file was decoded by one worker; it is now read in ranges. `--input f --input f`
    # still reads it once.
    from pipelines.cli import main
    from producers.event_files import write_events
    from transforms import file_ranges

    events, avro = community
    path = avro
    if fmt == "jsonl":  # the same records, a line each: the same numbers in the dead letters' origins
        path = tmp_path / "events.jsonl"
        write_events(path, events.events)
    warehouse = str(tmp_path / "split.duckdb")
    monkeypatch.setattr(file_ranges, "DEFAULT_RANGE_SIZE", file_ranges.RangeSize(records=700, bytes=1 << 40))
    assert main(["run", "--input", str(path), "--input", str(path), "--warehouse", warehouse]) == 0
    out, err = capsys.readouterr()
    assert "  accounting      balanced" in out and " parts" in err

    summary, whole = batch_run
    (run,) = runs_of(warehouse)
    split = summarize(warehouse, utc_millis(run["run_started_at"]), 1.0)
    assert (split.records_in, split.scored, split.skipped_total, split.duplicates, split.dead_letters) == (
        summary.records_in, summary.scored, summary.skipped_total, summary.duplicates, summary.dead_letters)
    assert scores_of(warehouse) == scores_of(whole)

    def dead_letters(warehouse_url, name):
        columns, rows = open_warehouse(warehouse_url).export("dead_letters")
        return sorted((r[columns.index("origin")].replace(name, "FILE"), r[columns.index("error_kind")]) for r in rows)

    assert dead_letters(warehouse, str(path)) == dead_letters(whole, str(avro))
    assert len(dead_letters(warehouse, str(path))) > 3
