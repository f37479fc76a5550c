"""Streaming: the events of one thread that reached the resolver and are not settled yet.

Why events wait: an item_id belongs to the claim created first (ties: the one delivered first by origin,
Kafka partition and offset), in a bounded run and in a stream alike, but the dedupe shuffle before the
resolver hands events over in another order. An event that is on time (its created_at not behind the
watermark when it was read) holds the watermark at or below its created_at until the resolver has it.
So once the watermark passes an event's created_at, every on-time claim of its item created no later
than it has arrived, whichever partition it was written to; the resolver then settles the due events
(indexes them, scores them) in claim order, and the first claim of each item holds it.

Why created first and not delivered first: Kafka orders records only within a partition. A producer
that writes one thread to several partitions can put the later-created claim at the lower partition,
read after the watermark passed the other claim; a stream could not wait for it, and a restart (a
bounded reading of the same records) would pick another holder than the live stream did, so both
holders' rows would stand. By created_at, the stream can always wait, and every reading agrees.

What is left: a claim read behind the watermark (stamped more than the source's out-of-orderness
allowance before the newest records, read that late on a quiet topic, or backfilled into a live topic)
that was created before the holder the stream already settled cannot take the item back, since the holder's
credits are out; it is a DUPLICATE_ITEM dead letter that says so
(:func:`transforms.thread_ledger.duplicate_item_dead_letter`).

Plain Python, kept in the thread's cached ledger (:class:`transforms.thread_ledger.StreamingThread`);
the DoFn keeps the truth in state: the events that arrived, and the ids settled since.
"""
from __future__ import annotations

import heapq
from typing import Iterable, Optional

from transforms.dedupe import origin_order
from transforms.events import Event


def claim_order(event: Event) -> tuple:
    """Which claim of an item holds it: created first, then delivered first by origin, then event_id
    (the batch resolver's rule too)."""
    return (event.created_at, origin_order(event.origin), event.event_id)


class PendingEvents:
    """Events waiting for the watermark to pass their created_at, in claim order."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._heap: list[tuple[tuple, Event]] = []
        for event in events:
            self.add(event)

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, event: Event) -> None:
        heapq.heappush(self._heap, (claim_order(event), event))

    def earliest(self) -> Optional[int]:
        """The created_at the watermark must pass for the next event to be due; None when none waits."""
        return self._heap[0][1].created_at if self._heap else None

    def due(self, now_ms: Optional[int]) -> list[Event]:
        """Take out the events settled with the watermark past ``now_ms`` (all of them when None), in
        the order to resolve them: claim order. Claims created at the same instant are due together."""
        settled = []
        while self._heap and (now_ms is None or self._heap[0][1].created_at < now_ms):
            settled.append(heapq.heappop(self._heap)[1])
        return settled
