"""Event-time windows for interactions, declared in one place with their reasons."""
from __future__ import annotations

from typing import Optional

import apache_beam as beam
from apache_beam.transforms import trigger, window


def key_by_window(element: tuple[tuple, tuple], window_ms: int) -> tuple[tuple, tuple]:
    """Append the epoch-aligned window's [start, end) in millis to the key (created_at is value[1])."""
    key, value = element
    start = value[1] - value[1] % window_ms
    return key + (start, start + window_ms), value


class WindowInteractions(beam.PTransform):
    """Timestamped elements -> the same elements in fixed, epoch-aligned event-time windows.

    * Fixed windows of ``window_s`` seconds aligned to the Unix epoch: a 1-day window runs from
      00:00 to 24:00 UTC, so window bounds mean the same thing in every run and every warehouse.
    * ``allowed_lateness_s``: a late interaction (a reply imported or delivered days after it was
      written) still updates its window for that long after the watermark passes the window's end;
      later than that, Beam drops it.
    * ``early_firing_s`` (streaming): a speculative pane every so often in processing time, so
      analysts see a window's scores while it is open, then the on-time pane at the watermark and one
      late pane per late element.
    * Accumulating: every pane carries the whole window so far, so the newest pane is the row to keep
      and the warehouse never has to add panes up.
    * The window's bounds are also appended to each element's key, (site, author, reader) becoming
      (site, author, reader, window_start_ms, window_end_ms), so a row knows its window without asking
      the runner. Bounded input (``streaming=False``) is complete, so every window has exactly one,
      on-time pane, and the key alone does the windowing there: any Beam windowing sends every key of a
      batch run on the FnApiRunner through the general trigger driver, which took three quarters of
      the run's time. Streaming needs Beam's windows, for the watermark, lateness and panes.
    """

    def __init__(self, window_s: float, allowed_lateness_s: float, early_firing_s: Optional[float] = None,
                 streaming: bool = True):
        super().__init__()
        self.window_s = window_s
        self.allowed_lateness_s = allowed_lateness_s
        self.early_firing_s = early_firing_s
        self.streaming = streaming

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        keyed = pcoll | "KeyByWindow" >> beam.Map(key_by_window, int(self.window_s * 1000))
        if not self.streaming:
            return keyed
        early = trigger.AfterProcessingTime(max(1, round(self.early_firing_s))) if self.early_firing_s else None
        return keyed | "FixedEventTimeWindows" >> beam.WindowInto(
            window.FixedWindows(self.window_s),
            trigger=trigger.AfterWatermark(early=early, late=trigger.AfterCount(1)),
            accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
            allowed_lateness=self.allowed_lateness_s,
        )
