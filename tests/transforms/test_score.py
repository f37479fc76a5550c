import math

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from helpers import DAY_MS, HOUR_MS, T0
from transforms.thread_ledger import Contribution
from transforms.score import ScorePairs, ScoringConfig, median, pair_scores
from transforms.windowing import KeyByWindow

CONFIG = ScoringConfig()


def test_scores_of_a_reciprocal_pair_computed_by_hand():
    # rc=3, ar=2, latencies 600 s and 1800 s: p50 = 1200 s, speed = 86400 / 87600
    scores = pair_scores(3, 2, [600.0, 1800.0], CONFIG)
    assert scores["reply_latency_p50_s"] == 1200.0
    assert scores["reply_rate"] == pytest.approx(2 / 3)
    assert scores["reciprocity"] == pytest.approx(2 / 3)
    assert scores["mentor_score"] == pytest.approx(0.418527311, abs=1e-9)


def test_reply_rate_is_capped_at_one_and_no_latency_means_no_speed_bonus():
    scores = pair_scores(2, 5, [], CONFIG)
    assert scores["reply_rate"] == 1.0
    assert scores["reciprocity"] == pytest.approx(0.4)
    assert scores["reply_latency_p50_s"] is None
    assert scores["mentor_score"] == pytest.approx(0.24329144, abs=1e-8)  # (1 - e^-2/3) * 1 * 0.5


def test_an_author_who_only_replies_has_no_reply_rate_and_no_score():
    scores = pair_scores(0, 2, [60.0], CONFIG)
    assert scores["reply_rate"] is None
    assert scores["reciprocity"] == 0.0
    assert scores["mentor_score"] == 0.0


def test_a_reader_never_answered_scores_zero():
    assert pair_scores(4, 0, [], CONFIG)["mentor_score"] == 0.0


def test_median_is_exact():
    assert median([10.0, 40.0, 20.0, 30.0]) == 25.0
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([]) is None


def test_median_is_statistics_median_bit_for_bit():
    import random
    import statistics

    rng = random.Random(7)
    for n in range(1, 40):
        for values in ([rng.random() * 10 ** rng.randint(0, 9) for _ in range(n)], [rng.randint(0, 99) for _ in range(n)],
                       [0.1] * n, [rng.choice([0.0, 1e308, 5e-324, 2.5]) for _ in range(n)]):
            expected = statistics.median(values)
            assert median(values) == expected and type(median(values)) is type(expected)


def test_a_shard_s_rows_share_one_computed_at():
    from transforms.score import ScorePairShardFn

    fn = ScorePairShardFn(CONFIG, run_started_at=1)
    fn.rows = beam.metrics.Metrics.counter("test", "rows")
    batch = [(("s", "a", f"r{n}", 0, 7 * DAY_MS), [1, 0, {0}, [], T0, T0, 0, [], T0]) for n in range(50)]
    rows = list(fn.process((0, [batch])))
    assert len(rows) == 50 and len({row["computed_at"] for row in rows}) == 1


def test_constants_are_configurable():
    faster = ScoringConfig(comment_saturation=1.0, latency_scale_s=3600.0, speed_weight=1.0)
    # (1 - e^-3) * (2/3) * (1 / (1 + 1200/3600))
    assert pair_scores(3, 2, [600.0, 1800.0], faster)["mentor_score"] == pytest.approx(0.9502129 * 2 / 3 * 0.75, abs=1e-6)


def _score(contributions, window_s=86400.0):
    with beam.Pipeline("FnApiRunner") as p:
        rows = (
            p
            | beam.Create(contributions)
            | KeyByWindow(window_s)
            | ScorePairs(CONFIG)
            | beam.Map(lambda row: {k: v for k, v in row.items() if k != "computed_at"})
        )
        yield rows


def comment(at, author="a", reader="r"):
    return Contribution("s", author, reader, False, at, at, None)


def reply(answered_at, at, author="a", reader="r"):
    return Contribution("s", author, reader, True, answered_at, at, max(0.0, (at - answered_at) / 1000))


def test_rows_per_pair_and_week_window_aligned_to_monday():
    week = 7 * 86400.0
    contributions = [comment(T0 + h * HOUR_MS) for h in (1, 2, 30)] + [reply(T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS)]

    def check(rows):
        (row,) = rows
        assert (row["reader_comments"], row["author_replies"], row["reader_active_days"]) == (3, 1, 2)
        assert row["reply_latency_p50_s"] == 3600.0
        assert row["first_interaction_at"] == T0 + HOUR_MS
        assert row["last_interaction_at"] == T0 + 30 * HOUR_MS
        # T0 is Monday 2026-03-02: weekly windows start on Mondays, 00:00 UTC
        assert row["window_start"] == T0 and row["window_end"] == T0 + 7 * DAY_MS
        assert row["pane_timing"] == "ON_TIME" and row["is_final_pane"]

    for rows in _score(contributions, window_s=week):
        assert_that(rows, check)


def test_a_reply_after_midnight_scores_in_the_row_of_the_comment_it_answers():
    # 23:50 comment, 00:10 reply, 1-day windows: one row with rc=1, ar=1 (was two rows scoring 0).
    evening = T0 + DAY_MS - 600_000
    for rows in _score([comment(evening), reply(evening, evening + 1_200_000)]):
        assert_that(rows | beam.Map(lambda r: (r["window_start"], r["reader_comments"], r["author_replies"],
                                               r["reply_latency_p50_s"], round(r["mentor_score"], 6))),
                    equal_to([(T0, 1, 1, 1200.0, round((1 - math.exp(-1 / 3)) * (0.5 + 0.5 / (1 + 1200 / 86400)), 6))]))


def test_contributions_in_different_windows_make_different_rows():
    for rows in _score([comment(T0 + 1000), comment(T0 + DAY_MS + 1000)]):
        assert_that(
            rows | beam.Map(lambda r: (r["author_id"], r["window_start"], r["reader_comments"])),
            equal_to([("a", T0, 1), ("a", T0 + DAY_MS, 1)]),
        )


def test_the_readmes_worked_example_from_its_seven_events():
    from helpers import event
    from transforms.conversations import ResolveConversations

    minute = 60_000
    mon, wed, thu, fri, sat = (T0 + d * DAY_MS for d in (0, 2, 3, 4, 5))
    events = [
        event("p1", "POST", "A", mon),
        event("c1", "COMMENT", "R", mon + 10 * HOUR_MS, parent="p1"),
        event("r1", "REPLY", "A", mon + 10 * HOUR_MS + 10 * minute, parent="c1"),
        event("c2", "COMMENT", "R", wed + 23 * HOUR_MS + 50 * minute, parent="p1"),
        event("r2", "REPLY", "A", thu + 10 * minute, parent="c2"),
        event("c3", "COMMENT", "R", sat + 9 * HOUR_MS, parent="p1"),
        event("p2", "POST", "R", fri + 8 * HOUR_MS, thread="t2"),
        event("c4", "COMMENT", "A", fri + 12 * HOUR_MS, parent="p2", thread="t2"),
    ]
    with beam.Pipeline("FnApiRunner") as p:
        resolved = p | beam.Create(events) | ResolveConversations()
        rows = (
            (resolved.interactions, resolved.author_replies) | beam.Flatten()
            | KeyByWindow(7 * 86400.0) | ScorePairs(CONFIG)
            | beam.Map(lambda r: (r["author_id"], r["reader_id"], r["window_start"], r["reader_comments"],
                                  r["author_replies"], r["reader_active_days"], r["reply_latency_p50_s"],
                                  round(r["mentor_score"], 5)))
        )
        assert_that(rows, equal_to([("A", "R", T0, 3, 2, 3, 900.0, 0.41924), ("R", "A", T0, 3, 0, 3, None, 0.0)]))


def test_a_row_counts_the_replies_written_by_its_window_s_end():
    # A reply is credited to its comment's window, so it can be written after that window ended: an
    # --as-of cut at the end may count only the ones written by then. Week windows from Monday T0:
    # a reply across Tuesday's midnight (inside the week), one exactly at the week's end (by it),
    # one ten minutes after the end (not by it).
    week_end = T0 + 7 * DAY_MS
    tuesday_night, sunday_night = T0 + 2 * DAY_MS - 600_000, week_end - 600_000
    contributions = [comment(tuesday_night), reply(tuesday_night, tuesday_night + 1_200_000),
                     comment(sunday_night), reply(sunday_night, week_end), reply(sunday_night, week_end + 600_000),
                     comment(week_end + HOUR_MS)]  # the next week: no reply
    for rows in _score(contributions, window_s=7 * 86400.0):
        assert_that(rows | beam.Map(lambda r: (r["window_start"], r["reader_comments"], r["author_replies"],
                                               r["author_replies_by_window_end"])),
                    equal_to([(T0, 2, 3, 2), (week_end, 1, 0, 0)]))
        # schema version 5: the window as it stood at its end (latencies 1200 s and 600 s, not the
        # late reply's 1200 s), what --as-of counts; the next week has no reply
        by_end = pair_scores(2, 2, [1200.0, 600.0], CONFIG)
        assert_that(rows | "AtEnd" >> beam.Map(lambda r: (r["window_start"], r["reply_latency_p50_s"],
                                                          r["reply_latency_p50_s_by_window_end"],
                                                          r["mentor_score_by_window_end"],
                                                          r["last_interaction_at_by_window_end"])),
                    equal_to([(T0, 1200.0, 900.0, by_end["mentor_score"], week_end),
                              (week_end, None, None, 0.0, week_end + HOUR_MS)]), label="CheckAtEnd")
