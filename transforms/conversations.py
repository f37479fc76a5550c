"""Deduplicate and resolve parents, one conversation thread at a time.

A response's parent lives in the same thread (``thread_id`` is the post the conversation belongs to),
and a re-delivered event carries the same thread as its first copy. So one grouping by
(site, thread_id) serves both steps, where separate dedupe and resolve steps would shuffle every event
twice: that second shuffle would cost more than all the scoring.

``ResolveConversations`` takes Events and outputs:

* main: :class:`Interaction` (actor answered parent_actor at created_at), timestamped at created_at;
* ``skipped``: (reason, Event) for POSTs and self-responses: counted, not scored;
* ``duplicates``: later copies of an event_id already seen;
* ``dead_letters``: PARENT_UNRESOLVED responses whose parent author could not be found.

Batch groups each thread and resolves it whole, so arrival order never matters. Streaming keeps each
thread in state: a response whose parent has not arrived waits until its created_at plus the allowed
lateness (event time) before it is dead-lettered, and a thread's state (dedupe included) expires once
no event has arrived for the dedupe horizon.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Optional

import apache_beam as beam
from apache_beam.coders import FastPrimitivesCoder, StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.events import PARENT_UNRESOLVED, POST, DeadLetter, Event

SKIPPED = "skipped"
DUPLICATES = "duplicates"
DEAD_LETTERS = "dead_letters"
SKIP_POST = "post"
SKIP_SELF_RESPONSE = "self_response"
SKIP_REPLAY_CONTEXT = "replay_context"


class Interaction(NamedTuple):
    """``actor_id`` answered ``parent_actor_id`` on ``site`` at ``created_at`` (epoch millis)."""

    site: str
    actor_id: str
    parent_actor_id: str
    created_at: int
    parent_created_at: Optional[int]


class ThreadLedger:
    """What one thread has seen: event ids (dedupe), items by id, responses waiting for a parent.

    Events older than ``replay_fence_ms`` are context: a restarted Kafka pipeline re-reads them so
    that dedupe and parent resolution see what the interrupted run saw, but their own windows were
    final before the interruption, so they are indexed, never scored again.
    """

    def __init__(self, replay_fence_ms: Optional[int] = None) -> None:
        self.replay_fence_ms = replay_fence_ms
        self.event_ids: set[str] = set()
        self.items: dict[str, Event] = {}
        self.waiting: dict[str, list[Event]] = {}

    def admit(self, event: Event) -> bool:
        """Record the event; False when its event_id was seen before (a duplicate)."""
        if event.event_id in self.event_ids:
            return False
        self.event_ids.add(event.event_id)
        self.items.setdefault(event.item_id, event)
        return True

    def resolve(self, response: Event) -> Optional[Interaction]:
        """The interaction of a response, or None when its parent author is not known yet.

        What the producer sent wins; what it left out is taken from the parent's own event.
        """
        parent = self.items.get(response.parent_id)
        parent_actor = response.parent_actor_id or (parent.actor_id if parent else None)
        if parent_actor is None:
            return None
        parent_created_at = response.parent_created_at
        if parent_created_at is None and parent is not None:
            parent_created_at = parent.created_at
        return Interaction(response.site, response.actor_id, parent_actor, response.created_at, parent_created_at)

    def is_context(self, event: Event) -> bool:
        return self.replay_fence_ms is not None and event.created_at < self.replay_fence_ms

    def add(self, event: Event) -> list[tuple[str, Any]]:
        """Streaming: admit one event and resolve it and whatever was waiting for it.

        Returns (outcome, value) pairs, outcome being 'interaction', SKIPPED or DUPLICATES.
        """
        if not self.admit(event):
            return [(DUPLICATES, event)]
        outcomes = [classify(self, event)]
        for child in self.waiting.pop(event.item_id, []):
            outcomes.append(classify(self, child))
        return [outcome for outcome in outcomes if outcome is not None]

    def wait(self, response: Event) -> None:
        self.waiting.setdefault(response.parent_id, []).append(response)

    def all_waiting(self) -> list[Event]:
        return [event for events in self.waiting.values() for event in events]

    @classmethod
    def rebuild(cls, events: Iterable[Event], expired_ids: set[str], replay_fence_ms: Optional[int] = None) -> "ThreadLedger":
        """The ledger of a thread from its stored events (streaming state), expired ones not waiting."""
        ledger = cls(replay_fence_ms)
        stored = list(events)
        for event in stored:
            ledger.admit(event)
        for event in stored:
            if (event.kind != POST and event.event_id not in expired_ids and not ledger.is_context(event)
                    and ledger.resolve(event) is None):
                ledger.wait(event)
        return ledger


def classify(ledger: ThreadLedger, response: Event) -> Optional[tuple[str, Any]]:
    """An admitted event's outcome: an interaction, a skip (post, self-response, replay context), or
    None when its parent author is not known yet (it then waits in the ledger)."""
    if ledger.is_context(response):
        return (SKIPPED, (SKIP_REPLAY_CONTEXT, response))
    if response.kind == POST:
        return (SKIPPED, (SKIP_POST, response))
    interaction = ledger.resolve(response)
    if interaction is None:
        ledger.wait(response)
        return None
    if interaction.parent_actor_id == interaction.actor_id:
        return (SKIPPED, (SKIP_SELF_RESPONSE, response))
    return ("interaction", interaction)


def unresolved_dead_letter(event: Event) -> DeadLetter:
    return DeadLetter(
        event.origin, PARENT_UNRESOLVED,
        f"parent {event.parent_id!r} of {event.kind} {event.item_id!r} never arrived in thread "
        f"{event.thread_id!r} on site {event.site!r}, and the event names no parent_actor_id",
        event.event_id, None,
    )


def thread_key(event: Event) -> str:
    # A flat string key: deterministic to encode, which stateful processing requires.
    return f"{event.site}\x1f{event.thread_id}"


class _CountedOutputs:
    """Counters for every branch out of the resolver, shared by the batch and streaming DoFns."""

    def __init__(self) -> None:
        self.interactions = Metrics.counter("resolve", "interactions")
        self.duplicates = Metrics.counter("resolve", "duplicates")
        self.unresolved = Metrics.counter("resolve", "parent_unresolved")
        self.skipped = {reason: Metrics.counter("skipped", reason)
                        for reason in (SKIP_POST, SKIP_SELF_RESPONSE, SKIP_REPLAY_CONTEXT)}

    def emit(self, outcome: str, value: Any) -> Any:
        if outcome == "interaction":
            self.interactions.inc()
            return TimestampedValue(value, value.created_at / 1000.0)
        if outcome == SKIPPED:
            self.skipped[value[0]].inc()
            return beam.pvalue.TaggedOutput(SKIPPED, value)
        self.duplicates.inc()
        return beam.pvalue.TaggedOutput(DUPLICATES, value)

    def dead_letter(self, event: Event) -> beam.pvalue.TaggedOutput:
        self.unresolved.inc()
        Metrics.counter("dead_letters", PARENT_UNRESOLVED).inc()
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, unresolved_dead_letter(event))


class ResolveThreadFn(beam.DoFn):
    """Batch: one whole thread in; its interactions, skips, duplicates and dead letters out."""

    def __init__(self, replay_fence_ms: Optional[int] = None):
        self.replay_fence_ms = replay_fence_ms

    def setup(self) -> None:
        self.out = _CountedOutputs()

    def process(self, keyed_thread: tuple[str, Iterable[Event]]) -> Iterable[Any]:
        _, events = keyed_thread
        ledger = ThreadLedger(self.replay_fence_ms)
        unique = []
        # Sorted, so that which copy of a duplicate is kept does not depend on arrival order.
        for event in sorted(events, key=lambda e: (e.created_at, e.event_id, e.origin)):
            if ledger.admit(event):
                unique.append(event)
            else:
                yield self.out.emit(DUPLICATES, event)
        for event in unique:  # every item is indexed now: a reply before its parent still resolves
            outcome = classify(ledger, event)
            if outcome is None:
                yield self.out.dead_letter(event)
            else:
                yield self.out.emit(*outcome)


class StreamingResolveThreadFn(beam.DoFn):
    """Streaming: one event of a thread in; what it resolves out, with the thread kept in state."""

    EVENTS = BagStateSpec("events", FastPrimitivesCoder())
    EXPIRED = BagStateSpec("expired_event_ids", StrUtf8Coder())
    PARENT_DEADLINE = TimerSpec("parent_deadline", TimeDomain.WATERMARK)
    STATE_EXPIRY = TimerSpec("state_expiry", TimeDomain.WATERMARK)

    def __init__(self, allowed_lateness_s: float, dedupe_horizon_s: float, replay_fence_ms: Optional[int] = None):
        self.allowed_lateness_ms = int(allowed_lateness_s * 1000)
        self.dedupe_horizon_ms = int(dedupe_horizon_s * 1000)
        self.replay_fence_ms = replay_fence_ms

    def setup(self) -> None:
        self.out = _CountedOutputs()

    def _ledger(self, stored: Iterable[Event], expired_state) -> ThreadLedger:
        return ThreadLedger.rebuild(stored, set(expired_state.read()), self.replay_fence_ms)

    def process(
        self,
        keyed_event: tuple[str, Event],
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
        state_expiry=beam.DoFn.TimerParam(STATE_EXPIRY),
    ) -> Iterable[Any]:
        _, event = keyed_event
        stored = list(events_state.read())
        ledger = self._ledger(stored, expired_state)
        is_new = event.event_id not in ledger.event_ids
        for outcome, value in ledger.add(event):
            yield self.out.emit(outcome, value)
        if is_new:
            events_state.add(event)
            stored.append(event)
        waiting = ledger.all_waiting()
        if waiting:
            earliest = min(e.created_at for e in waiting)
            parent_deadline.set(Timestamp(micros=(earliest + self.allowed_lateness_ms) * 1000))
        newest = max(e.created_at for e in stored)
        state_expiry.set(Timestamp(micros=(newest + self.dedupe_horizon_ms) * 1000))

    @on_timer(PARENT_DEADLINE)
    def dead_letter_unresolved(
        self,
        fired_at=beam.DoFn.TimestampParam,
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
    ) -> Iterable[Any]:
        ledger = self._ledger(events_state.read(), expired_state)
        now_ms = fired_at.micros // 1000
        later = []
        for event in ledger.all_waiting():
            if event.created_at + self.allowed_lateness_ms <= now_ms:
                expired_state.add(event.event_id)
                yield self.out.dead_letter(event)
            else:
                later.append(event.created_at)
        if later:
            parent_deadline.set(Timestamp(micros=(min(later) + self.allowed_lateness_ms) * 1000))

    @on_timer(STATE_EXPIRY)
    def expire_thread(
        self,
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
    ) -> Iterable[Any]:
        # Anything still waiting is dead-lettered here, so clearing state never loses a record.
        for event in self._ledger(events_state.read(), expired_state).all_waiting():
            yield self.out.dead_letter(event)
        events_state.clear()
        expired_state.clear()


class ResolveConversations(beam.PTransform):
    """Events -> Interactions (main), plus ``skipped``, ``duplicates`` and ``dead_letters``."""

    def __init__(self, streaming: bool = False, allowed_lateness_s: float = 2 * 86400,
                 dedupe_horizon_s: float = 7 * 86400, replay_fence_ms: Optional[int] = None):
        super().__init__()
        self.streaming = streaming
        self.replay_fence_ms = replay_fence_ms
        self.allowed_lateness_s = allowed_lateness_s
        self.dedupe_horizon_s = dedupe_horizon_s

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        keyed = events | "KeyByThread" >> beam.Map(lambda event: (thread_key(event), event))
        if self.streaming:
            resolver = beam.ParDo(StreamingResolveThreadFn(
                self.allowed_lateness_s, self.dedupe_horizon_s, self.replay_fence_ms))
        else:
            keyed = keyed | "GroupThreads" >> beam.GroupByKey()
            resolver = beam.ParDo(ResolveThreadFn(self.replay_fence_ms))
        return keyed | "ResolveThreads" >> resolver.with_outputs(SKIPPED, DUPLICATES, DEAD_LETTERS, main="interactions")
