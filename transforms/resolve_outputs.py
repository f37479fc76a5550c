"""What the thread resolvers (batch and streaming, :mod:`transforms.conversations`) send out, with a
counter on every branch: contributions, skips and dead letters."""
from __future__ import annotations

from typing import Any, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue

from transforms.events import DUPLICATE_ITEM, PARENT_UNRESOLVED, Event
from transforms.thread_ledger import (
    AUTHOR_REPLIES, DEAD_LETTERS, READER_COMMENT, SKIP_POST, SKIP_SELF_RESPONSE, SKIPPED, unresolved_dead_letter,
)


class CountedOutputs:
    """Counters for every branch out of the resolver, shared by the batch and streaming DoFns.
    ``timestamped``: contributions carry their anchor_at as event time, which a stream's panes need;
    a bounded run windows by anchor_at in the key (:mod:`transforms.windowing`) and never reads the
    timestamp, so there a TimestampedValue per contribution is only cost."""

    def __init__(self, timestamped: bool = True) -> None:
        self.timestamped = timestamped
        self.reader_comments = Metrics.counter("resolve", "reader_comments")
        self.author_replies = Metrics.counter("resolve", "author_replies")
        self.unresolved = Metrics.counter("resolve", "parent_unresolved")
        self.duplicate_items = Metrics.counter("dead_letters", DUPLICATE_ITEM)
        self.skipped = {reason: Metrics.counter("skipped", reason) for reason in (SKIP_POST, SKIP_SELF_RESPONSE)}

    def emit(self, outcome: str, value: Any, at_ms: Optional[int] = None) -> Any:
        """Streaming: a skip is timestamped at the skipped event's created_at, and a DUPLICATE_ITEM dead
        letter at ``at_ms`` (its event's), not at the time of the timer that settles them."""
        if outcome == READER_COMMENT:
            self.reader_comments.inc()
            return TimestampedValue(value, value.anchor_at / 1000.0) if self.timestamped else value
        if outcome == DEAD_LETTERS:  # a DUPLICATE_ITEM (PARENT_UNRESOLVED ones go through dead_letter)
            self.duplicate_items.inc()
            return beam.pvalue.TaggedOutput(DEAD_LETTERS, self._at(value, at_ms))
        if outcome == AUTHOR_REPLIES:
            self.author_replies.inc()
            return beam.pvalue.TaggedOutput(
                AUTHOR_REPLIES, TimestampedValue(value, value.anchor_at / 1000.0) if self.timestamped else value)
        self.skipped[value[0]].inc()
        return beam.pvalue.TaggedOutput(SKIPPED, self._at(value, value[1].created_at))

    def _at(self, value: Any, at_ms: Optional[int]) -> Any:
        return TimestampedValue(value, at_ms / 1000.0) if self.timestamped and at_ms is not None else value

    def dead_letter(self, event: Event) -> beam.pvalue.TaggedOutput:
        self.unresolved.inc()
        Metrics.counter("dead_letters", PARENT_UNRESOLVED).inc()
        # timestamped outputs are a stream's: its message says what a stream cannot know
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, unresolved_dead_letter(event, streaming=self.timestamped))
