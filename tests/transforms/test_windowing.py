"""Panes per window, in the style of Beam's LeaderBoardTest: on-time, early, late and too-late data."""
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from helpers import DAY_MS, HOUR_MS, T0
from transforms.conversations import Interaction
from transforms.score import PairContributions, ScorePairs, ScoringConfig
from transforms.windowing import WindowInteractions

WINDOW_S = 86400.0
LATENESS_S = 2 * 86400.0
EARLY_S = 60.0


def comment(at_ms):
    """The reader r comments on author a at ``at_ms``."""
    return TimestampedValue(Interaction("s", "r", "a", at_ms, None), at_ms / 1000)


def reply(at_ms, parent_at_ms):
    """The author a answers reader r."""
    return TimestampedValue(Interaction("s", "a", "r", at_ms, parent_at_ms), at_ms / 1000)


def panes_of_pair_a_r(stream):
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        rows = (
            p
            | stream
            | PairContributions()
            | WindowInteractions(WINDOW_S, LATENESS_S, EARLY_S)
            | ScorePairs(ScoringConfig(), bounded=False)
            | beam.Filter(lambda r: (r["author_id"], r["reader_id"]) == ("a", "r"))
            | beam.Map(lambda r: (r["window_start"], r["pane_timing"], r["pane_index"], r["reader_comments"],
                                  r["author_replies"], r["is_final_pane"]))
        )
        yield rows


def test_on_time_data_fires_one_on_time_pane_at_the_window_end():
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(T0 + HOUR_MS), reply(T0 + 2 * HOUR_MS, T0 + HOUR_MS)])
        .advance_watermark_to_infinity()
    )
    for rows in panes_of_pair_a_r(stream):
        assert_that(rows, equal_to([(T0, "ON_TIME", 0, 1, 1, False)]))


def test_early_late_and_too_late_data_each_get_their_pane():
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(T0 + HOUR_MS)])
        .advance_processing_time(EARLY_S + 1)  # an early, speculative pane while the window is open
        .add_elements([reply(T0 + 2 * HOUR_MS, T0 + HOUR_MS)])
        .advance_watermark_to((T0 + DAY_MS) / 1000)  # the window closes: on-time pane
        .advance_watermark_to((T0 + DAY_MS + 12 * HOUR_MS) / 1000)
        .add_elements([comment(T0 + 15 * HOUR_MS)])  # late but within the allowed lateness
        .advance_watermark_to((T0 + DAY_MS) / 1000 + LATENESS_S + 3600)  # past the allowed lateness
        .add_elements([comment(T0 + 16 * HOUR_MS)])  # droppably late: never counted
        .advance_watermark_to_infinity()
    )
    for rows in panes_of_pair_a_r(stream):
        # Accumulating: each pane carries the whole window so far.
        assert_that(rows, equal_to([
            (T0, "EARLY", 0, 1, 0, False),
            (T0, "ON_TIME", 1, 1, 1, False),
            (T0, "LATE", 2, 2, 1, False),
        ]))


def test_data_for_the_next_day_opens_a_new_window():
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(T0 + HOUR_MS), comment(T0 + DAY_MS + HOUR_MS)])
        .advance_watermark_to_infinity()
    )
    for rows in panes_of_pair_a_r(stream):
        assert_that(rows, equal_to([(T0, "ON_TIME", 0, 1, 0, False), (T0 + DAY_MS, "ON_TIME", 0, 1, 0, False)]))
