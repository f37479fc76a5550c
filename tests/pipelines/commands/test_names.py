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


@pytest.fixture
def two_sites(warehouse_path, tmp_path):
    """Sites x and y with the same ids A (the author) and R (the reader), named differently on each."""
    rows = []
    for site in ("x", "y"):
        rows += [score_row("A", "R", E, 1.0, site=site, rc=1, ar=5),
                 score_row("R", "A", E - 7 * DAY_MS, 1.0, site=site, rc=1, ar=1)]
    open_warehouse(warehouse_path).write_scores(rows)
    actors = tmp_path / "act.jsonl"
    actors.write_text("".join(json.dumps(r) + "\n" for r in [
        {"site": "x", "actor_id": "A", "name": "Alice"}, {"site": "y", "actor_id": "A", "name": "Bob"},
        {"site": "x", "actor_id": "R", "name": "Rita"}, {"site": "y", "actor_id": "R", "name": "Rob"},
        {"site": "x", "actor_id": "S", "name": "Sam"}, {"site": "y", "actor_id": "T", "name": "Sam"}]))
    return warehouse_path, str(actors)


def test_a_name_on_one_site_is_that_site_s_person_and_the_query_keeps_to_that_site(two_sites, capsys):
    warehouse, actors = two_sites
    assert main(["query", "regulars", "--author", "Alice", "--warehouse", warehouse, "--actors", actors,
                 "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    assert [(r["site"], r["reader_name"]) for r in map(json.loads, captured.out.splitlines())] == [("x", "Rita")]
    assert "--author 'Alice' is actor A on site x" in captured.err
    assert main(["query", "pair", "--author", "Alice", "--reader", "Rita", "--warehouse", warehouse,
                 "--actors", actors]) == 0
    out = capsys.readouterr().out
    assert "x: Alice (A) (mentor) and Rita (R)" in out and "y:" not in out and "Bob" not in out
    # --site y: Alice is not a name there, and the hint says where she is
    assert main(["query", "regulars", "--author", "Alice", "--site", "y", "--warehouse", warehouse,
                 "--actors", actors]) == 0
    assert "a name on site x" in capsys.readouterr().err


def test_a_bare_id_still_means_that_id_on_every_site(two_sites, capsys):
    warehouse, actors = two_sites
    assert main(["query", "regulars", "--author", "A", "--warehouse", warehouse, "--actors", actors,
                 "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((r["site"], r["reader_name"]) for r in rows) == [("x", "Rita"), ("y", "Rob")]


def test_a_name_on_several_sites_asks_for_site(two_sites, capsys):
    warehouse, actors = two_sites
    assert main(["query", "regulars", "--author", "Sam", "--warehouse", warehouse, "--actors", actors]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "sites x, y" in captured.err and "--site" in captured.err
    assert main(["query", "regulars", "--author", "Sam", "--site", "y", "--warehouse", warehouse,
                 "--actors", actors]) == 0
    assert "--author 'Sam' is actor T on site y" in capsys.readouterr().err


def test_a_pair_of_names_on_different_sites_is_refused(two_sites, capsys):
    warehouse, actors = two_sites
    assert main(["query", "pair", "--author", "Alice", "--reader", "Rob", "--warehouse", warehouse,
                 "--actors", actors]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "never cross sites" in captured.err and "site x" in captured.err and "site y" in captured.err


def test_the_same_person_twice_is_refused_before_querying(two_sites, capsys):
    warehouse, actors = two_sites
    for author in ("A", "Alice"):  # an id, or a name that resolves to the same id
        assert main(["query", "pair", "--author", author, "--reader", "A", "--warehouse", warehouse,
                     "--actors", actors]) == 2
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        assert captured.out == "" and len(errors) == 1 and "same person" in errors[0]


def test_no_rows_of_top_does_not_ask_for_an_id(two_sites, capsys):
    warehouse, _ = two_sites
    assert main(["query", "top", "--site", "z", "--warehouse", warehouse]) == 0
    err = capsys.readouterr().err
    # site z holds no pair scores at all: said so (a site with scores but no answered-back pair is
    # "no relationship that answered back")
    assert "check the id" not in err and "no pair scores on site 'z' in this warehouse" in err, err


@pytest.mark.parametrize("query", [["mentors", "--reader", "R"], ["top"]])
def test_no_rows_in_a_warehouse_without_pair_scores_says_to_run_not_to_check_the_id(query, tmp_path, capsys):
    # an outside probe: after migrating a release-1 warehouse (its pair rows kept aside until the
    # recompute), query mentors said "check the id and --site"
    warehouse = str(tmp_path / "empty.duckdb")
    assert main(["warehouse", "init", "--warehouse", warehouse]) == 0
    capsys.readouterr()
    assert main(["query", *query, "--warehouse", warehouse]) == 0
    err = capsys.readouterr().err
    assert "check the id" not in err and "the warehouse holds no pair scores yet" in err, err
    assert f"social-mentors run --input EVENTS --warehouse {warehouse}" in err and "warehouse migrate" in err, err


def test_no_rows_before_the_first_window_names_as_of_not_the_id(two_sites, capsys):
    warehouse, _ = two_sites
    early = "2000-01-01T00:00:00Z"
    assert main(["query", "mentors", "--reader", "R", "--as-of", early, "--warehouse", warehouse]) == 0
    err = capsys.readouterr().err
    assert "check the id" not in err and "--as-of" in err and "2000-01-01" in err
    assert main(["query", "top", "--as-of", early, "--warehouse", warehouse]) == 0
    assert "answered back as of 2000-01-01T00:00:00Z" in capsys.readouterr().err


def test_a_bad_as_of_names_the_option_once(two_sites, capsys):
    warehouse, _ = two_sites
    assert main(["query", "mentors", "--reader", "R", "--as-of", "yesterday", "--warehouse", warehouse]) == 2
    err = capsys.readouterr().err
    assert err.count("--as-of") == 1 and "'yesterday'" in err


def _actors_file(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_names_loaded_into_the_warehouse_answer_without_a_file_and_a_later_load_wins(named, tmp_path, capsys):
    warehouse, actors = named
    assert main(["query", "regulars", "--author", "meowzz", "--warehouse", warehouse]) == 0
    assert "warehouse load-actors --actors FILE" in capsys.readouterr().err  # a warehouse without names says how
    assert main(["warehouse", "load-actors", "--actors", actors, "--warehouse", warehouse]) == 0
    assert "loaded 3 actors" in capsys.readouterr().out
    assert main(["query", "regulars", "--author", "meowzz", "--warehouse", warehouse, "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    assert "is actor 8" in captured.err
    assert {(r["reader_id"], r["reader_name"]) for r in map(json.loads, captured.out.splitlines())} == {
        ("7", HOSTILE), ("9", None)}
    renamed = _actors_file(tmp_path / "renamed.jsonl", [{"site": "s", "actor_id": "8", "name": "meowzz2"}])
    assert main(["warehouse", "load-actors", "--actors", renamed, "--warehouse", warehouse]) == 0
    capsys.readouterr()
    assert main(["query", "top", "--warehouse", warehouse, "--format", "jsonl"]) == 0
    assert {json.loads(line)["mentor_name"] for line in capsys.readouterr().out.splitlines()} == {"meowzz2"}
    assert main(["export", "actors", "--warehouse", warehouse, "--format", "jsonl"]) == 0
    exported = sorted((r["actor_id"], r["name"]) for r in map(json.loads, capsys.readouterr().out.splitlines()))
    assert exported == [("7", HOSTILE), ("8", "meowzz2"), ("9", None)]  # one row a person: the newest load
    # Outside probe: a file naming one person hid every name the warehouse holds. It wins person by person.
    one = _actors_file(tmp_path / "one.jsonl", [{"site": "s", "actor_id": "9", "name": "Nine"}])
    assert main(["query", "regulars", "--author", "8", "--warehouse", warehouse, "--actors", one, "--format", "jsonl"]) == 0
    assert {(r["reader_id"], r["reader_name"]) for r in map(json.loads, capsys.readouterr().out.splitlines())} == {
        ("7", HOSTILE), ("9", "Nine")}


def test_load_actors_refuses_a_warehouse_that_does_not_exist_and_creates_nothing(named, tmp_path, capsys):
    # Outside probe: a mistyped --warehouse became a new warehouse holding only the names.
    _, actors = named
    missing = tmp_path / "typo.duckdb"
    assert main(["warehouse", "load-actors", "--actors", actors, "--warehouse", str(missing)]) == 2
    assert "no warehouse at" in capsys.readouterr().err and not missing.exists()


def test_the_report_finds_the_names_in_the_warehouse(named, tmp_path):
    warehouse, actors = named
    assert main(["warehouse", "load-actors", "--actors", actors, "--warehouse", warehouse]) == 0
    out = tmp_path / "report.html"
    assert main(["report", "--warehouse", warehouse, "--out", str(out)]) == 0
    assert "meowzz (8)" in out.read_text()


def test_run_loads_the_actors_before_scoring_and_a_bad_line_stops_it_before_any_work(tmp_path, capsys):
    from producers.synthetic import CommunitySpec, generate_community, write_community

    events = tmp_path / "events.avro"
    community = generate_community(CommunitySpec(seed=5, sites=1, authors_per_site=3, readers_per_site=8,
                                                 planted_per_site=2, days=4))
    write_community(community, events, tmp_path / "truth.jsonl")
    warehouse = str(tmp_path / "w.duckdb")
    bad = _actors_file(tmp_path / "bad.jsonl", [{"actor_id": "a", "name": "x"}, {"name": "no id"}])
    assert main(["run", "--input", str(events), "--warehouse", warehouse, "--actors", bad]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "actor_id" in err
    assert "Scoring" not in err  # refused before the pipeline
    assert not (tmp_path / "w.duckdb").exists()  # outside probe: the bad file left a new, empty warehouse
    assert main(["run", "--input", str(events), "--warehouse", warehouse]) == 0  # the file scores alone
    capsys.readouterr()
    assert main(["query", "top", "--warehouse", warehouse, "--format", "jsonl"]) == 0
    mentor = json.loads(capsys.readouterr().out.splitlines()[0])["mentor_id"]
    good = _actors_file(tmp_path / "good.jsonl", [{"site": "", "actor_id": mentor, "name": "The Mentor"}])
    assert main(["run", "--input", str(events), "--warehouse", warehouse, "--actors", good]) == 0
    assert "Loaded 1 actors" in capsys.readouterr().err
    assert main(["query", "top", "--warehouse", warehouse, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["mentor_name"] for r in rows if r["mentor_id"] == mentor} == {"The Mentor"}  # "" site: every site
    assert {r["mentor_name"] for r in rows if r["mentor_id"] != mentor} <= {None}


def test_an_unknown_name_gets_its_hint_instead_of_an_empty_table_and_a_known_one_is_not_told_to_check_the_id(
        named, capsys):
    # Outside probe: an unknown name printed the hint and then an empty table; a name found, whose
    # person simply has no rows, was told to check the id.
    warehouse, actors = named
    assert main(["query", "mentors", "--reader", "meowz", "--warehouse", warehouse, "--actors", actors]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "neither an id nor a name" in captured.err
    assert main(["query", "regulars", "--author", HOSTILE, "--warehouse", warehouse, "--actors", actors]) == 0
    err = capsys.readouterr().err
    # found by name, and only ever the mentee side (the asker): the query that lists them is named
    assert "(no rows: " in err and "(7) is the mentee side of every relationship here" in err, err
    assert "query mentors --reader" in err and "check the id" not in err, err


def test_a_file_that_names_someone_twice_differently_says_the_last_line_is_kept(named, tmp_path, capsys):
    # Outside probe: the last of two names was kept silently, and the first one then found no one.
    warehouse, _ = named
    twice = _actors_file(tmp_path / "twice.jsonl", [{"site": "s", "actor_id": "8", "name": "First"},
                                                    {"site": "s", "actor_id": "8", "name": "Second"},
                                                    {"site": "s", "actor_id": "7", "name": "Same"},
                                                    {"site": "s", "actor_id": "7", "name": "Same"}])
    assert main(["warehouse", "load-actors", "--actors", twice, "--warehouse", warehouse]) == 0
    err = capsys.readouterr().err
    assert "gives 1 people more than one name or signal (e.g. '8' on site s): the last line of each is kept" in err
