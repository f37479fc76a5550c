"""What the report ranks: relationships by their strength (``_pair_strength.sql``, as `query top`),
never by summed mentor_score."""
from helpers import DAY_MS, E, score_row
from report import data as report_data
from warehouse import open_warehouse


def _loud_and_strong(warehouse_path: str) -> None:
    """A pair with a huge mentor_score but one comment and one reply, and a pair that talks a lot
    with a small mentor_score."""
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores([
        score_row("loud-author", "loud-reader", E, 50.0, rc=1, ar=1),
        score_row("strong-author", "strong-reader", E, 0.5, rc=12, ar=10),
        score_row("strong-author", "strong-reader", E - 7 * DAY_MS, 0.5, rc=9, ar=8),
        # each author reply is also a reader comment of the other direction, as the pipeline writes it
        score_row("loud-reader", "loud-author", E, 0.0, rc=1, ar=0),
        score_row("strong-reader", "strong-author", E, 0.0, rc=10, ar=0),
        score_row("strong-reader", "strong-author", E - 7 * DAY_MS, 0.0, rc=8, ar=0),
    ])


def test_the_network_ranks_and_weighs_pairs_by_strength_not_summed_mentor_score(warehouse_path):
    _loud_and_strong(warehouse_path)
    loaded = report_data.load(warehouse_path)
    edges = report_data.top_edges(loaded, 10)
    # the mentor side is the one that wrote more (one partner each): the strong pair's reader
    assert [(e.mentor_id, e.mentee_id) for e in edges] == [("strong-reader", "strong-author"),
                                                           ("loud-author", "loud-reader")]
    strong, loud = edges
    assert strong.strength > loud.strength
    assert loaded.weight_name == "relationship strength"
    # the weights are the strengths `query top` prints, pair for pair
    columns, rows = open_warehouse(warehouse_path, read_only=True).query(
        "top", {"site": None, "as_of": None, "half_life_days": 14.0, "top": 10})
    top = {(r[columns.index("mentor_id")], r[columns.index("mentee_id")]): r[columns.index("strength")] for r in rows}
    assert {(e.mentor_id, e.mentee_id): e.strength for e in edges} == top


def test_an_edge_s_timeline_holds_both_directions_of_the_pair(warehouse_path):
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores([score_row("m", "x", E, 1.0, rc=3, ar=2), score_row("x", "m", E, 1.0, rc=1, ar=1),
                            score_row("m", "y", E, 1.0, rc=1, ar=1)])  # m has more partners: the mentor
    edges = report_data.top_edges(report_data.load(warehouse_path), 10)
    mx = next(e for e in edges if e.mentee_id == "x")
    assert (mx.mentor_id, mx.comments, mx.replies) == ("m", 4, 3)
    assert [(w["reader_comments"], w["author_replies"]) for w in mx.timeline] == [(4, 3)]


def _run_on_lines(tmp_path, lines: list[dict], warehouse: str):
    import json

    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from transforms.decode import ReadEventFiles

    path = tmp_path / f"events-{len(lines)}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return run_scoring(ReadEventFiles([str(path)]), RunSettings(warehouse=warehouse))


def test_the_header_s_skips_are_those_the_newest_run_counted(tmp_path, warehouse_path):
    """The report's header said "skipped 0 (no run ledger in this warehouse)" whatever the runs had
    skipped: its skips are now the newest run's ledger, the counts its own summary printed."""
    from helpers import HOUR_MS, T0

    def line(event_id, kind, actor, at, parent=None):
        return {"event_id": event_id, "kind": kind, "site": "s", "thread_id": "p1", "item_id": event_id,
                "parent_id": parent, "actor_id": actor, "created_at": at}

    thread = [line("p1", "POST", "A", T0), line("c1", "COMMENT", "R", T0 + HOUR_MS, "p1"),
              line("r1", "REPLY", "A", T0 + 2 * HOUR_MS, "c1")]
    open_warehouse(warehouse_path).write_scores([score_row("m", "x", E, 1.0)])  # rows, but no run recorded
    assert report_data.load(warehouse_path).skipped == [] and report_data.load(warehouse_path).skipped_run is None
    first = _run_on_lines(tmp_path, thread, warehouse_path)
    assert first.balanced and first.skipped == {"post": 1}
    loaded = report_data.load(warehouse_path)
    assert loaded.skipped == [("post", 1)] and loaded.skipped_run is not None
    # a newer run that also skipped a self-response: the header follows the newest run, not a sum
    newest = _run_on_lines(tmp_path, thread + [line("s1", "COMMENT", "A", T0 + 3 * HOUR_MS, "p1")], warehouse_path)
    assert newest.balanced and newest.skipped == {"post": 1, "self_response": 1}
    loaded = report_data.load(warehouse_path)
    assert sorted(loaded.skipped) == [("post", 1), ("self_response", 1)]
    from report.page import render
    assert "by the newest run (" in render(loaded) and "post: 1, self_response: 1" in render(loaded)
