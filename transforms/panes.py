"""Streaming panes per (pair, window), fired from state so that nothing late is dropped uncounted.

``ScorePairPanes`` takes contributions keyed by (site, author, reader, window_start, window_end)
(:mod:`transforms.windowing`) in the global window and outputs ``pair_scores`` rows, one per pane, in
accumulating mode (each pane carries the whole window so far, so the newest pane is the row to keep):

* EARLY: every ``early_firing_s`` of processing time while the window is open and has new data;
* ON_TIME: when the watermark passes the window's end;
* LATE: at once for each contribution that arrives after the on-time pane, within the allowed lateness;
* a final pane (``is_final_pane``) when the watermark passes end + allowed lateness: the row that will
  not change again. A window this run first sees through an event read behind the watermark (a
  backfill into a live topic: ``Contribution.read_watermark_ms``) takes data for the allowed lateness
  from that watermark instead, so the rest of the backfill reaches it.

After the final pane the key remembers that its window closed, for ``retention_s`` more of event time
(the dedupe horizon), then forgets it. A contribution that arrives at a closed window is not scored,
and not dropped silently either: a reader comment leaves on ``too_late`` as a TOO_LATE dead letter
(it is a record, already counted as scored by the resolver: the ledger subtracts it), and an author
reply leaves on ``late_author_replies`` (a credit, not a record: counted under its own reason).

Why not Beam's own windowing: its GroupByKey drops data later than the allowed lateness without a
trace on every runner, and author replies are credited to the answered comment's window, so they are
often behind the watermark by design.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, NamedTuple, Optional

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from transforms.thread_ledger import Contribution
from transforms.dedupe import event_json
from transforms.events import TOO_LATE, DeadLetter, iso_utc
from transforms.score import PairActivityFn, ScoringConfig, score_row

TOO_LATE_TAG = "too_late"
LATE_AUTHOR_REPLIES = "late_author_replies"


class PaneState(NamedTuple):
    next_index: int = 0
    on_time_fired: bool = False
    closed: bool = False
    dirty: bool = False  # data since the last pane
    early_pending: bool = False
    early_fired_at: float = 0.0  # processing time of the last early pane, in seconds


def _at(millis: int) -> Timestamp:
    return Timestamp(micros=millis * 1000)


def too_late_dead_letter(contribution: Contribution, window_end: int, allowed_lateness_ms: int) -> DeadLetter:
    event = contribution.record
    return DeadLetter(
        event.origin if event else f"pair:{contribution.site}/{contribution.author_id}/{contribution.reader_id}",
        TOO_LATE,
        f"arrived after its window closed: the window ending {iso_utc(window_end)} took data until "
        f"{iso_utc(window_end + allowed_lateness_ms)} (--allowed-lateness); raise --allowed-lateness or "
        "rerun the period as a bounded run to count it",
        event.event_id if event else None, event_json(event) if event else None,
    )


class FirePanesFn(beam.DoFn):
    """Contributions of one (pair, window) key in; its panes out as rows; late ones tagged."""

    ACTIVITY = ReadModifyWriteStateSpec("activity", PickleCoder())
    PANE = ReadModifyWriteStateSpec("pane", PickleCoder())
    ON_TIME = TimerSpec("on_time", TimeDomain.WATERMARK)
    CLOSE = TimerSpec("close", TimeDomain.WATERMARK)
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)
    EARLY = TimerSpec("early", TimeDomain.REAL_TIME)

    def __init__(self, config: ScoringConfig, allowed_lateness_s: float, retention_s: float,
                 early_firing_s: Optional[float], run_started_at: int, clock: Callable[[], float] = time.time):
        self.config = config
        self.allowed_lateness_ms = int(allowed_lateness_s * 1000)
        self.retention_ms = int(retention_s * 1000)
        self.early_firing_s = early_firing_s
        self.run_started_at = run_started_at
        self.clock = clock  # processing time; tests on the DirectRunner's TestStream clock pass their own

    def setup(self) -> None:
        self.activity_fn = PairActivityFn()
        self.rows = Metrics.counter("score", "pair_score_rows")
        self.too_late = Metrics.counter("dead_letters", TOO_LATE)
        self.late_replies = Metrics.counter("score", "late_author_replies")

    def _pane(self, key: tuple, activity: list, timing: str, state: PaneState, final: bool = False) -> dict:
        self.rows.inc()
        return score_row(key, activity, self.config, self.run_started_at, timing, state.next_index, final)

    def process(self, element: tuple[tuple, Contribution], activity=beam.DoFn.StateParam(ACTIVITY),
                pane=beam.DoFn.StateParam(PANE), on_time=beam.DoFn.TimerParam(ON_TIME),
                close=beam.DoFn.TimerParam(CLOSE), forget=beam.DoFn.TimerParam(FORGET),
                early=beam.DoFn.TimerParam(EARLY)) -> Iterable[Any]:
        key, contribution = element
        window_end = key[4]
        state = pane.read()
        if state is not None and state.closed:
            if contribution.is_author_reply:
                self.late_replies.inc()
                yield beam.pvalue.TaggedOutput(LATE_AUTHOR_REPLIES, contribution)
            else:
                self.too_late.inc()
                yield beam.pvalue.TaggedOutput(TOO_LATE_TAG, too_late_dead_letter(contribution, window_end,
                                                                                  self.allowed_lateness_ms))
            return
        if state is None:
            state = PaneState()
            on_time.set(_at(window_end - 1))
            # A window first seen through a backfill read behind the watermark takes data for the allowed
            # lateness from then, not from its end (which the watermark has passed): the rest of the same
            # backfill (a reply after midnight to a comment before it) still reaches it.
            closes_at = max(window_end - 1, contribution.read_watermark_ms or 0) + self.allowed_lateness_ms
            close.set(_at(closes_at))
            forget.set(_at(closes_at + self.retention_ms))
        acc = self.activity_fn.add_input(activity.read() or self.activity_fn.create_accumulator(), contribution)
        activity.write(acc)
        if state.on_time_fired:  # late data within the allowed lateness: a late pane at once
            yield self._pane(key, acc, "LATE", state)
            state = state._replace(next_index=state.next_index + 1, dirty=False)
        else:
            state = state._replace(dirty=True)
            if self.early_firing_s and not state.early_pending:
                # At most one early pane per period, counted from the last one's firing time.
                early.set(Timestamp.of(max(self.clock(), state.early_fired_at) + self.early_firing_s))
                state = state._replace(early_pending=True)
        pane.write(state)

    @on_timer(EARLY)
    def fire_early(self, key=beam.DoFn.KeyParam, fired_at=beam.DoFn.TimestampParam,
                   activity=beam.DoFn.StateParam(ACTIVITY), pane=beam.DoFn.StateParam(PANE)) -> Iterable[dict]:
        state = pane.read()
        if state is None:
            return
        if state.dirty and not state.on_time_fired and not state.closed:
            yield self._pane(key, activity.read(), "EARLY", state)
            state = state._replace(next_index=state.next_index + 1, dirty=False)
        pane.write(state._replace(early_pending=False, early_fired_at=float(fired_at)))

    @on_timer(ON_TIME)
    def fire_on_time(self, key=beam.DoFn.KeyParam, activity=beam.DoFn.StateParam(ACTIVITY),
                     pane=beam.DoFn.StateParam(PANE)) -> Iterable[dict]:
        state = pane.read()
        if state is None or state.on_time_fired:
            return
        final = self.allowed_lateness_ms == 0
        yield self._pane(key, activity.read(), "ON_TIME", state, final=final)
        pane.write(state._replace(next_index=state.next_index + 1, on_time_fired=True, dirty=False, closed=final))

    @on_timer(CLOSE)
    def fire_final(self, key=beam.DoFn.KeyParam, activity=beam.DoFn.StateParam(ACTIVITY),
                   pane=beam.DoFn.StateParam(PANE)) -> Iterable[dict]:
        state = pane.read()
        if state is None or state.closed:
            return
        # The last word on the window, so analysts can tell a row that will not change again.
        yield self._pane(key, activity.read(), "LATE" if state.on_time_fired else "ON_TIME", state, final=True)
        activity.clear()
        pane.write(PaneState(next_index=state.next_index + 1, on_time_fired=True, closed=True))

    @on_timer(FORGET)
    def forget_window(self, activity=beam.DoFn.StateParam(ACTIVITY), pane=beam.DoFn.StateParam(PANE)) -> Iterable[Any]:
        activity.clear()
        pane.clear()
        return []


class ScorePairPanes(beam.PTransform):
    """Streaming: keyed contributions -> ``pair_scores`` rows per pane (main), ``too_late`` dead
    letters and ``late_author_replies``."""

    def __init__(self, config: ScoringConfig, allowed_lateness_s: float, retention_s: float,
                 early_firing_s: Optional[float] = None, run_started_at: Optional[int] = None,
                 clock: Callable[[], float] = time.time):
        super().__init__()
        self.fire = FirePanesFn(config, allowed_lateness_s, retention_s, early_firing_s,
                                run_started_at if run_started_at is not None else int(time.time() * 1000), clock)

    def expand(self, keyed: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            keyed
            # State is per key and window; the window is in the key, so the global window serves.
            | "GlobalWindow" >> beam.WindowInto(GlobalWindows())
            | "FirePanes" >> beam.ParDo(self.fire).with_outputs(TOO_LATE_TAG, LATE_AUTHOR_REPLIES, main="rows")
        )
