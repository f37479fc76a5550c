import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from helpers import DAY_MS, HOUR_MS, T0
from transforms.conversations import Interaction
from transforms.score import PairContributions, ScorePairs, ScoringConfig, contributions, median, pair_scores
from transforms.windowing import WindowInteractions

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


def test_constants_are_configurable():
    faster = ScoringConfig(comment_saturation=1.0, latency_scale_s=3600.0, speed_weight=1.0)
    # (1 - e^-3) * (2/3) * (1 / (1 + 1200/3600))
    assert pair_scores(3, 2, [600.0, 1800.0], faster)["mentor_score"] == pytest.approx(0.9502129 * 2 / 3 * 0.75, abs=1e-6)


def test_every_interaction_reaches_two_rows():
    rows = list(contributions(Interaction("s", "r", "a", T0 + HOUR_MS, T0)))
    assert rows == [(("s", "a", "r"), (False, T0 + HOUR_MS, None)), (("s", "r", "a"), (True, T0 + HOUR_MS, 3600.0))]


def test_a_reply_timestamped_before_its_parent_counts_as_instant():
    (_, _), (_, (_, _, latency)) = contributions(Interaction("s", "r", "a", T0, T0 + 5000))
    assert latency == 0.0


def _score(interactions, window_s=86400.0):
    with beam.Pipeline("FnApiRunner") as p:
        rows = (
            p
            | beam.Create([TimestampedValue(i, i.created_at / 1000) for i in interactions])
            | PairContributions()
            | WindowInteractions(window_s, 0, streaming=False)
            | ScorePairs(CONFIG)
            | beam.Map(lambda row: {k: v for k, v in row.items() if k != "computed_at"})
        )
        yield rows


def test_rows_per_pair_and_epoch_aligned_window():
    reader_comments = [Interaction("s", "r", "a", T0 + h * HOUR_MS, None) for h in (1, 2, 30)]
    author_replies = [Interaction("s", "a", "r", T0 + 3 * HOUR_MS, T0 + 2 * HOUR_MS)]
    week = 7 * 86400.0

    def check(rows):
        by_pair = {(r["author_id"], r["reader_id"]): r for r in rows}
        assert set(by_pair) == {("a", "r"), ("r", "a")}
        ar_row = by_pair[("a", "r")]
        assert (ar_row["reader_comments"], ar_row["author_replies"], ar_row["reader_active_days"]) == (3, 1, 2)
        assert ar_row["reply_latency_p50_s"] == 3600.0
        assert ar_row["first_interaction_at"] == T0 + HOUR_MS
        assert ar_row["last_interaction_at"] == T0 + 30 * HOUR_MS
        # weekly windows are aligned to the epoch (a Thursday), not to the data
        assert ar_row["window_start"] % (7 * DAY_MS) == 0
        assert ar_row["window_end"] - ar_row["window_start"] == 7 * DAY_MS
        assert ar_row["pane_timing"] == "ON_TIME" and ar_row["is_final_pane"]
        ra_row = by_pair[("r", "a")]  # the reader replying to the author is the mirror row
        assert (ra_row["reader_comments"], ra_row["author_replies"]) == (1, 3)

    for rows in _score(reader_comments + author_replies, window_s=week):
        assert_that(rows, check)


def test_interactions_in_different_windows_make_different_rows():
    interactions = [Interaction("s", "r", "a", T0 + 1000, None), Interaction("s", "r", "a", T0 + DAY_MS + 1000, None)]
    for rows in _score(interactions):
        assert_that(
            rows | beam.Map(lambda r: (r["author_id"], r["window_start"], r["reader_comments"])),
            equal_to([("a", T0, 1), ("a", T0 + DAY_MS, 1), ("r", T0, 0), ("r", T0 + DAY_MS, 0)]),
        )


def test_an_empty_pane_makes_no_row_and_is_counted():
    from apache_beam.metrics.metric import MetricsFilter

    from transforms.score import FormatPairScoreFn, PairActivityFn

    empty = PairActivityFn().create_accumulator()
    key = ("s", "a", "r", T0, T0 + DAY_MS)
    pipeline = beam.Pipeline("FnApiRunner")
    rows = (pipeline | beam.Create([(key, empty)])
            | beam.ParDo(FormatPairScoreFn(CONFIG, bounded=False, run_started_at=T0)))
    assert_that(rows, equal_to([]))
    result = pipeline.run()
    result.wait_until_finish()
    (counter,) = result.metrics().query(MetricsFilter().with_name("empty_panes"))["counters"]
    assert counter.committed == 1
