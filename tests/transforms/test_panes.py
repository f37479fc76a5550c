"""Streaming panes per (pair, window), in the style of Beam's LeaderBoardTest: early, on-time, late and
too-late data, where too-late data is counted and dead-lettered, never dropped silently."""
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from helpers import DAY_MS, HOUR_MS, T0, event
from transforms.thread_ledger import Contribution
from transforms.events import TOO_LATE
from transforms.panes import ScorePairPanes
from transforms.score import ScoringConfig
from transforms.windowing import KeyByWindow

WINDOW_S = 86400.0
LATENESS_S = 2 * 86400.0
EARLY_S = 60.0
# Past every window's allowed lateness: the panes fire here. (Jumping straight to infinity would close
# the test's own assertion window before the timers' output reached it on the DirectRunner.)
END_OF_DATA = (T0 + 30 * DAY_MS) / 1000


def comment(at_ms):
    """The reader r comments on author a at ``at_ms`` (with its record, as the streaming resolver sends)."""
    record = event(f"c{at_ms}", "COMMENT", "r", at_ms, parent="p1")
    return TimestampedValue(Contribution("s", "a", "r", False, at_ms, at_ms, None, record), at_ms / 1000)


def reply(answered_at_ms, at_ms):
    """The author a answers the reader's comment written at ``answered_at_ms``."""
    return TimestampedValue(
        Contribution("s", "a", "r", True, answered_at_ms, at_ms, (at_ms - answered_at_ms) / 1000), answered_at_ms / 1000)


def run_panes(stream):
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        # The DirectRunner's TestStream clock starts at 0: processing time for early panes follows it.
        out = (p | stream | KeyByWindow(WINDOW_S)
               | ScorePairPanes(ScoringConfig(), LATENESS_S, 9 * 86400.0, EARLY_S, run_started_at=T0, clock=lambda: 0.0))
        rows = out.rows | beam.Map(lambda r: (r["window_start"], r["pane_timing"], r["pane_index"], r["reader_comments"],
                                              r["author_replies"], r["is_final_pane"]))
        yield rows, out


def test_on_time_data_fires_an_on_time_pane_and_a_final_one_when_the_lateness_ends():
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(T0 + HOUR_MS), reply(T0 + HOUR_MS, T0 + 2 * HOUR_MS)])
        .advance_watermark_to(END_OF_DATA)
        .advance_watermark_to_infinity()
    )
    for rows, _ in run_panes(stream):
        assert_that(rows, equal_to([(T0, "ON_TIME", 0, 1, 1, False), (T0, "LATE", 1, 1, 1, True)]))


def test_early_late_and_too_late_data_each_get_their_pane_or_their_count():
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(T0 + HOUR_MS)])
        .advance_processing_time(EARLY_S + 1)  # an early, speculative pane while the window is open
        .add_elements([reply(T0 + HOUR_MS, T0 + 2 * HOUR_MS)])
        .advance_watermark_to((T0 + DAY_MS) / 1000)  # the window closes: on-time pane
        .advance_watermark_to((T0 + DAY_MS + 12 * HOUR_MS) / 1000)
        .add_elements([comment(T0 + 15 * HOUR_MS)])  # late but within the allowed lateness
        .advance_watermark_to((T0 + DAY_MS) / 1000 + LATENESS_S + 3600)  # past the allowed lateness: final pane
        .add_elements([comment(T0 + 16 * HOUR_MS)])  # too late: a TOO_LATE dead letter
        .add_elements([reply(T0 + 15 * HOUR_MS, T0 + 3 * DAY_MS)])  # a late author reply: counted
        .advance_watermark_to(END_OF_DATA)
        .advance_watermark_to_infinity()
    )
    for rows, out in run_panes(stream):
        # Accumulating: each pane carries the whole window so far.
        assert_that(rows, equal_to([
            (T0, "EARLY", 0, 1, 0, False),
            (T0, "ON_TIME", 1, 1, 1, False),
            (T0, "LATE", 2, 2, 1, False),
            (T0, "LATE", 3, 2, 1, True),
        ]))
        assert_that(out.too_late | beam.Map(lambda d: (d.error_kind, d.event_id, "allowed-lateness" in d.message)),
                    equal_to([(TOO_LATE, f"e-c{T0 + 16 * HOUR_MS}", True)]), label="too late")
        assert_that(out.late_author_replies | beam.Map(lambda c: c.created_at), equal_to([T0 + 3 * DAY_MS]),
                    label="late author reply")


def test_an_author_reply_after_midnight_updates_the_row_of_the_answered_comment():
    evening = T0 + DAY_MS - 600_000
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(evening)])
        .advance_watermark_to((T0 + DAY_MS + HOUR_MS) / 1000)  # the comment's window is on time, closed
        .add_elements([reply(evening, evening + 1_200_000)])  # answered at 00:10: late, within lateness
        .advance_watermark_to(END_OF_DATA)
        .advance_watermark_to_infinity()
    )
    for rows, _ in run_panes(stream):
        assert_that(rows, equal_to([(T0, "ON_TIME", 0, 1, 0, False), (T0, "LATE", 1, 1, 1, False),
                                    (T0, "LATE", 2, 1, 1, True)]))


def test_streaming_panes_count_the_replies_written_by_the_window_s_end():
    # answered at midnight exactly (by the end) and at 00:10 (after it): the final pane says 1 of 2
    evening = T0 + DAY_MS - 600_000
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(evening), reply(evening, T0 + DAY_MS), reply(evening, T0 + DAY_MS + 600_000)])
        .advance_watermark_to(END_OF_DATA)
        .advance_watermark_to_infinity()
    )
    for _, out in run_panes(stream):
        final = out.rows | beam.Filter(lambda r: r["is_final_pane"])
        assert_that(final | beam.Map(lambda r: (r["author_replies"], r["author_replies_by_window_end"])),
                    equal_to([(2, 1)]))


def test_data_for_the_next_day_opens_a_new_window():
    stream = (
        TestStream()
        .advance_watermark_to(T0 / 1000)
        .add_elements([comment(T0 + HOUR_MS), comment(T0 + DAY_MS + HOUR_MS)])
        .advance_watermark_to(END_OF_DATA)
        .advance_watermark_to_infinity()
    )
    for rows, _ in run_panes(stream):
        assert_that(rows | beam.Filter(lambda r: r[1] == "ON_TIME"),
                    equal_to([(T0, "ON_TIME", 0, 1, 0, False), (T0 + DAY_MS, "ON_TIME", 0, 1, 0, False)]))


def test_a_window_first_seen_through_a_backfill_takes_the_rest_of_it_for_the_allowed_lateness():
    # The outside probe of stop 22: a comment at 23:50 and its answer at 00:10 backfilled together into
    # a live stream whose watermark is long past that day's lateness. The comment opened the window and
    # it closed at once; the answer, a bundle later, was a late reply (a bounded run counts it). A window
    # first seen through an event read behind the watermark now takes data for the allowed lateness
    # from that watermark.
    evening = T0 + DAY_MS - 600_000
    read_at = T0 + 20 * DAY_MS  # the watermark when the backfill was read
    backfilled = comment(evening)
    backfilled = TimestampedValue(backfilled.value._replace(read_watermark_ms=read_at), backfilled.timestamp)
    answer = reply(evening, evening + 1_200_000)
    answer = TimestampedValue(answer.value._replace(read_watermark_ms=read_at), answer.timestamp)
    stream = (
        TestStream()
        .advance_watermark_to(read_at / 1000)
        .add_elements([backfilled])
        .advance_watermark_to(read_at / 1000 + 60)  # the first window's timers fire between the two
        .add_elements([answer])
        .advance_watermark_to(read_at / 1000 + LATENESS_S + 3600)  # the lateness from the reading ends
        .add_elements([comment(evening + 1)])  # then, read on time at a closed window: too late
        .advance_watermark_to(END_OF_DATA)
        .advance_watermark_to_infinity()
    )
    for rows, out in run_panes(stream):
        assert_that(rows, equal_to([(T0, "ON_TIME", 0, 1, 0, False), (T0, "LATE", 1, 1, 1, False),
                                    (T0, "LATE", 2, 1, 1, True)]))
        assert_that(out.late_author_replies, equal_to([]), label="no late reply")
        assert_that(out.too_late | beam.Map(lambda d: d.error_kind), equal_to([TOO_LATE]), label="too late")
