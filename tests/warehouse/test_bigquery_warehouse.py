"""The BigQuery warehouse through the google-cloud-bigquery client, against a local emulator."""
import datetime as dt
import re
import uuid

import pytest

from helpers import DAY_MS, E, score_row as row
from pipelines.cli import run_query
from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.event_files import write_events
from producers.synthetic import CommunitySpec, generate_community, write_community
import schemas
from schemas import ANALYST_QUERIES, bigquery_fields
from transforms.decode import ReadEventFiles
from warehouse import open_warehouse

SMALL = CommunitySpec(seed=3, sites=1, authors_per_site=5, readers_per_site=30, planted_per_site=5, days=14)
DATASET_ROWS = [  # a blog: authors a1..a3 answer many readers; r reads them all
    row("a1", "r", E, 0.4, days=3),
    row("a1", "r", E - 14 * DAY_MS, 0.6, days=2),
    row("a2", "r", E, 0.65),
    row("a3", "r", E, 0.0, ar=0),  # a3 never answered r
    row("a4", "r", E, 5.0, site="other"),
    row("a1", "r2", E - 14 * DAY_MS, 0.1, days=5),
    *(row(a, f"{a}-reader-{n}", E - n * DAY_MS, 0.2) for a in ("a1", "a2", "a3") for n in range(3)),
    *(row("a4", f"a4-reader-{n}", E, 0.2, site="other") for n in range(3)),
]


# BigQuery's API reports the legacy names of some types it was given by their standard names.
LEGACY_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def test_tables_take_their_schema_partitioning_and_clustering_from_the_avro_schemas(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    scores = warehouse.client.get_table(warehouse.table_id("pair_scores"))
    assert [(f.name, LEGACY_TYPE_NAMES.get(f.field_type, f.field_type), f.mode) for f in scores.schema] == [
        (f["name"], f["type"], f["mode"]) for f in bigquery_fields("pair_scores")]
    assert scores.time_partitioning.field == "window_start" and scores.time_partitioning.type_ == "DAY"
    assert scores.clustering_fields == ["site", "author_id", "reader_id"]
    dead = warehouse.client.get_table(warehouse.table_id("dead_letters"))
    assert dead.time_partitioning.field == "arrived_at"


RANKED = {"as_of": None, "half_life_days": 14.0}
EARLIER = dt.datetime(2026, 3, 20)  # between the data set's two window ends


def late_row(author, reader, rc, ar, by_end, last):
    """A window ending E - 14 days whose last reply came at ``last``, after EARLIER: --as-of EARLIER
    cuts it and counts ``by_end`` of its replies (None: a row of a release before schema version 4)."""
    r = row(author, reader, E - 14 * DAY_MS, 0.3, rc=rc, ar=ar)
    r.update(author_replies_by_window_end=by_end, last_interaction_at=last)
    return r


LATE_ROWS = [late_row("a5", "r5", 3, 3, 2, E - 8 * DAY_MS), late_row("a5", "r6", 1, 2, None, E - 9 * DAY_MS),
             # schema version 5: the window as it stood at its end (quick replies, score, decayed from then)
             dict(late_row("a5", "r7", 2, 3, 2, E - 8 * DAY_MS), reply_latency_p50_s_by_window_end=900.0,
                  mentor_score_by_window_end=0.2, last_interaction_at_by_window_end=E - 14 * DAY_MS - 3_600_000)]


@pytest.fixture(scope="module")
def warehouses_holding_the_dataset(bigquery_emulator, tmp_path_factory):
    """(BigQuery URL, DuckDB path) both holding DATASET_ROWS; read-only, so written once per module (a
    prepare and a write cost the emulator about 15 s)."""
    name = "analyst_queries_" + uuid.uuid4().hex[:6]
    urls = (f"bigquery://{bigquery_emulator.project}/{name}", str(tmp_path_factory.mktemp("queries") / "w.duckdb"))
    for url in urls:
        warehouse = open_warehouse(url)
        warehouse.prepare()
        warehouse.write_scores([dict(r) for r in DATASET_ROWS + LATE_ROWS])
    yield urls
    open_warehouse(urls[0]).client.delete_dataset(f"{bigquery_emulator.project}.{name}", delete_contents=True)


@pytest.mark.parametrize("name, params", [
    ("mentors", {"reader": "r", "site": "s", "top": 10, **RANKED}),
    ("mentors", {"reader": "r", "site": None, "top": 2, **RANKED}),
    ("regulars", {"author": "a1", "site": None, "top": 10, **RANKED}),
    ("regulars", {"author": "a1", "site": None, "top": 10, "as_of": EARLIER, "half_life_days": 7.0}),
    ("top", {"site": None, "top": 10, **RANKED}),
    ("pair", {"author": "a1", "reader": "r", "site": None, **RANKED}),
    ("strengths", {"site": None, **RANKED}),
    ("strengths", {"site": "s", "as_of": EARLIER, "half_life_days": 14.0}),
    ("pair", {"author": "a5", "reader": "r5", "site": None, "as_of": EARLIER, "half_life_days": 14.0}),  # cut: 2 of 3
    ("top", {"site": None, "top": 20, "as_of": EARLIER, "half_life_days": 14.0}),
    ("history", {"author": "a1", "reader": "r", "site": None}),
    ("exchanges", {"site": None, "from_time": dt.datetime(2026, 3, 1), "to_time": dt.datetime(2026, 4, 1)}),
    ("span", {"site": None}),
])
def test_every_analyst_query_gives_the_same_rows_in_both_warehouses(warehouses_holding_the_dataset, name, params):
    results = []
    for url in warehouses_holding_the_dataset:
        columns, rows = open_warehouse(url).query(name, params)
        results.append((columns, [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]))
    assert results[0] == results[1] and results[0][1]


def test_the_latest_view_keeps_one_row_per_pair_and_window_through_panes_and_retries(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([row("a", "r", E, 0.1, pane=0, timing="EARLY")])
    warehouse.write_scores([row("a", "r", E, 0.2, pane=1), row("a", "r", E, 0.3, pane=2, timing="LATE")])
    columns, rows = warehouse.query("history", {"author": "a", "reader": "r", "site": None})
    assert [(r[columns.index("pane_timing")], r[columns.index("mentor_score")]) for r in rows] == [("LATE", 0.3)]
    assert warehouse.count("pair_scores", all_rows=True) == 3  # panes are appended, never updated in place


def test_a_retried_insert_adds_no_row_and_a_retried_older_pane_does_not_win(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([row("a", "r", E, 0.2, pane=1), row("a", "r", E, 0.3, pane=2, timing="LATE")])
    warehouse.write_scores([row("a", "r", E, 0.2, pane=1)])  # the same row again: the same insert id
    assert warehouse.count("pair_scores", all_rows=True) == 2  # BigQuery dropped it by its insert id
    # BigQuery's dedupe is best effort (about a minute): a copy it misses is a second row ...
    warehouse._insert("pair_scores", [row("a", "r", E, 0.2, pane=1)], ["a-retry-after-the-dedupe-window"])
    assert warehouse.count("pair_scores", all_rows=True) == 3
    columns, rows = warehouse.query("history", {"author": "a", "reader": "r", "site": None})
    assert [r[columns.index("mentor_score")] for r in rows] == [0.3]  # ... that the view passes over


def test_a_row_bigquery_refuses_comes_back_with_its_reason_and_the_rest_are_stored(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    bad = row("a", "r", E, 0.2)
    bad["reader_comments"] = "many"
    # BigQuery refuses the whole request and marks the valid rows "stopped": they are sent again.
    refused = warehouse.write_scores([row("a", "r2", E, 0.1), bad, row("a", "r3", E, 0.1)]).refused
    assert [(r.row["reader_id"], "reader_comments" in r.reason and "many" in r.reason) for r in refused] == [("r", True)]
    assert sorted(r[2] for r in warehouse.export("pair_scores")[1]) == ["r2", "r3"]


def test_each_analyst_query_is_a_table_function_an_analyst_can_call(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([dict(r) for r in DATASET_ROWS])
    routines = {r.routine_id: r for r in warehouse.client.list_routines(f"{warehouse.project}.{warehouse.dataset}")}
    import schemas

    assert set(routines) == set(ANALYST_QUERIES) | set(schemas.REPORT_QUERIES) | set(schemas.STATUS_QUERIES)
    mentors = warehouse.client.get_routine(routines["mentors"].reference)
    assert mentors.type_ == "TABLE_VALUED_FUNCTION"
    assert [a.name for a in mentors.arguments] == ["arg_reader", "arg_site", "arg_as_of", "arg_half_life_days", "arg_top"]
    sql = f"SELECT author_id FROM `{warehouse.project}.{warehouse.dataset}.mentors`('r', 's', NULL, 14.0, 1)"
    assert [tuple(r.values()) for r in warehouse.client.query(sql).result()] == [("a1",)]


@pytest.mark.parametrize("method", ["auto", "streaming", "storage-exactly-once"])  # auto: load jobs, as the run is bounded
def test_the_pipeline_writes_the_same_scores_to_bigquery_as_to_the_embedded_warehouse(
        bigquery_url, warehouse_path, tmp_path, method):
    community = generate_community(SMALL)
    events = tmp_path / "events.avro"
    write_community(community, events, tmp_path / "truth.jsonl")
    summaries = [run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=url, bigquery_write=method))
                 for url in (bigquery_url, warehouse_path)]
    assert summaries[0].pair_score_rows == summaries[1].pair_score_rows > 50
    # The summary is the ledger read back, balanced against what each warehouse stored.
    assert all(s.balanced and s.stored_dead_letters == s.dead_letters for s in summaries)
    assert summaries[0].render().split("\n")[2:7] == summaries[1].render().split("\n")[2:7]
    bigquery = open_warehouse(bigquery_url)
    loads = [job for job in bigquery.client.list_jobs()
             if job.job_type == "load" and job.destination.dataset_id == bigquery.dataset]
    # A bounded run of this size needs one load per table it writes to (a table allows 1,500 a day):
    # pair_scores, run_ledger and dead_letters (the runs table takes streaming inserts).
    tables_written = 2 + (summaries[0].dead_letters_total > 0)
    assert len(loads) == (tables_written if method == "auto" else 0)
    exported = [sorted(open_warehouse(url).export("pair_scores")[1]) for url in (bigquery_url, warehouse_path)]
    skip = {"computed_at", "run_started_at"}
    columns = open_warehouse(warehouse_path).export("pair_scores")[0]
    keep = [i for i, c in enumerate(columns) if c not in skip]
    as_rows = [[tuple(round(r[i], 9) if isinstance(r[i], float) else r[i] for i in keep) for r in rows] for rows in exported]
    assert as_rows[0] == as_rows[1]
    pair = community.planted_pairs[0]
    assert run_query(bigquery_url, "mentors", {"reader": pair["reader_id"], "site": pair["site"], "top": 3})[1]
    assert open_warehouse(bigquery_url).count("dead_letters") == summaries[0].dead_letters_total
    for table in ("pair_scores", "dead_letters", "run_ledger"):  # the base tables: no row appended twice
        assert bigquery.count(table, all_rows=True) == bigquery.count(table)


def test_warehouse_init_and_query_from_the_command_line(bigquery_url, capsys):
    from pipelines.cli import main

    assert main(["warehouse", "init", "--warehouse", bigquery_url]) == 0
    out = capsys.readouterr().out
    assert "pair_scores_latest" in out and "table functions mentors, regulars, top, pair" in out
    open_warehouse(bigquery_url).write_scores([dict(r) for r in DATASET_ROWS])
    assert main(["query", "mentors", "--reader", "r", "--site", "s", "--warehouse", bigquery_url, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("site,author_id,strength") and lines[1].startswith("s,a1,")


def test_the_readme_s_analyst_sql_runs_on_bigquery(bigquery_url):
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    section = readme.read_text().split("## Querying results")[1].split("\n## ")[0]
    examples = re.findall(r"```sql\n(.*?)```", section, re.DOTALL)
    assert len(examples) == 5
    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([dict(r) for r in DATASET_ROWS])
    answers = []
    for sql in examples:
        sql = sql.replace("PROJECT.DATASET", f"{warehouse.project}.{warehouse.dataset}")
        sql = sql.replace("'R'", "'r'").replace("'A'", "'a1'")  # the data set's reader and author
        sql = sql.replace("TIMESTAMP '2018-06-01'", "TIMESTAMP '2026-03-17'")  # a day after its older windows
        answers.append([dict(r.items()) for r in warehouse.client.query(sql).result()])
    assert {r["author_id"] for r in answers[0]} == {"a4", "a1", "a2"}  # a3 never answered r
    assert {(r["mentor_id"], r["mentee_id"]) for r in answers[1]} == {("a1", "r"), ("a1", "r2")}  # what had ended by then


def test_runs_create_missing_definitions_and_init_brings_them_up_to_date(bigquery_url, capsys):
    from pipelines.cli import main

    warehouse = open_warehouse(bigquery_url)
    routine = f"{warehouse.project}.{warehouse.dataset}.pair"
    warehouse.client.query(f"CREATE OR REPLACE TABLE FUNCTION `{routine}`(arg_author STRING, arg_reader STRING, "
                           "arg_site STRING) AS (SELECT 'stale' AS site)").result()
    open_warehouse(bigquery_url).prepare()  # what a run does at launch: the existing function is left alone
    stale = f"SELECT site FROM `{routine}`('a', 'r', NULL)"
    assert [r[0] for r in warehouse.client.query(stale).result()] == ["stale"]
    assert main(["warehouse", "init", "--warehouse", bigquery_url]) == 0
    current = warehouse.client.get_routine(routine)  # the repository's pair.sql, with its own arguments
    assert [a.name for a in current.arguments][:3] == ["arg_author", "arg_reader", "arg_site"]
    assert "stale" not in current.body


def test_bulk_writes_load_rows_and_a_load_that_bigquery_rejects_names_the_bad_row(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    assert warehouse.write_scores([dict(r) for r in DATASET_ROWS], bulk=True) == ([], 0)
    jobs = [job for job in warehouse.client.list_jobs() if job.job_type == "load"]
    assert jobs and all(job.state == "DONE" and job.error_result is None for job in jobs)
    assert warehouse.count("pair_scores", all_rows=True) == len(DATASET_ROWS)
    bad = row("a", "r-bad", E, 0.2)
    bad["reader_comments"] = "many"
    refused = warehouse.write_scores([row("a", "r-ok", E, 0.1), bad], bulk=True).refused
    assert [r.row["reader_id"] for r in refused] == ["r-bad"]  # found by the streaming fallback
    assert warehouse.count("pair_scores", all_rows=True) == len(DATASET_ROWS) + 1


@pytest.mark.parametrize("method", ["auto", "storage-exactly-once"])  # auto: streaming inserts, as it is a stream
def test_a_stream_appends_its_panes_and_the_latest_view_shows_the_newest(bigquery_url, method):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.testing.test_stream import TestStream
    from apache_beam.transforms.window import TimestampedValue

    from helpers import HOUR_MS, T0, event
    from pipelines.scoring import build_scoring_pipeline

    day = 86400.0

    def stamped(e):
        return TimestampedValue(e, e.created_at / 1000)

    post = event("p1", "POST", "a", T0 + HOUR_MS)
    comment = event("c1", "COMMENT", "r", T0 + 2 * HOUR_MS, parent="p1")
    reply = event("c2", "REPLY", "a", T0 + 3 * HOUR_MS, parent="c1")
    late_comment = event("c3", "COMMENT", "r", T0 + 4 * HOUR_MS, parent="p1")
    # The resolver settles an event once the watermark passes it (a timer), and the DirectRunner does not
    # hold the watermark for timers: each step below lets the resolver's timers fire before the next.
    stream = (TestStream()
              .add_elements([stamped(post), stamped(comment), stamped(reply)])
              .advance_watermark_to(T0 / 1000 + 4 * 3600)  # past the three: resolved
              .advance_watermark_to(T0 / 1000 + day + 3600)  # the day's window closes: its on-time pane
              .add_elements([stamped(late_comment)])  # late, within the allowed lateness: a late pane
              .advance_watermark_to(T0 / 1000 + day + 2 * 3600)
              .advance_watermark_to_infinity())
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    settings = RunSettings(warehouse=bigquery_url, streaming=True, early_firing_s=None, window_s=86400.0,
                           dedupe_horizon_s=3 * 86400.0, bigquery_write=method)
    assert not settings.bulk_writes  # a stream writes with streaming inserts
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        build_scoring_pipeline(p | stream, p | "NoDecodeErrors" >> beam.Create([]), settings)

    warehouse = open_warehouse(bigquery_url)
    assert warehouse.count("run_ledger", all_rows=True) > 0  # the ledger's panes reached it too
    columns, rows = warehouse.export("pair_scores", all_rows=True)
    panes = sorted((r[columns.index("pane_index")], r[columns.index("pane_timing")], r[columns.index("reader_comments")])
                   for r in rows if r[columns.index("author_id")] == "a")
    # both panes appended (then, when the lateness ends, the final pane: the same counts, LATE)
    assert panes[:2] == [(0, "ON_TIME", 1), (1, "LATE", 2)] and all(p[1:] == ("LATE", 2) for p in panes[2:])
    columns, latest = warehouse.query("history", {"author": "a", "reader": "r", "site": None})
    assert [(r[columns.index("pane_timing")], r[columns.index("reader_comments")]) for r in latest
            if r[columns.index("author_id")] == "a"] == [("LATE", 2)]  # history lists both directions


@pytest.fixture
def requests_made(monkeypatch):
    """Every request the google-cloud clients send, as (method, path): a spy on the real connection."""
    from google.cloud._http import JSONConnection

    made = []
    real = JSONConnection.api_request

    def counted(self, method, path, *args, **kwargs):
        made.append((method, path))
        return real(self, method, path, *args, **kwargs)

    monkeypatch.setattr(JSONConnection, "api_request", counted)
    return made


def _ddl_jobs(warehouse) -> list:
    """The DDL statements run on this test's dataset (the emulator lists every dataset's jobs)."""
    return [job for job in warehouse.client.list_jobs()
            if job.job_type == "query" and warehouse.dataset in job.query
            and re.sub(r"/\*.*?\*/", "", job.query, flags=re.S).lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]


def test_a_worker_s_open_sends_no_request_and_writes_and_queries_issue_no_ddl(bigquery_url, requests_made):
    from transforms.sink import WriteBatchFn

    ddl_before = len(_ddl_jobs(open_warehouse(bigquery_url)))
    requests_made.clear()
    warehouse = open_warehouse(bigquery_url)
    WriteBatchFn(bigquery_url, "pair_scores").setup()  # what every worker's DoFn does
    assert requests_made == []
    warehouse.write_scores([dict(r) for r in DATASET_ROWS])
    assert [m for m, p in requests_made] == ["POST"] and requests_made[0][1].endswith("/insertAll")
    warehouse.query("pair", {"author": "a1", "reader": "r", "site": None})
    assert not any(p.endswith(("/datasets", "/tables", "/routines")) for _, p in requests_made)
    assert len(_ddl_jobs(warehouse)) == ddl_before


def test_a_run_prepares_the_warehouse_once_at_launch(empty_bigquery_url, tmp_path):
    community = generate_community(SMALL)
    events = tmp_path / "events.avro"
    write_community(community, events, tmp_path / "truth.jsonl")
    run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=empty_bigquery_url, bigquery_write="streaming"))
    warehouse = open_warehouse(empty_bigquery_url)
    # Created once: one statement per view and table function, whatever the number of workers.
    assert len(_ddl_jobs(warehouse)) == len(schemas.DEFINITIONS)
    run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=empty_bigquery_url, bigquery_write="streaming"))
    # A second run finds everything in place; it creates only what is missing (IF NOT EXISTS).
    assert len(_ddl_jobs(warehouse)) == 2 * len(schemas.DEFINITIONS)


def test_the_latest_view_keeps_the_row_of_the_most_data_across_runs(bigquery_url):
    # Issue 9, item 3: BigQuery appends, so the view must choose what the embedded warehouse keeps.
    from helpers import T0
    from pipelines.summary import summarize

    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([row("a", "r", E, 0.5, rc=5, ar=3, run=T0), row("a", "r", E, 0.4, rc=4, ar=3, run=T0, pane=1),
                            row("b", "r", E, 0.5, rc=2, ar=2, run=T0)])
    assert warehouse.write_scores([row("a", "r", E, 0.1, rc=2, ar=1, run=T0 + 1),  # truncated: less data
                                   row("b", "r", E, 0.7, rc=2, ar=2, run=T0 + 1)]).kept == 0  # as much: newer
    columns, rows = warehouse.query("history", {"author": "a", "reader": "r", "site": None})
    assert [r[columns.index("mentor_score")] for r in rows] == [0.4]  # run T0's newest pane, not the truncated row
    columns, rows = warehouse.query("history", {"author": "b", "reader": "r", "site": None})
    assert [r[columns.index("mentor_score")] for r in rows] == [0.7]
    later = summarize(bigquery_url, T0 + 1, 1.0)
    assert (later.kept_rows, later.pair_score_rows) == (1, 1)


@pytest.mark.parametrize("method", ["auto", "streaming"])
def test_a_restart_on_truncated_data_keeps_the_complete_rows_in_both_warehouses(
        bigquery_url, warehouse_path, tmp_path, method):
    from helpers import DAY_MS

    community = generate_community(SMALL)
    full, truncated = tmp_path / "full.avro", tmp_path / "truncated.avro"
    write_community(community, full, tmp_path / "truth.jsonl")
    first = min(e["created_at"] for e in community.events if not e["event_id"].startswith("bad:"))
    # Retention dropped the first two days: their windows (and the next) are recomputed from less.
    kept_events = [e for e in community.events if e["created_at"] >= first + 2 * DAY_MS]
    write_events(truncated, kept_events)
    for url in (bigquery_url, warehouse_path):
        complete = run_scoring(ReadEventFiles([str(full)]), RunSettings(warehouse=url, bigquery_write=method))
        before = latest_scores(url)
        restart = run_scoring(ReadEventFiles([str(truncated)]), RunSettings(warehouse=url, bigquery_write=method))
        assert complete.balanced and restart.balanced and restart.kept_rows > 0
        assert "kept rows" in restart.render()
        assert latest_scores(url) == before


def latest_scores(url):
    """What pair_scores_latest shows, without the columns of when rows were computed."""
    columns = "site, author_id, reader_id, window_start, reader_comments, author_replies, mentor_score"
    warehouse = open_warehouse(url)
    if url.startswith("bigquery://"):
        sql = f"SELECT {columns} FROM `{warehouse.project}.{warehouse.dataset}.pair_scores_latest`"
        rows = [tuple(r.values()) for r in warehouse.client.query(sql).result()]
        rows = [(*r[:3], r[3].replace(tzinfo=None), *r[4:]) for r in rows]
    else:
        import duckdb

        with duckdb.connect(url) as connection:
            rows = connection.execute(f"SELECT {columns} FROM pair_scores_latest").fetchall()
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows)


def test_runs_are_appended_and_the_newest_status_tells_whether_the_newest_run_finished(bigquery_url):
    from helpers import T0
    from pipelines.summary import newest_run_warning

    warehouse = open_warehouse(bigquery_url)
    warehouse.record_run({"run_started_at": T0, "status": "RUNNING", "source": "files: a", "recorded_at": T0})
    warehouse.record_run({"run_started_at": T0, "status": "FINISHED", "source": "files: a", "recorded_at": T0 + 9})
    assert newest_run_warning(bigquery_url) is None and warehouse.count("runs", all_rows=True) == 2  # appended; runs_latest shows 1
    warehouse.record_run({"run_started_at": T0 + 60_000, "status": "RUNNING", "source": "files: b", "recorded_at": T0})
    warning = newest_run_warning(bigquery_url)
    assert "the newest run 2026-03-02T00:01:00.000Z (files: b) did not finish (status RUNNING" in warning


def test_evaluate_gives_the_same_figures_on_bigquery_as_on_the_embedded_warehouse(bigquery_url, warehouse_path):
    from analysis.evaluate import evaluate

    week = 7 * DAY_MS
    rows = []
    for w in range(12):  # three months of weeks: a-b talk every week, a-c every third, c-d now and then
        end = E - w * week
        rows.append(row("a", "b", end, 0.3, rc=2, ar=1))
        if w % 3 == 0:
            rows.append(row("a", "c", end, 0.1, rc=1, ar=1 if w % 2 else 0))
        if w in (1, 5, 6):
            rows.append(row("c", "d", end, 0.2))
    results = []
    for url in (bigquery_url, warehouse_path):
        open_warehouse(url).write_scores([dict(r) for r in rows])
        evaluation = evaluate(open_warehouse(url), actors={(None, "a"): 3.0, (None, "b"): 1.0, (None, "c"): 2.0})
        results.append(([(m.cut, m.pairs, m.positives, {k: {n: round(v, 9) if v is not None else None for n, v in d.items()}
                                                         for k, d in m.metrics.items()}) for m in evaluation.months],
                         [(d.name, d.agree, d.decided) for d in evaluation.direction]))
    assert results[0] == results[1] and results[0][0]


def test_a_run_refuses_windows_of_another_length_than_the_dataset_holds(bigquery_url, tmp_path, capsys):
    # Outside tester: re-scoring with another --window into one warehouse mixed the lengths silently.
    from pipelines.cli import main

    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "p", "kind": "POST", "site": "s", "thread_id": "t", "item_id": "p", '
                      '"actor_id": "a", "created_at": 1772409600000}\n')
    open_warehouse(bigquery_url).write_scores([row("a", "r", E, 0.4)])  # a 1-day window
    assert main(["run", "--input", str(events), "--warehouse", bigquery_url]) == 2
    err = capsys.readouterr().err
    assert "holds 1d windows" in err and "--window 7d" in err and "--window 1d" in err, err
    assert open_warehouse(bigquery_url).count("pair_scores") == 1
    # a dataset that does not exist yet holds no windows: the run creates it and writes
    assert main(["run", "--input", str(events), "--warehouse", bigquery_url + "_new", "--window", "3d"]) == 0


def test_names_loaded_into_the_dataset_answer_query_and_export_as_in_the_embedded_warehouse(
        bigquery_url, warehouse_path, tmp_path, capsys):
    import json

    from pipelines.cli import main

    first = tmp_path / "actors.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in [
        {"site": "s", "actor_id": "a1", "name": "Ada", "signal": 10}, {"site": "s", "actor_id": "r", "name": "Rae"},
        {"actor_id": "a2", "name": "Bo"}]))
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(json.dumps({"site": "s", "actor_id": "a1", "name": "Ada L."}) + "\n")
    outputs = {}
    for url in (bigquery_url, warehouse_path):
        open_warehouse(url).write_scores([dict(r) for r in DATASET_ROWS])
        for actors in (first, renamed):  # the later load wins, though BigQuery appends both
            assert main(["warehouse", "load-actors", "--actors", str(actors), "--warehouse", url]) == 0
        capsys.readouterr()
        assert main(["query", "mentors", "--reader", "Rae", "--warehouse", url, "--format", "jsonl"]) == 0
        mentors = capsys.readouterr()
        assert main(["export", "actors", "--warehouse", url, "--format", "jsonl"]) == 0
        exported = sorted(capsys.readouterr().out.splitlines())
        outputs[url] = (mentors.out, exported)
        assert "is actor r on site s" in mentors.err
    assert outputs[bigquery_url][0] == outputs[warehouse_path][0]
    assert {(r["author_id"], r["author_name"]) for r in map(json.loads, outputs[warehouse_path][0].splitlines())} == {
        ("a1", "Ada L."), ("a2", "Bo")}  # a3 never answered r back: no mentor

    def people(lines: list[str]) -> list[dict]:  # each load's time is its own
        return [{k: v for k, v in json.loads(line).items() if k != "loaded_at"} for line in lines]

    assert people(outputs[bigquery_url][1]) == people(outputs[warehouse_path][1])
    assert len(outputs[bigquery_url][1]) == 3
