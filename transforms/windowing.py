"""Event-time windows for contributions, declared in one place with their reasons.

* Fixed windows of ``window_s`` seconds, aligned to Monday 1970-01-05 00:00 UTC: a 1-day window runs
  from 00:00 to 24:00 UTC and a 7-day window (the default) is an ISO week, Monday to Monday, so window
  bounds mean the same thing in every run, every runner and every warehouse. A week is the default
  because a relationship is a habit over days: with 1-day windows ``reader_active_days`` is always 1,
  and a reply after midnight would fall in another row than the comment it answers.
* A contribution's window is the one holding its ``anchor_at``: a reader comment's own time, or, for
  an author reply, the time of the comment it answers, so a comment at 23:50 Sunday answered at 00:10
  Monday counts in one row.
* An author reply written after its window's end (its comment near the end, its answer later) is
  marked so (``Contribution.after_window_end``): the row also says the window as it stood at its end
  without them (``*_by_window_end``: replies, median latency, mentor_score, last interaction), what an
  analyst's ``--as-of`` counts.
* The window's bounds are part of the key, (site, author, reader) becoming (site, author, reader,
  window_start_ms, window_end_ms), so a row knows its window without asking the runner, and bounded
  runs need no Beam windowing at all (any Beam windowing sends every key of a batch run on the
  FnApiRunner through the general trigger driver, which took three quarters of the run's time).
  Streaming panes (early, on time, late, too late) are fired by :mod:`transforms.panes`, in state, so
  that nothing is dropped without being counted.
"""
from __future__ import annotations

import apache_beam as beam

from transforms.thread_ledger import Contribution

# Monday 1970-01-05 00:00 UTC, in millis: windows of whole weeks start on Mondays.
WINDOW_ORIGIN_MS = 4 * 86_400_000


def window_bounds(at_ms: int, window_ms: int) -> tuple[int, int]:
    """[start, end) in millis of the window that holds ``at_ms``."""
    start = at_ms - (at_ms - WINDOW_ORIGIN_MS) % window_ms
    return start, start + window_ms


def key_by_window(contribution: Contribution, window_ms: int) -> tuple[tuple, Contribution]:
    start, end = window_bounds(contribution.anchor_at, window_ms)
    if contribution.is_author_reply and contribution.created_at > end:
        # marked here, where the window is known, so a row counts its replies written by its end
        # with one number, not a list of reply times per pair and window
        contribution = contribution._replace(after_window_end=True)
    return (contribution.site, contribution.author_id, contribution.reader_id, start, end), contribution


class KeyByWindow(beam.PTransform):
    """Contributions -> ((site, author, reader, window_start, window_end), contribution)."""

    def __init__(self, window_s: float):
        super().__init__()
        self.window_ms = int(window_s * 1000)

    def expand(self, contributions: beam.PCollection) -> beam.PCollection:
        return contributions | "KeyByPairAndWindow" >> beam.Map(key_by_window, self.window_ms)
