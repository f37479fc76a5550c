import datetime as dt
import json

import pytest

from analysis.evaluate import RANKINGS, evaluate, period_cuts, read_actors
from helpers import DAY_MS, score_row
from warehouse import open_warehouse

EPOCH = dt.datetime(1970, 1, 1)
WEEK_MS = 7 * DAY_MS


def ms(moment):
    return int((moment - EPOCH).total_seconds() * 1000)


def week_row(author, reader, window_start, rc, ar, site="s"):
    """A 7-day window's row, aligned on Mondays as the pipeline's weeks are."""
    r = score_row(author, reader, window_start + WEEK_MS, 0.1 * ar, site=site, rc=rc, ar=ar)
    r["window_start"] = window_start
    r["first_interaction_at"], r["last_interaction_at"] = window_start + 1, window_start + WEEK_MS - 1
    r["reply_latency_p50_s"] = 600.0 if ar else None
    return r


def test_cuts_are_month_ends_moved_back_to_a_window_bound_of_the_data_s_alignment():
    monday = dt.datetime(2026, 1, 5)  # windows of 7 days starting on Mondays (the epoch was a Thursday)
    cuts = period_cuts(monday, dt.datetime(2026, 4, 13), 7 * 86400.0)
    assert cuts == [dt.datetime(2026, 1, 26), dt.datetime(2026, 2, 23), dt.datetime(2026, 3, 30)]
    assert all(c.weekday() == 0 for c in cuts)
    days = period_cuts(dt.datetime(2018, 3, 12), dt.datetime(2018, 6, 2), 86400.0)
    assert days == [dt.datetime(2018, 4, 1), dt.datetime(2018, 5, 1), dt.datetime(2018, 6, 1)]
    assert period_cuts(monday, dt.datetime(2026, 2, 2), 7 * 86400.0, 14 * 86400.0) == [
        dt.datetime(2026, 1, 12), dt.datetime(2026, 1, 26)]


@pytest.fixture
def community(warehouse_path):
    """January: a and b talk both ways every week; a and c once; c and d once. February: a and b go on,
    c and d talk again. h answers everybody, so h is the mentor side of its pairs."""
    jan, feb = ms(dt.datetime(2026, 1, 5)), ms(dt.datetime(2026, 2, 2))
    rows = [week_row("a", "b", jan + w * WEEK_MS, 2, 2) for w in range(3)]
    rows += [week_row("a", "c", jan, 1, 0), week_row("c", "d", jan + WEEK_MS, 1, 1)]
    rows += [week_row("a", "b", feb + w * WEEK_MS, 1, 1) for w in range(4)]
    rows += [week_row("c", "d", feb + WEEK_MS, 1, 1), week_row("e", "f", feb, 1, 1)]  # e and f: new in February
    rows += [week_row(q, "h", ms(dt.datetime(2026, 3, 2)), 1, 1) for q in ("a", "b", "c", "g")]
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores(rows)
    return warehouse


def test_each_month_ranks_the_pairs_seen_so_far_against_next_month_s_two_way_exchanges(community):
    result = evaluate(community, half_life_days=14.0)
    first = result.months[0]
    # The cut after January is Monday 2026-01-26: a-b, a-c, c-d are known; a-b and c-d exchange later.
    assert (first.cut, first.next_cut) == (dt.datetime(2026, 1, 26), dt.datetime(2026, 2, 23))
    assert (first.pairs, first.positives) == (3, 2)
    # a-c never answered back: every ranking puts it last, so every AUC is 1.
    assert {name: m["auc"] for name, m in first.metrics.items()} == {
        "strength": 1.0, "decayed_reader_comments": 1.0, "decayed_comments_and_replies": 1.0, "decayed_mentor_score": 1.0}
    assert first.metrics["strength"]["p@10"] is None  # fewer than 10 pairs
    table = result.render()
    assert "| strength | 1.000 | - | - |" in table and "| decayed sum of window mentor_score |" in table
    # the periods are --period's, months or not: the header never says "pair-months"
    assert "pairs ranked (summed over the periods): " in table and "month" not in table.split("\n")[0]


def test_the_mentor_side_is_checked_against_the_actors_signal(community, tmp_path):
    actors = tmp_path / "actors.jsonl"
    signals = {"h": 100, "a": 5, "b": 3, "c": 4, "d": 2, "e": 1}
    actors.write_text("".join(json.dumps({"site": "s", "actor_id": k, "signal": v}) + "\n" for k, v in signals.items()))
    result = evaluate(community, actors=read_actors(actors))
    strength, posts_author = result.direction[0], result.direction[1]
    # Two-way pairs: a-b, c-d, e-f (f has no signal) and h with a, b, c, g (no signal). h (4 partners) is
    # the mentor side of its pairs: right 3 times; a (b, c, h) over b (a, h): right; c (a, d, h) over d: right.
    assert (strength.agree, strength.decided) == (5, 5)
    assert posts_author.decided <= 5 and posts_author.agree < 5


def test_an_actors_file_with_a_bad_line_names_it(tmp_path):
    actors = tmp_path / "actors.jsonl"
    actors.write_text('{"actor_id": "a", "signal": 3}\n{"actor_id": "b"}\n')
    with pytest.raises(ValueError, match="actors.jsonl:2"):
        read_actors(actors)


@pytest.fixture(scope="module")
def synthetic_120_days(tmp_path_factory):
    """The default synthetic community (seed 7) over 120 days, scored by the real pipeline."""
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from producers.synthetic import CommunitySpec, generate_community, write_community
    from transforms.decode import ReadEventFiles

    folder = tmp_path_factory.mktemp("synthetic")
    events, warehouse = folder / "events.avro", str(folder / "warehouse.duckdb")
    write_community(generate_community(CommunitySpec(seed=7, days=120)), events, folder / "truth.jsonl")
    assert run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=warehouse)).balanced
    return open_warehouse(warehouse, read_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("period_s", [None, 7 * 86400.0], ids=["month", "week"])
def test_the_strength_beats_every_baseline_on_the_synthetic_community(synthetic_120_days, period_s):
    # Issue 10's target, with its monthly evaluation: the strength's AUC at least 0.03 above the best
    # baseline. A week ahead (our shorter period) it must never be below it: since `--as-of` counts the
    # comments of a window whose reply came after the cut (they used to be left out), the baselines
    # see those pairs too and the margin a week ahead is +0.028 (0.757 against 0.729), under +0.03.
    result = evaluate(synthetic_120_days, half_life_days=14.0, period_s=period_s)
    assert len([m for m in result.months if m.metrics["strength"]["auc"] is not None]) >= 3
    best = max(result.mean(column, "auc") for column, _ in RANKINGS[1:])
    margin = 0.03 if period_s is None else 0.0
    assert result.mean("strength", "auc") >= best + margin, result.render()


def test_the_direction_is_reported_even_when_no_period_can_be_scored(warehouse_path, tmp_path):
    # Outside probe: one month of data has no period to score, and the direction report (over the
    # pairs with an author reply as of the newest data) was left out with the AUC table.
    week = ms(dt.datetime(2026, 1, 5))
    rows = []
    for i in (1, 2, 3):  # Q&A: H answers Qi's question, Qi follows up; blog: B answers Ri's comment
        rows += [week_row(f"Q{i}", "H", week, 1, 1, site="qa"), week_row("H", f"Q{i}", week, 1, 0, site="qa")]
        rows += [week_row("B", f"R{i}", week, 1, 1, site="blog"), week_row(f"R{i}", "B", week, 1, 0, site="blog")]
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores(rows)
    actors = tmp_path / "actors.jsonl"
    signals = {"H": 100, "B": 50, **{f"Q{i}": 5 for i in (1, 2, 3)}, **{f"R{i}": 1 for i in (1, 2, 3)}}
    actors.write_text("".join(json.dumps({"actor_id": k, "signal": v}) + "\n" for k, v in signals.items()))
    for period_s in (None, 7 * 86400.0):
        result = evaluate(warehouse, actors=read_actors(actors), period_s=period_s)
        table = result.render()
        assert table.startswith("The data (windows 2026-01-05 .. 2026-01-12) does not cover a whole month"
                                if period_s is None else "No period has both a pair with and a pair without"), table
        assert "Direction: 6 two-way pairs as of the newest data, 8 actors with a signal" in table
        # H and B have the most partners: the strength's mentor side is right in all 6 pairs
        assert "| strength's mentor side (more partners) | 100.0% | 6 |" in table
        assert "| ranking | ROC AUC |" not in table


@pytest.mark.parametrize("signal", ['"100"', "true", "false", "NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400,
                                    "[1]", '{"v": 1}'])
def test_a_signal_that_is_not_a_finite_json_number_is_refused_naming_the_line_and_the_actor(tmp_path, signal):
    # Outside probe: a string, a boolean, Infinity and NaN were taken (NaN gave 0.0% for every rule).
    actors = tmp_path / "actors.jsonl"
    actors.write_text(f'{{"actor_id": "a", "signal": 3}}\n{{"actor_id": "b\\u001b", "signal": {signal}}}\n')
    with pytest.raises(ValueError) as error:
        read_actors(actors)
    message = str(error.value)
    assert message.startswith(f"{actors}:2: ") and "'b\\x1b'" in message and "not a finite number" in message
    assert "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize("line", ['{"actor_id": "b", "name": "Bea"}', '{"actor_id": "b", "signal": null}'])
def test_a_missing_signal_is_refused_naming_the_actor(tmp_path, line):
    actors = tmp_path / "actors.jsonl"
    actors.write_text('{"actor_id": "a", "signal": 3}\n' + line + '\n')
    with pytest.raises(ValueError, match=r"actors.jsonl:2: .*'b'.*no signal"):
        read_actors(actors)


def test_an_actor_given_two_different_signals_keeps_the_last_and_is_noted(tmp_path):
    actors = tmp_path / "actors.jsonl"
    actors.write_text("".join(json.dumps(r) + "\n" for r in [
        {"site": "s", "actor_id": "a", "signal": 3}, {"site": "s", "actor_id": "a", "signal": 7},
        {"actor_id": "b", "signal": 1}, {"actor_id": "b", "signal": 1.0}, {"site": "t", "actor_id": "a", "signal": 1}]))
    differing: list = []
    assert read_actors(actors, differing) == {("s", "a"): 7.0, (None, "b"): 1.0, ("t", "a"): 1.0}
    assert differing == [("s", "a")]  # the same signal twice is no disagreement


def test_an_actor_of_no_site_as_export_actors_writes_it_counts_for_every_site(tmp_path):
    """`export actors` writes an actor loaded without a site with site "" (the warehouse's "every
    site"); evaluate keyed it under a site named "", which no pair has, and ignored its signal."""
    actors = tmp_path / "actors.jsonl"
    actors.write_text('{"site": "", "actor_id": "a", "signal": 3}\n{"site": null, "actor_id": "b", "signal": 1}\n')
    assert read_actors(actors) == {(None, "a"): 3.0, (None, "b"): 1.0}
