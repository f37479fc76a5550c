"""Names beside ids: `query --actors FILE` and `report --actors FILE` show each person's display name
(from `import stackexchange --actors-out FILE`) beside the id, which stays authoritative; a name is
escaped in HTML and its control characters are shown, not sent, on a terminal."""
import json

import pytest

from helpers import DAY_MS, E, score_row
from pipelines.cli import main
from warehouse import open_warehouse

HOSTILE = "\x1b[31mRed<b>Asker</b>\u202e"


@pytest.fixture
def named(warehouse_path, tmp_path):
    """A warehouse where 8 mentors 7 (and 9), and the actors file naming 7 and 8."""
    open_warehouse(warehouse_path).write_scores([
        score_row("8", "7", E, 1.0, rc=6, ar=5), score_row("7", "8", E - 7 * DAY_MS, 1.0, rc=1, ar=1),
        score_row("8", "9", E, 1.0, rc=2, ar=2)])
    actors = tmp_path / "actors.jsonl"
    actors.write_text("".join(json.dumps(r) + "\n" for r in [
        {"site": "s", "actor_id": "7", "signal": 101, "name": HOSTILE},
        {"site": "s", "actor_id": "8", "signal": 2645, "name": "meowzz"},
        {"site": "s", "actor_id": "9", "signal": 1, "name": None}]))
    return warehouse_path, str(actors)


def test_query_shows_a_name_column_beside_each_id(named, capsys):
    warehouse, actors = named
    assert main(["query", "top", "--warehouse", warehouse, "--actors", actors, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [list(r)[:5] for r in rows][0] == ["site", "mentor_id", "mentor_name", "mentee_id", "mentee_name"]
    assert {(r["mentor_id"], r["mentor_name"], r["mentee_id"], r["mentee_name"]) for r in rows} == {
        ("8", "meowzz", "7", HOSTILE), ("8", "meowzz", "9", None)}


def test_a_name_on_the_terminal_has_its_control_characters_shown_not_sent(named, capsys):
    warehouse, actors = named
    assert main(["query", "regulars", "--author", "8", "--warehouse", warehouse, "--actors", actors]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[31mRed<b>Asker</b>\\u202e" in out
    assert main(["query", "pair", "--author", "8", "--reader", "7", "--warehouse", warehouse, "--actors", actors]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "meowzz (8) (mentor)" in out


def test_query_accepts_a_name_for_an_id_and_says_which_id(named, capsys):
    warehouse, actors = named
    assert main(["query", "mentors", "--reader", HOSTILE, "--warehouse", warehouse, "--actors", actors,
                 "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["author_id"] for line in captured.out.splitlines()] == ["8"]
    assert "is actor 7" in captured.err and "\x1b" not in captured.err


def test_an_unknown_person_gets_a_hint_not_just_an_empty_table(named, capsys):
    warehouse, actors = named
    assert main(["query", "mentors", "--reader", "meowz", "--warehouse", warehouse, "--actors", actors]) == 0
    err = capsys.readouterr().err
    assert "neither an id nor a name" in err and "meowzz (8)" in err


def test_the_report_shows_names_escaped_beside_ids(named, tmp_path, capsys):
    warehouse, actors = named
    out = tmp_path / "report.html"
    assert main(["report", "--warehouse", warehouse, "--out", str(out), "--actors", actors]) == 0
    html = out.read_text()
    assert "meowzz (8)" in html
    assert "<b>Asker" not in html and "Red&lt;b&gt;Asker&lt;/b&gt;" in html
    assert "\x1b" not in html and "\u202e" not in html
