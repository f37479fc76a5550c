"""The benchmark's SQL restatement of the definitions (bench/reference.py) agrees row for row with the
pipeline on the cases that decide a holder (a reused item_id: created first holds it, not first in the
file), a reply before its parent, a self-response, and a reply after its comment's window (the
columns as of the window's end)."""
import duckdb

from bench.events import write_events_with_seq
from bench.reference import COLUMNS, compare, pair_scores_sql, warehouse_sql
from helpers import HOUR_MS, T0

WEEK_MS = 7 * 24 * HOUR_MS  # T0 is a Monday 00:00 UTC: windows end every WEEK_MS after it


def record(event_id, kind, item_id, actor, at, parent=None):
    return {"event_id": event_id, "kind": kind, "site": "s", "thread_id": "t", "item_id": item_id,
            "parent_id": parent, "actor_id": actor, "parent_actor_id": None, "created_at": at,
            "parent_created_at": None}


def test_the_reference_agrees_with_the_pipeline_on_reused_items_and_replies_after_the_window(tmp_path):
    from pipelines.scoring import RunSettings, run_scoring
    from transforms.decode import ReadEventFiles

    records = [
        record("e-p", "POST", "p", "A", T0),
        record("e-r", "REPLY", "r", "A", T0 + 3 * HOUR_MS, "c"),        # the author answers c, before c in the file
        record("e-x", "COMMENT", "c", "X", T0 + 2 * HOUR_MS, "p"),      # reuses c, first in the file, created later
        record("e-c", "COMMENT", "c", "R", T0 + HOUR_MS, "p"),          # c, created first: it holds the item
        record("e-s", "COMMENT", "s1", "A", T0 + 4 * HOUR_MS, "p"),     # a self-response: skipped
        record("e-c2", "COMMENT", "c2", "R", T0 + WEEK_MS - 600_000, "p"),  # Sunday 23:50 ...
        record("e-r2", "REPLY", "r2", "A", T0 + WEEK_MS + 600_000, "c2"),   # ... answered at 00:10: after the window
    ]
    avro, parquet = tmp_path / "events.avro", tmp_path / "events.parquet"
    assert write_events_with_seq(iter(records), avro, parquet) == len(records)
    warehouse = str(tmp_path / "w.duckdb")
    summary = run_scoring(ReadEventFiles([str(avro)]), RunSettings(warehouse=warehouse))
    assert summary.balanced and summary.dead_letters == {"DUPLICATE_ITEM": 1}
    with duckdb.connect() as connection:
        expected = connection.execute(
            f"SELECT {', '.join(COLUMNS)} FROM ({pair_scores_sql(str(parquet))})").fetchall()
    with duckdb.connect(warehouse, read_only=True) as connection:
        actual = connection.execute(warehouse_sql()).fetchall()
    assert {(row[1], row[2]) for row in expected} == {("A", "R"), ("R", "A")}, expected
    by_end = dict(zip(COLUMNS, next(row for row in expected if row[1:4] == ("A", "R", T0))))
    assert (by_end["author_replies"], by_end["author_replies_by_window_end"]) == (2, 1)
    assert by_end["mentor_score_by_window_end"] < by_end["mentor_score"]
    assert compare(expected, actual) == []
