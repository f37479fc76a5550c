"""The benchmark's SQL restatement of the definitions (bench/reference.py) agrees row for row with the
pipeline on the cases that decide a holder: a reused item_id (created first holds it, not first in the
file), a reply before its parent, a self-response."""
import duckdb

from bench.events import write_events_with_seq
from bench.reference import COLUMNS, compare, pair_scores_sql, warehouse_sql
from helpers import HOUR_MS, T0


def record(event_id, kind, item_id, actor, at, parent=None):
    return {"event_id": event_id, "kind": kind, "site": "s", "thread_id": "t", "item_id": item_id,
            "parent_id": parent, "actor_id": actor, "parent_actor_id": None, "created_at": at,
            "parent_created_at": None}


def test_the_reference_agrees_with_the_pipeline_on_a_reused_item_id(tmp_path):
    from pipelines.scoring import RunSettings, run_scoring
    from transforms.decode import ReadEventFiles

    records = [
        record("e-p", "POST", "p", "A", T0),
        record("e-r", "REPLY", "r", "A", T0 + 3 * HOUR_MS, "c"),        # the author answers c, before c in the file
        record("e-x", "COMMENT", "c", "X", T0 + 2 * HOUR_MS, "p"),      # reuses c, first in the file, created later
        record("e-c", "COMMENT", "c", "R", T0 + HOUR_MS, "p"),          # c, created first: it holds the item
        record("e-s", "COMMENT", "s1", "A", T0 + 4 * HOUR_MS, "p"),     # a self-response: skipped
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
    assert compare(expected, actual) == []
