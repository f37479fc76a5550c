"""Streaming: the events of one thread that reached the resolver and are not settled yet.

Why events wait: an item_id belongs to the event delivered first by origin (Kafka partition and offset,
as a bounded run decides it), but the dedupe shuffle before the resolver hands events over in another
order. An event that is on time (its created_at not behind the watermark when it was read) holds the
watermark at or below its created_at until the resolver has it. So once the watermark passes an event's
created_at, every on-time delivery of its item created no later than it has arrived; the resolver then
settles the event (indexes it, scores it) with the lowest origin first. A due event that a lower-origin
delivery of the same item still waiting is blocked by settles with that delivery, never before it.

What is left: a lower-origin delivery that reaches the resolver after a higher-origin one was settled
(it was created later than that one, or read behind the watermark) cannot take the item back, since the
holder's credits are out; it is a DUPLICATE_ITEM dead letter that says so
(:func:`transforms.thread_ledger.duplicate_item_dead_letter`).

Plain Python, kept in the thread's cached ledger (:class:`transforms.thread_ledger.StreamingThread`);
the DoFn keeps the truth in state: the events that arrived, and the ids settled since.
"""
from __future__ import annotations

import heapq
from typing import Iterable, Optional

from transforms.dedupe import origin_order
from transforms.events import Event


def delivery_order(event: Event) -> tuple:
    """Which delivery of an item comes first: by origin, then event_id (as the bounded resolver)."""
    return (origin_order(event.origin), event.event_id)


class PendingEvents:
    """Events waiting for the watermark to pass their created_at, by created_at; and those due but
    blocked by a lower-origin delivery of their item that is not due yet."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._heap: list[tuple[int, tuple, Event]] = []
        self._by_item: dict[str, list[Event]] = {}  # every waiting event (in the heap or blocked)
        self._blocked: dict[str, list[Event]] = {}
        self._count = 0
        for event in events:
            self.add(event)

    def __len__(self) -> int:
        return self._count

    def add(self, event: Event) -> None:
        heapq.heappush(self._heap, (event.created_at, delivery_order(event), event))
        self._by_item.setdefault(event.item_id, []).append(event)
        self._count += 1

    def earliest(self) -> Optional[int]:
        """The created_at the watermark must pass for the next event to be due; None when none waits
        for it (a blocked event waits for its blocker, which is in the heap)."""
        return self._heap[0][0] if self._heap else None

    def due(self, now_ms: Optional[int]) -> list[Event]:
        """Take out the events settled with the watermark past ``now_ms`` (all of them when None), in
        the order to resolve them: lowest origin first."""
        candidates = []
        while self._heap and (now_ms is None or self._heap[0][0] < now_ms):
            candidates.append(heapq.heappop(self._heap)[2])
        for item_id in {event.item_id for event in candidates}:
            candidates.extend(self._blocked.pop(item_id, []))
        chosen = {id(event) for event in candidates}
        settled = []
        for event in candidates:
            # A lower-origin delivery of the item still waits for the watermark: settle after it.
            blocker = min((delivery_order(other) for other in self._by_item[event.item_id] if id(other) not in chosen),
                          default=None)
            if blocker is not None and blocker < delivery_order(event):
                self._blocked.setdefault(event.item_id, []).append(event)
            else:
                settled.append(event)
        for event in settled:
            waiting = [other for other in self._by_item[event.item_id] if other is not event]
            if waiting:
                self._by_item[event.item_id] = waiting
            else:
                del self._by_item[event.item_id]
        self._count -= len(settled)
        return sorted(settled, key=delivery_order)
