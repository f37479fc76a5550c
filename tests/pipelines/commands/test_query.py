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
