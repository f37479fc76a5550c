"""`--as-of` as an analyst types it (outside probe of issue 10: an empty value was read as "the
newest data" without a word, and an ISO date past the range was told it might be epoch seconds)."""
import pytest

from pipelines.cli import main
from pipelines.commands.query import parse_as_of


def test_an_empty_as_of_is_refused_naming_what_to_give():
    with pytest.raises(ValueError, match="--as-of is empty"):
        parse_as_of("")
    with pytest.raises(ValueError, match="--as-of is empty"):
        parse_as_of("   ")
    assert parse_as_of(None) is None  # left out: the newest data


def test_an_empty_as_of_on_the_command_line_exits_2(tmp_path, capsys):
    assert main(["query", "top", "--as-of", "", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "--as-of is empty" in capsys.readouterr().err


def test_the_range_is_said_in_dates_and_the_epoch_hint_only_for_numbers():
    assert parse_as_of("2099-12-31T23:59:59Z").year == 2099
    with pytest.raises(ValueError) as iso:
        parse_as_of("2100-12-31T23:59:59Z")
    assert "1990-01-01..2099-12-31" in str(iso.value) and "seconds" not in str(iso.value)
    with pytest.raises(ValueError) as seconds:
        parse_as_of(1_700_000_000)  # epoch seconds sent as millis: 1970
    assert "were seconds or microseconds sent?" in str(seconds.value)


# --as-of may not look ahead (issue 10, outside probe): a warehouse of only the events up to a cut and
# the whole warehouse, both asked as of that cut, must rank every pair the same. Before schema version 5
# a window holding a reply written after the cut lost its quick replies and mentor_score and decayed
# from its end, so the same past ranked differently once a later reply arrived (181 of 593 pairs of the
# 28-day synthetic community differed).

import datetime as _dt  # noqa: E402
import json  # noqa: E402

from warehouse import open_warehouse  # noqa: E402

FACTORS = ("comments", "replies", "quick_replies", "mentor_activity", "mentee_activity", "strength",
           "decayed_reader_comments", "decayed_comments_and_replies", "decayed_mentor_score",
           "mentor_partners", "mentee_partners", "mentor_comments", "mentee_comments", "mentor_replies",
           "mentee_replies", "windows", "last_interaction_at", "two_way")


def _events_file(path, lines: list[dict], up_to_ms: int | None = None):
    path.write_text("".join(json.dumps(e) + "\n" for e in lines if up_to_ms is None or e["created_at"] <= up_to_ms))
    return path


def _warehouse_of(events, where) -> str:
    assert main(["run", "--input", str(events), "--warehouse", str(where)]) == 0
    return str(where)


def _strengths(url: str, as_of: _dt.datetime) -> dict[tuple, dict]:
    columns, rows = open_warehouse(url, read_only=True, create=False).query(
        "strengths", {"site": None, "as_of": as_of, "half_life_days": 14.0})
    return {(r["site"], r["mentor_id"], r["mentee_id"]): r for r in (dict(zip(columns, row)) for row in rows)}


def _differing(a: dict, b: dict) -> list:
    """Pairs (and the factors) in which two rankings differ beyond float rounding."""
    def same(x, y):
        return x == pytest.approx(y, rel=1e-9, abs=1e-12) if isinstance(x, float) else x == y
    diffs = [(k, "missing") for k in a.keys() ^ b.keys()]
    diffs += [(k, f, a[k][f], b[k][f]) for k in a.keys() & b.keys() for f in FACTORS if not same(a[k][f], b[k][f])]
    return diffs


def test_as_of_a_cut_ranks_the_same_whatever_was_written_after_it(tmp_path, capsys):
    """R comments on A's post on Saturday, A answers within the hour (latency 1 h); R comments again on
    Sunday 22:00 and 23:50, and A answers the first on Tuesday after the week (before the cut,
    Thursday) and the second only on Saturday (after it). X comments on A's post too. As of the cut,
    the warehouse of the events up to it and the whole one agree: the answer written after the cut
    changes nothing. (Counting a window as it stands once the anchor is past its last interaction
    would count Tuesday's answer in the first warehouse and not in the second.)"""
    from helpers import DAY_MS, HOUR_MS, T0, record

    end = T0 + 7 * DAY_MS
    cut = end + 3 * DAY_MS
    items = [("p1", "POST", "A", T0 + HOUR_MS, None), ("c1", "COMMENT", "R", T0 + 5 * DAY_MS + 10 * HOUR_MS, "p1"),
             ("r1", "REPLY", "A", T0 + 5 * DAY_MS + 11 * HOUR_MS, "c1"), ("c2", "COMMENT", "R", end - 600_000, "p1"),
             ("x1", "COMMENT", "X", T0 + 2 * DAY_MS, "p1"), ("r2", "REPLY", "A", end + 5 * DAY_MS, "c2"),
             ("c3", "COMMENT", "R", end - 2 * HOUR_MS, "p1"), ("r3", "REPLY", "A", end + DAY_MS, "c3")]
    events = [record(event_id=f"e-{item}", kind=kind, item_id=item, actor_id=actor, created_at=at, parent_id=parent)
              for item, kind, actor, at, parent in items]
    upto = _warehouse_of(_events_file(tmp_path / "upto.jsonl", events, cut), tmp_path / "upto.duckdb")
    whole = _warehouse_of(_events_file(tmp_path / "whole.jsonl", events), tmp_path / "whole.duckdb")
    capsys.readouterr()
    as_of = _dt.datetime.fromtimestamp(cut / 1000, _dt.timezone.utc).replace(tzinfo=None)
    a, b = _strengths(upto, as_of), _strengths(whole, as_of)
    assert len(a) == 2 and _differing(a, b) == []
    pair = a[("s", "A", "R")]
    weight = 0.5 ** ((cut - (end - 600_000)) / (14 * DAY_MS))  # from the last interaction by the week's end
    assert pair["replies"] == pytest.approx(weight * 1)  # the answer written by the week's end
    assert pair["quick_replies"] == pytest.approx(pair["replies"] / 2)  # ... 1 h after its comment: quick
    assert pair["decayed_mentor_score"] > 0
    printed = []
    for url in (upto, whole):
        assert main(["query", "pair", "--author", "A", "--reader", "R", "--as-of", as_of.isoformat() + "Z",
                     "--warehouse", url, "--format", "jsonl"]) == 0
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]


@pytest.mark.parametrize("cut_days", [14, 17.5])
def test_as_of_a_cut_ranks_every_pair_of_a_generated_community_as_the_events_up_to_it_do(cut_days, tmp_path, capsys):
    """The probe's comparison, on a small synthetic community (28 days from Monday 2026-01-05): every
    pair's strength and factors as of the cut, from the whole warehouse and from one of only the
    events written by the cut (a cut on a window's end, and one inside a week)."""
    generated = tmp_path / "community.jsonl"
    assert main(["generate", "--out", str(generated), "--scale", "0.3"]) == 0
    events = [json.loads(line) for line in generated.read_text().splitlines()]
    start = _dt.datetime(2026, 1, 5)
    as_of = start + _dt.timedelta(days=cut_days)
    cut_ms = int((as_of - _dt.datetime(1970, 1, 1)).total_seconds() * 1000)
    upto = _warehouse_of(_events_file(tmp_path / "upto.jsonl", events, cut_ms), tmp_path / "upto.duckdb")
    whole = _warehouse_of(generated, tmp_path / "whole.duckdb")
    capsys.readouterr()
    a, b = _strengths(upto, as_of), _strengths(whole, as_of)
    assert len(a) > 100  # the community talked by then
    assert _differing(a, b) == []

def test_query_pair_says_how_many_responses_each_wrote_and_how_many_of_them_answered(tmp_path, warehouse_path, capsys):
    # Outside probe: "mentor 2 comments, 1 replies" read as three messages; an author reply is one of
    # the replier's reader comments (of the reverse direction), so it is counted once, as a part.
    import json

    from helpers import HOUR_MS, T0

    def event(item, kind, actor, hours, parent=None):
        return {"event_id": f"e-{item}", "kind": kind, "site": "s", "thread_id": "t", "item_id": item,
                "parent_id": parent, "actor_id": actor, "created_at": T0 + hours * HOUR_MS}

    events = [event("p", "POST", "A", 0), event("c1", "COMMENT", "R", 1, "p"),
              event("r1", "REPLY", "A", 2, "c1"), event("c2", "REPLY", "R", 3, "r1")]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["run", "--input", str(path), "--warehouse", warehouse_path]) == 0
    capsys.readouterr()
    assert main(["query", "pair", "--author", "A", "--reader", "R", "--warehouse", warehouse_path]) == 0
    out = capsys.readouterr().out
    # R wrote c1 and c2 (c2 answers A's r1); A wrote r1 (answering R's c1). One partner each, so the
    # side that wrote more responses, R, is the mentor.
    assert "s: R (mentor) and A" in out, out
    assert "written to each other: the mentor 2 responses (1 answering the other's), the mentee 1 (1 answering)" in out, out


def _blog_week(tmp_path, warehouse_path, capsys, site="s"):
    """The README's worked example in miniature: A posts, R comments three times, A answers twice."""
    import json

    from helpers import HOUR_MS, T0

    def event(item, kind, actor, hours, parent=None):
        return {"event_id": f"e-{item}", "kind": kind, "site": site, "thread_id": "t", "item_id": item,
                "parent_id": parent, "actor_id": actor, "created_at": T0 + hours * HOUR_MS}

    events = [event("p", "POST", "zoe", 0), event("c1", "COMMENT", "bob", 1, "p"), event("a1", "REPLY", "zoe", 2, "c1"),
              event("c2", "COMMENT", "bob", 3, "p"), event("a2", "REPLY", "zoe", 4, "c2"), event("c3", "COMMENT", "bob", 5, "p")]
    path = tmp_path / "blog.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["run", "--input", str(path), "--warehouse", warehouse_path]) == 0
    capsys.readouterr()


def test_a_query_on_a_site_the_warehouse_does_not_hold_names_the_site(tmp_path, warehouse_path, capsys):
    # Outside probe: `query top --site quantumcomputing` on a warehouse whose site is named after the
    # dump's folder said "no relationship that answered back on site quantumcomputing".
    _blog_week(tmp_path, warehouse_path, capsys)
    for query in (["top"], ["mentors", "--reader", "bob"]):
        assert main(["query", *query, "--site", "nosuch", "--warehouse", warehouse_path]) == 0
        err = capsys.readouterr().err
        assert "no pair scores on site 'nosuch'" in err and "SELECT DISTINCT site FROM pair_scores" in err, err


def test_mentors_of_someone_who_is_only_ever_the_mentor_side_says_so(tmp_path, warehouse_path, capsys):
    # Outside probe: an id with relationships only as the mentor side was told "check the id".
    _blog_week(tmp_path, warehouse_path, capsys)
    assert main(["query", "top", "--warehouse", warehouse_path, "--format", "jsonl"]) == 0
    mentor = json.loads(capsys.readouterr().out.splitlines()[0])["mentor_id"]
    mentee = "bob" if mentor == "zoe" else "zoe"
    assert main(["query", "mentors", "--reader", mentor, "--warehouse", warehouse_path]) == 0
    err = capsys.readouterr().err
    assert f"{mentor!r} is the mentor side of every relationship" in err and \
        f"query regulars --author {mentor}" in err, err
    assert main(["query", "regulars", "--author", mentee, "--warehouse", warehouse_path]) == 0
    err = capsys.readouterr().err
    assert f"{mentee!r} is the mentee side of every relationship" in err and f"query mentors --reader {mentee}" in err, err


def test_query_pair_says_whether_its_anchor_was_the_newest_data_or_a_given_time(tmp_path, warehouse_path, capsys):
    # Outside probe: the default anchor and --as-of the same window end print one "as of" label over
    # different numbers (a given anchor counts each window as it stood at its end).
    _blog_week(tmp_path, warehouse_path, capsys)
    assert main(["query", "pair", "--author", "zoe", "--reader", "bob", "--warehouse", warehouse_path]) == 0
    newest = capsys.readouterr().out.splitlines()[0]
    assert newest.endswith("as of 2026-03-09T00:00:00Z (the newest data: every window as it stands)"), newest
    assert main(["query", "pair", "--author", "zoe", "--reader", "bob", "--as-of", "2026-03-09",
                 "--warehouse", warehouse_path]) == 0
    given = capsys.readouterr().out.splitlines()[0]
    assert given.endswith("as of 2026-03-09T00:00:00Z (given: each window as it stood at its end)"), given


def test_an_as_of_far_past_the_newest_data_is_noted(tmp_path, warehouse_path, capsys):
    # Outside probe: --as-of 2099-01-01 ranked every pair at strength 0.000000, in an arbitrary order, silently.
    _blog_week(tmp_path, warehouse_path, capsys)
    assert main(["query", "top", "--as-of", "2099-01-01", "--warehouse", warehouse_path]) == 0
    err = capsys.readouterr().err
    assert "note: --as-of 2099-01-01T00:00:00Z is 26,596 days after the newest data (2026-03-09)" in err, err
    assert main(["query", "top", "--as-of", "2026-03-30", "--warehouse", warehouse_path]) == 0
    assert "note:" not in capsys.readouterr().err  # three weeks on: decayed, still an order


def test_query_history_shows_each_window_as_it_stood_at_its_end(tmp_path, warehouse_path, capsys):
    # Outside probe: history did not show why a given --as-of counted fewer replies than the default.
    import json as json_lines

    from helpers import HOUR_MS, T0

    def event(item, kind, actor, hours, parent=None):
        return {"event_id": f"e-{item}", "kind": kind, "site": "s", "thread_id": "t", "item_id": item,
                "parent_id": parent, "actor_id": actor, "created_at": T0 + hours * HOUR_MS}

    # the week of T0 ends 7 days on: one reply inside it, one 8 days after its comment
    events = [event("p", "POST", "A", 0), event("c1", "COMMENT", "R", 1, "p"), event("r1", "REPLY", "A", 2, "c1"),
              event("c2", "COMMENT", "R", 3, "p"), event("r2", "REPLY", "A", 3 + 8 * 24, "c2")]
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json_lines.dumps(e) + "\n" for e in events))
    assert main(["run", "--input", str(path), "--warehouse", warehouse_path]) == 0
    capsys.readouterr()
    assert main(["query", "history", "--author", "A", "--reader", "R", "--format", "jsonl",
                 "--warehouse", warehouse_path]) == 0
    rows = [json_lines.loads(line) for line in capsys.readouterr().out.splitlines()]
    week = next(r for r in rows if r["author_id"] == "A" and r["reader_comments"] == 2)
    assert (week["author_replies"], week["author_replies_by_window_end"]) == (2, 1), week
    assert week["reply_latency_p50_s_by_window_end"] == 3600.0 and week["last_interaction_at_by_window_end"] < week["last_interaction_at"], week
