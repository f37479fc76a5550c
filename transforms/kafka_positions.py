"""Positions of a Kafka read as a splittable DoFn's restriction: one restriction covers every
partition of a topic (a bounded read is split per partition at the start), positions are
(partition, offset).

``TopicRestriction`` in, ``TopicPositionsTracker`` claims positions. A bounded restriction has stop
offsets; an unbounded one ends either with a checkpoint (the runner resumes it later) or, when the
run is being stopped, with :meth:`TopicPositionsTracker.stop_here`, which makes it bounded at the
positions reached, so the read finishes and the watermark can advance to the end of time.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Optional

from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker
from apache_beam.transforms.core import RestrictionProvider


# Claimed to end an unbounded read at the positions reached: no partition or offset is negative.
STOP_HERE = (-1, -1)


class TopicRestriction(NamedTuple):
    """Per partition, the next offset to read and (bounded) the offset to stop before."""

    starts: tuple[tuple[int, int], ...]
    stops: Optional[tuple[tuple[int, int], ...]]


class TopicPositionsTracker(RestrictionTracker):
    """Claims (partition, offset) positions of one topic; splits only at the current positions.

    One restriction covers every partition of the topic, so one watermark estimator sees them all:
    the topic's watermark is the oldest partition's, which a per-partition restriction cannot give on
    Prism (a partition that has not started yet did not hold back the others).
    """

    def __init__(self, restriction: TopicRestriction):
        self._restriction = restriction
        self._positions = dict(restriction.starts)
        self._stops = dict(restriction.stops) if restriction.stops is not None else None
        self._checkpointed = False
        self._stopped = False

    def current_restriction(self) -> TopicRestriction:
        return self._restriction

    def positions(self) -> dict[int, int]:
        return dict(self._positions)

    def try_claim(self, position: tuple[int, int]) -> bool:
        """Claim (partition, offset); :data:`STOP_HERE` instead ends the read (see :meth:`stop_here`).

        (A DoFn sees its tracker through Beam's RestrictionTrackerView, which only offers
        try_claim: the stop goes through it.)"""
        if position == STOP_HERE:
            self.stop_here()
            return False
        partition, offset = position
        if self._checkpointed:
            return False
        if self._stops is not None and offset >= self._stops[partition]:
            return False
        self._positions[partition] = max(self._positions[partition], offset + 1)
        return True

    def stop_here(self) -> None:
        """End the read at the positions reached (the run is stopping): the restriction becomes
        bounded and done, with no residual, so the runner's watermark for it goes to the end of time."""
        current = tuple(sorted(self._positions.items()))
        self._restriction = TopicRestriction(self._restriction.starts, current)
        self._stops = dict(current)
        self._stopped = True

    def try_split(self, fraction_of_remainder: float):
        if fraction_of_remainder != 0 or self._checkpointed or self._stopped:
            return None
        current = tuple(sorted(self._positions.items()))
        primary = TopicRestriction(self._restriction.starts, current)
        residual = TopicRestriction(current, self._restriction.stops)
        self._restriction = primary
        self._checkpointed = True
        return primary, residual

    def check_done(self) -> None:
        if self._checkpointed:
            return
        if self._stops is None:
            raise ValueError("an unbounded Kafka read must end with a checkpoint")
        behind = {p: (self._positions[p], stop) for p, stop in self._stops.items() if self._positions[p] < stop}
        if behind:
            raise ValueError(f"partitions not read to their stop offsets: {behind}")

    def current_progress(self) -> RestrictionProgress:
        done = sum(self._positions[p] - start for p, start in self._restriction.starts)
        if self._stops is None:
            return RestrictionProgress(completed=done, remaining=1)
        remaining = sum(max(0, stop - self._positions[p]) for p, stop in self._stops.items())
        return RestrictionProgress(completed=done, remaining=remaining)

    def is_bounded(self) -> bool:
        return self._stops is not None


class TopicRestrictionProvider(RestrictionProvider):
    def initial_restriction(self, plans: tuple) -> TopicRestriction:
        starts = tuple((p.partition, p.start) for p in plans)
        if any(p.stop is None for p in plans):
            return TopicRestriction(starts, None)
        return TopicRestriction(starts, tuple((p.partition, p.stop) for p in plans))

    def create_tracker(self, restriction: TopicRestriction) -> TopicPositionsTracker:
        return TopicPositionsTracker(restriction)

    def split(self, plans: tuple, restriction: TopicRestriction) -> Iterable[TopicRestriction]:
        """A bounded read, one restriction per partition with records to read, so that a runner with
        several workers (Flink at parallelism 2) reads partitions in parallel. A stream keeps one
        restriction for the topic: its watermark must be the oldest partition's (class docstring).
        A bounded run's watermark decides nothing (its windows come from each event's time)."""
        if restriction.stops is None:
            yield restriction
            return
        stops = dict(restriction.stops)
        parts = [TopicRestriction(((partition, start),), ((partition, stops[partition]),))
                 for partition, start in restriction.starts if start < stops[partition]]
        yield from parts if len(parts) > 1 else [restriction]

    def restriction_size(self, plans: tuple, restriction: TopicRestriction) -> int:
        if restriction.stops is None:
            return 1
        starts = dict(restriction.starts)
        return sum(max(0, stop - starts[p]) for p, stop in restriction.stops)

    def truncate(self, plans: tuple, restriction: TopicRestriction) -> None:
        return None  # on drain, stop reading at once
