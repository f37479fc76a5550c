from datetime import timezone

import pytest

from helpers import DAY_MS, E, T0, score_row as row
from warehouse import open_warehouse

@pytest.fixture
def warehouse(warehouse_path):
    w = open_warehouse(warehouse_path)
    w.write_scores([
        row("a1", "r", E, 0.4, days=3),
        row("a1", "r", E - 14 * DAY_MS, 0.6, days=2),  # one half-life older: counts half
        row("a2", "r", E, 0.65),
        row("a3", "r", E, 0.0, ar=0),  # never answered: not a mentor
        row("a4", "r", E, 5.0, site="other"),
        row("a1", "r2", E - 14 * DAY_MS, 0.1, days=5),
    ])
    return w


def test_mentors_rank_by_strength_decayed_from_the_newest_window(warehouse):
    columns, rows = warehouse.query("mentors", {"reader": "r", "site": "s", "top": 10, "half_life_days": 14.0})
    ranked = [(r[columns.index("author_id")], round(r[columns.index("strength")], 6)) for r in rows]
    assert ranked == [("a1", 0.7), ("a2", 0.65)]


def test_mentors_without_a_site_look_across_sites_and_top_limits(warehouse):
    columns, rows = warehouse.query("mentors", {"reader": "r", "site": None, "top": 2, "half_life_days": 14.0})
    assert [r[columns.index("author_id")] for r in rows] == ["a4", "a1"]


def test_regulars_rank_readers_by_decayed_active_days(warehouse):
    columns, rows = warehouse.query("regulars", {"author": "a1", "site": None, "top": 10, "half_life_days": 14.0})
    assert [(r[columns.index("reader_id")], round(r[columns.index("regularity")], 6)) for r in rows] == [
        ("r", 4.0), ("r2", 2.5)]


def test_pair_lists_every_window_in_order(warehouse):
    columns, rows = warehouse.query("pair", {"author": "a1", "reader": "r", "site": None})
    assert [r[columns.index("mentor_score")] for r in rows] == [0.6, 0.4]


def test_the_newest_pane_wins_whatever_order_panes_arrive_in(warehouse_path):
    w = open_warehouse(warehouse_path)
    w.write_scores([row("a", "r", E, 0.1, pane=0, timing="EARLY")])
    w.write_scores([row("a", "r", E, 0.3, pane=2, timing="LATE"), row("a", "r", E, 0.2, pane=1)])
    w.write_scores([row("a", "r", E, 0.2, pane=1)])  # a retried, older pane
    columns, rows = w.query("pair", {"author": "a", "reader": "r", "site": None})
    assert [(r[columns.index("pane_timing")], r[columns.index("mentor_score")]) for r in rows] == [("LATE", 0.3)]
    assert w.count("pair_scores") == 1


def test_a_later_run_replaces_the_rows_of_an_earlier_one_from_pane_zero(warehouse_path):
    w = open_warehouse(warehouse_path)
    w.write_scores([row("a", "r", E, 0.3, pane=3, timing="LATE", run=T0)])
    w.write_scores([row("a", "r", E, 0.5, pane=0, run=T0 + 1)])  # a restarted run recomputed the window
    columns, rows = w.query("pair", {"author": "a", "reader": "r", "site": None})
    assert [r[columns.index("mentor_score")] for r in rows] == [0.5]


def test_a_replayed_dead_letter_is_stored_once_per_run(warehouse_path):
    w = open_warehouse(warehouse_path)
    dead = {"origin": "f:1", "error_kind": "PARSE_ERROR", "message": "m", "event_id": None,
            "raw_payload": "{", "arrived_at": T0, "run_started_at": T0}
    w.write_dead_letters([dead, dict(dead)])
    w.write_dead_letters([dict(dead, message="again")])
    w.write_dead_letters([dict(dead, message="next run", run_started_at=T0 + 1)])
    columns, rows = w.export("dead_letters", all_rows=True)
    assert [r[columns.index("message")] for r in rows] == ["m", "next run"]
    columns, rows = w.export("dead_letters")  # the latest view: the record once, the newest run's
    assert [r[columns.index("message")] for r in rows] == ["next run"] and w.count("dead_letters") == 1


def contributions(w):
    columns, rows = w.export("pair_scores")
    return [(r[columns.index("reader_comments")], r[columns.index("author_replies")],
             round(r[columns.index("run_started_at")].replace(tzinfo=timezone.utc).timestamp() * 1000) - T0) for r in rows]


def test_a_row_of_another_run_from_less_data_never_replaces_a_complete_row(warehouse_path):
    # Issue 9, item 3: a restart with limited retention recomputed old windows from truncated data,
    # and "the later run wins" replaced the complete rows.
    w = open_warehouse(warehouse_path)
    assert w.write_scores([row("a", "r", E, 0.5, rc=5, ar=3, run=T0)]).kept == 0
    assert w.write_scores([row("a", "r", E, 0.1, rc=2, ar=1, run=T0 + 1)]).kept == 1  # truncated
    assert contributions(w) == [(5, 3, 0)]
    assert w.write_scores([row("a", "r", E, 0.5, rc=4, ar=4, run=T0 + 1)]).kept == 0  # as much data: newer run
    assert contributions(w) == [(4, 4, 1)]
    assert w.write_scores([row("a", "r", E, 0.5, rc=5, ar=3, run=T0)]).kept == 1  # as much, older run
    assert w.write_scores([row("a", "r", E, 0.6, rc=5, ar=4, run=T0 + 1, pane=1)]).kept == 0  # later pane
    assert contributions(w) == [(5, 4, 1)]
    # In one write too: the rows of one key are chosen by the same rule.
    kept = w.write_scores([row("b", "r", E, 0.5, rc=6, ar=0, run=T0), row("b", "r", E, 0.1, rc=1, ar=0, run=T0 + 1)])
    assert kept.kept == 1 and sorted(contributions(w))[-1] == (6, 0, 0)


def test_the_ledger_keeps_the_newest_pane_and_a_run_its_newest_status(warehouse_path):
    w = open_warehouse(warehouse_path)
    entry = {"run_started_at": T0, "outcome": "records_in", "reason": "", "count": 5, "pane_index": 1, "recorded_at": T0}
    w.write_ledger([entry, dict(entry, count=9, pane_index=2)])
    w.write_ledger([dict(entry, count=3, pane_index=0)])  # a late, older firing
    assert [r[3] for r in w.export("run_ledger")[1]] == [9]
    w.record_run({"run_started_at": T0, "status": "RUNNING", "source": "files: x", "recorded_at": T0})
    w.record_run({"run_started_at": T0, "status": "FINISHED", "source": "files: x", "recorded_at": T0 + 5,
                  "records_in": 9})
    columns, rows = w.query("newest_run", {})
    assert dict(zip(columns, rows[0]))["status"] == "FINISHED" and w.count("runs") == 1


def test_timestamps_are_stored_as_utc_timestamps(warehouse):
    columns, rows = warehouse.export("pair_scores")
    first = dict(zip(columns, next(iter(rows))))
    assert first["window_end"].isoformat() in {"2026-03-16T00:00:00", "2026-03-30T00:00:00"}


def test_malformed_bigquery_urls_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="bigquery://PROJECT/DATASET"):
        open_warehouse("bigquery://project-only")
