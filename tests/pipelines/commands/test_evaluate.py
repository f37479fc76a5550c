"""`social-mentors evaluate --actors FILE`: the direction report on any warehouse, and an actors file
whose signals are checked where they are read."""
import json

import pytest

from helpers import HOUR_MS, T0
from pipelines.cli import main


@pytest.fixture
def one_month(tmp_path, warehouse_path, capsys):
    """Within one month: a Q&A site where H answers Q1..Q3 and each asker follows up, and a blog where
    B answers R1..R3 (scored by the real pipeline), and an actors file ranking H and B highest."""
    events = []

    def add(site, item, kind, actor, hours, parent=None, thread="t"):
        events.append({"event_id": f"{site}-{item}", "kind": kind, "site": site, "thread_id": thread,
                       "item_id": item, "parent_id": parent, "actor_id": actor, "created_at": T0 + hours * HOUR_MS})

    add("blog", "bp", "POST", "B", 0)
    for i in (1, 2, 3):
        add("qa", f"p{i}", "POST", f"Q{i}", i, thread=f"t{i}")
        add("qa", f"a{i}", "COMMENT", "H", i + 1, f"p{i}", thread=f"t{i}")
        add("qa", f"f{i}", "REPLY", f"Q{i}", i + 2, f"a{i}", thread=f"t{i}")
        add("blog", f"c{i}", "COMMENT", f"R{i}", i + 1, "bp")
        add("blog", f"r{i}", "REPLY", "B", i + 2, f"c{i}")
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["run", "--input", str(path), "--warehouse", warehouse_path]) == 0
    capsys.readouterr()
    signals = {"H": 100, "B": 50, **{f"Q{i}": 5 for i in (1, 2, 3)}, **{f"R{i}": 1 for i in (1, 2, 3)}}
    return warehouse_path, [{"actor_id": a, "signal": s} for a, s in signals.items()]


def _actors(tmp_path, records, raw_lines=()) -> str:
    path = tmp_path / "actors.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "".join(line + "\n" for line in raw_lines))
    return str(path)


@pytest.mark.parametrize("period", [[], ["--period", "7d"]], ids=["month", "7d"])
def test_the_direction_table_is_printed_when_no_period_can_be_scored(one_month, tmp_path, capsys, period):
    # Outside probe: only "No period has both ..." was printed, and no direction table.
    warehouse, records = one_month
    assert main(["evaluate", "--actors", _actors(tmp_path, records), "--warehouse", warehouse, *period]) == 0
    out = capsys.readouterr().out
    # Outside probe: a data set shorter than a period and the next was told "No period has both a
    # pair with and without a two-way exchange", as if its periods had been scored; it names the span.
    if period:  # one 7-day period fits, with nobody active before it
        assert out.startswith("No period has both a pair with and a pair without a two-way exchange"), out
    else:
        assert out.startswith("The data (windows 2026-03-02 .. 2026-03-09) does not cover a whole month and the next "
                              "one: nothing to evaluate; give data over at least two periods, or a shorter --period"), out
    assert "Direction: 6 two-way pairs as of the newest data, 8 actors with a signal" in out
    assert "| strength's mentor side (more partners) | 100.0% | 6 |" in out


@pytest.mark.parametrize("signal, why", [('"100"', 'signal "100" is not a finite number'),
                                         ("true", "signal true is not a finite number"),
                                         ("NaN", "signal NaN is not a finite number"),
                                         ("Infinity", "signal Infinity is not a finite number"),
                                         ("null", "has no signal")])
def test_a_signal_that_is_not_a_finite_number_stops_evaluate_with_one_line_naming_it(
        one_month, tmp_path, capsys, signal, why):
    warehouse, records = one_month
    actors = _actors(tmp_path, records, [f'{{"actor_id": "Z9", "signal": {signal}}}'])
    assert main(["evaluate", "--actors", actors, "--warehouse", warehouse]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()[-1:]
    assert line.startswith(f"error: {actors}:9: ") and "'Z9'" in line and why in line


def test_an_actor_given_two_different_signals_is_noted_and_the_last_kept(one_month, tmp_path, capsys):
    warehouse, records = one_month
    # H's 100 is replaced by 0: the last line wins, so H now has the lower signal against every asker
    actors = _actors(tmp_path, [*records, {"actor_id": "H", "signal": 0}, {"actor_id": "B", "signal": 50}])
    assert main(["evaluate", "--actors", actors, "--warehouse", warehouse]) == 0
    captured = capsys.readouterr()
    assert f"note: {actors} gives 1 people more than one signal (e.g. 'H'): the last line of each is kept" in captured.err
    assert "| strength's mentor side (more partners) | 50.0% | 6 |" in captured.out


def test_an_unknown_site_is_named_not_taken_for_a_short_data_set(one_month, capsys):
    # Outside probe: `--site nosuch` said the data set was short and suggested a shorter --period.
    warehouse, _ = one_month
    assert main(["evaluate", "--site", "nosuch", "--warehouse", warehouse]) == 2
    err = capsys.readouterr().err
    assert "no pair scores on site 'nosuch'" in err and "shorter --period" not in err


def test_a_period_shorter_than_the_windows_is_refused_not_read_as_a_window(one_month, capsys):
    # Outside probe: `--period 3d` on 7-day windows silently gave the 7d result (cuts fall on window bounds).
    warehouse, _ = one_month
    assert main(["evaluate", "--period", "3d", "--warehouse", warehouse]) == 2
    err = capsys.readouterr().err
    assert "--period 3d is shorter than the warehouse's windows (7d)" in err
