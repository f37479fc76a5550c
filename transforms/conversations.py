"""Resolve who each response answers, one conversation thread at a time, into pair contributions.

A response's parent lives in the same thread (``thread_id`` is the post the conversation belongs to),
so one grouping by (site, thread_id) finds every parent and grandparent. Events come in deduplicated
(:mod:`transforms.dedupe`). For a response X by actor a, whose parent item P is by p (a != p):

* X is a **reader comment** of (author p, reader a), in the window of X's own created_at;
* X is also an **author reply** of (author a, reader p) when P is itself a response whose parent is
  a's: a answers p's response to a. It is credited to the window of P (the comment it answers), with
  latency X.created_at - P.created_at (clock skew below 0 counts as 0). a's response to p's *post*,
  or to p's response to someone else, is only a reader comment of (p, a).

``ResolveConversations`` takes unique Events and outputs:

* main: one reader-comment :class:`Contribution` per scored response (so the main output counts
  scored records), timestamped at its created_at;
* ``author_replies``: author-reply Contributions (credits, not records), timestamped at the answered
  comment's created_at;
* ``skipped``: (reason, Event) for POSTs and self-responses: counted, not scored;
* ``dead_letters``: PARENT_UNRESOLVED responses whose parent author could not be found, and
  DUPLICATE_ITEM events that claim an item_id another event_id already holds in the thread, with the
  record as JSON.

An item_id belongs to one event: the first delivered, by the rule DedupeEvents keeps the first copy
of an event_id by (origin order in batch, arrival order in streaming). Another event_id with the same
item_id in the same thread is a DUPLICATE_ITEM dead letter, never scored and never anyone's parent,
so a record that reuses a genuine item_id can neither be counted twice nor take over the replies to it.

Batch groups each thread and resolves it whole, so arrival order never matters. Streaming keeps each
thread in state: a response whose parent author is not known waits until its created_at plus the
allowed lateness (event time) before it is dead-lettered; an author reply is credited as soon as the
answered comment and whom that comment answered are both known, whichever of the three events comes
last; a thread's state expires once no event has arrived for the dedupe horizon.
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

from transforms.batching import GroupInShards, grouped_by_key
from transforms.dedupe import event_json, origin_order
from transforms.events import DUPLICATE_ITEM, PARENT_UNRESOLVED, POST, DeadLetter, Event

SKIPPED = "skipped"
AUTHOR_REPLIES = "author_replies"
DEAD_LETTERS = "dead_letters"
READER_COMMENT = "reader_comment"
SKIP_POST = "post"
SKIP_SELF_RESPONSE = "self_response"


class Contribution(NamedTuple):
    """One credit toward the row (site, author_id, reader_id) of the window that holds ``anchor_at``."""

    site: str
    author_id: str
    reader_id: str
    is_author_reply: bool
    anchor_at: int  # epoch millis: the reader comment's created_at, which decides the window
    created_at: int  # epoch millis: when this response was written
    latency_s: Optional[float]  # author replies: seconds since the answered comment, at least 0
    record: Optional[Event] = None  # streaming reader comments: the record, for a TOO_LATE dead letter
    # author replies: written after the end of the window that holds anchor_at (set by
    # transforms.windowing, which decides the window), so an as-of cut at that end leaves it out
    after_window_end: bool = False


class ThreadLedger:
    """What one thread has seen: items by id, responses by parent, responses waiting for a parent."""

    def __init__(self, keep_records: bool = False) -> None:
        self.keep_records = keep_records
        self.items: dict[str, Event] = {}
        self.children: dict[str, list[Event]] = {}
        self.waiting: dict[str, list[Event]] = {}
        self.expired: set[str] = set()  # event ids already dead-lettered as unresolved

    def index(self, event: Event) -> bool:
        """Record the event; False when another event already holds its item_id (the first wins)."""
        if event.item_id in self.items:
            return False
        if event.parent_id is not None:
            self.children.setdefault(event.parent_id, []).append(event)
        self.items[event.item_id] = event
        return True

    def holder_other_than(self, event: Event) -> Optional[Event]:
        """The event that already holds ``event``'s item_id under another event_id, if any."""
        held = self.items.get(event.item_id)
        return held if held is not None and held.event_id != event.event_id else None

    def parent_actor(self, response: Event) -> Optional[str]:
        """Whom the response answers: what the producer sent wins, else the parent's own author."""
        if response.parent_actor_id is not None:
            return response.parent_actor_id
        parent = self.items.get(response.parent_id) if response.parent_id is not None else None
        return parent.actor_id if parent is not None else None

    def parent_time(self, response: Event) -> Optional[int]:
        if response.parent_created_at is not None:
            return response.parent_created_at
        parent = self.items.get(response.parent_id) if response.parent_id is not None else None
        return parent.created_at if parent is not None else None

    def classify(self, event: Event) -> Optional[tuple[str, Any]]:
        """An event's outcome as a record: a reader comment, a skip (post, self-response), or None when
        its parent author is not known yet."""
        if event.kind == POST:
            return (SKIPPED, (SKIP_POST, event))
        author = self.parent_actor(event)
        if author is None:
            return None
        if author == event.actor_id:
            return (SKIPPED, (SKIP_SELF_RESPONSE, event))
        record = event if self.keep_records else None
        return (READER_COMMENT, Contribution(
            event.site, author, event.actor_id, False, event.created_at, event.created_at, None, record))

    def author_reply(self, response: Event) -> Optional[Contribution]:
        """The author-reply credit of a response, when it answers a response to its own actor."""
        if response.kind == POST or response.event_id in self.expired:
            return None
        answered = self.items.get(response.parent_id)
        if answered is None or answered.kind == POST:
            return None
        reader = self.parent_actor(response)
        if reader is None or reader == response.actor_id or self.parent_actor(answered) != response.actor_id:
            return None
        anchor = self.parent_time(response)
        # Clock skew can put a reply before the comment it answers; it is then treated as instant.
        latency_s = max(0.0, (response.created_at - anchor) / 1000.0)
        return Contribution(response.site, response.actor_id, reader, True, anchor, response.created_at, latency_s)

    def add(self, event: Event) -> list[tuple[str, Any]]:
        """Streaming: index one new event; what it resolves: (READER_COMMENT | SKIPPED | AUTHOR_REPLIES,
        value) pairs, for the event itself and for what was waiting on it; an event whose item_id another
        event_id holds is only a (DEAD_LETTERS, DUPLICATE_ITEM dead letter) and is not indexed."""
        held = self.holder_other_than(event)
        if held is not None:
            return [(DEAD_LETTERS, duplicate_item_dead_letter(held, event))]
        new_item = self.index(event)
        outcomes = []
        outcome = self.classify(event)
        if outcome is None:
            self.wait(event)
        else:
            outcomes.append(outcome)
        credits = [self.author_reply(event)]
        if new_item:
            for child in self.waiting.pop(event.item_id, []):  # its parent author is known now
                outcomes.append(self.classify(child))
            # As the answered comment: its answers can be author replies now. As the comment's parent:
            # answers to its responses that took their parent author from it can be, too.
            for child in self.children.get(event.item_id, []):
                credits.append(self.author_reply(child))
                if child.parent_actor_id is None and child is not event:
                    credits.extend(self.author_reply(grandchild) for grandchild in self.children.get(child.item_id, []))
        outcomes.extend((AUTHOR_REPLIES, credit) for credit in credits if credit is not None)
        return outcomes

    def wait(self, response: Event) -> None:
        self.waiting.setdefault(response.parent_id, []).append(response)

    def all_waiting(self) -> list[Event]:
        return [event for events in self.waiting.values() for event in events]

    @classmethod
    def rebuild(cls, events: Iterable[Event], expired_ids: set[str]) -> "ThreadLedger":
        """The ledger of a thread from its stored events (streaming state), expired ones not waiting."""
        ledger = cls(keep_records=True)
        ledger.expired = set(expired_ids)
        stored = list(events)
        for event in stored:
            ledger.index(event)
        for event in stored:
            if event.kind != POST and event.event_id not in ledger.expired and ledger.parent_actor(event) is None:
                ledger.wait(event)
        return ledger


def unresolved_dead_letter(event: Event) -> DeadLetter:
    return DeadLetter(
        event.origin, PARENT_UNRESOLVED,
        f"parent {event.parent_id!r} of {event.kind} {event.item_id!r} never arrived in thread "
        f"{event.thread_id!r} on site {event.site!r}, and the event names no parent_actor_id",
        event.event_id, event_json(event),
    )


def duplicate_item_dead_letter(held: Event, event: Event) -> DeadLetter:
    return DeadLetter(
        event.origin, DUPLICATE_ITEM,
        f"item_id {event.item_id!r} in thread {event.thread_id!r} on site {event.site!r} is already held by "
        f"event {held.event_id!r} (first delivered at {held.origin}); this event reuses it and is not scored",
        event.event_id, event_json(event),
    )


def item_holders(events: Iterable[Event]) -> dict[str, Event]:
    """Batch: each item_id's holder, the event first delivered (by origin, as DedupeEvents orders copies)."""
    holders: dict[str, Event] = {}
    for event in sorted(events, key=lambda e: (origin_order(e.origin), e.event_id)):
        holders.setdefault(event.item_id, event)
    return holders


def thread_key(event: Event) -> str:
    # A flat string key (deterministic to encode, which stateful processing requires), length-prefixed
    # so that no site and thread pair can spell another's key.
    return f"{len(event.site)}:{event.site}/{event.thread_id}"


class _CountedOutputs:
    """Counters for every branch out of the resolver, shared by the batch and streaming DoFns."""

    def __init__(self) -> None:
        self.reader_comments = Metrics.counter("resolve", "reader_comments")
        self.author_replies = Metrics.counter("resolve", "author_replies")
        self.unresolved = Metrics.counter("resolve", "parent_unresolved")
        self.duplicate_items = Metrics.counter("dead_letters", DUPLICATE_ITEM)
        self.skipped = {reason: Metrics.counter("skipped", reason) for reason in (SKIP_POST, SKIP_SELF_RESPONSE)}

    def emit(self, outcome: str, value: Any) -> Any:
        if outcome == READER_COMMENT:
            self.reader_comments.inc()
            return TimestampedValue(value, value.anchor_at / 1000.0)
        if outcome == DEAD_LETTERS:  # a DUPLICATE_ITEM (PARENT_UNRESOLVED ones go through dead_letter)
            self.duplicate_items.inc()
            return beam.pvalue.TaggedOutput(DEAD_LETTERS, value)
        if outcome == AUTHOR_REPLIES:
            self.author_replies.inc()
            return beam.pvalue.TaggedOutput(AUTHOR_REPLIES, TimestampedValue(value, value.anchor_at / 1000.0))
        self.skipped[value[0]].inc()
        return beam.pvalue.TaggedOutput(SKIPPED, value)

    def dead_letter(self, event: Event) -> beam.pvalue.TaggedOutput:
        self.unresolved.inc()
        Metrics.counter("dead_letters", PARENT_UNRESOLVED).inc()
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, unresolved_dead_letter(event))


def resolve_thread(events: Iterable[Event], out: _CountedOutputs) -> Iterable[Any]:
    """One whole thread in; its contributions, skips and dead letters out."""
    ledger = ThreadLedger()
    events = sorted(events, key=lambda e: (e.created_at, e.event_id))
    holders = item_holders(events)
    for event in events:  # every item is indexed first: a reply before its parent still resolves
        if holders[event.item_id].event_id == event.event_id:
            ledger.index(event)
    for event in events:
        if holders[event.item_id].event_id != event.event_id:
            yield out.emit(DEAD_LETTERS, duplicate_item_dead_letter(holders[event.item_id], event))
            continue
        outcome = ledger.classify(event)
        yield out.dead_letter(event) if outcome is None else out.emit(*outcome)
        credit = ledger.author_reply(event)
        if credit is not None:
            yield out.emit(AUTHOR_REPLIES, credit)


class ResolveThreadFn(beam.DoFn):
    """Batch, element-wise (the oracle of ResolveThreadShardFn): one whole thread in; its
    contributions, skips and dead letters out."""

    def setup(self) -> None:
        self.out = _CountedOutputs()

    def process(self, keyed_thread: tuple[str, Iterable[Event]]) -> Iterable[Any]:
        yield from resolve_thread(keyed_thread[1], self.out)


class ResolveThreadShardFn(beam.DoFn):
    """Batch: one shard of threads (batches of Events as tuples) in; each thread as ResolveThreadFn."""

    def setup(self) -> None:
        self.out = _CountedOutputs()

    def process(self, shard_batches: tuple[int, Iterable[list]]) -> Iterable[Any]:
        for events in grouped_by_key(shard_batches[1], thread_key, Event._make).values():
            yield from resolve_thread(events, self.out)


class StreamingResolveThreadFn(beam.DoFn):
    """Streaming: one event of a thread in; what it resolves out, with the thread kept in state."""

    EVENTS = BagStateSpec("events", FastPrimitivesCoder())
    EXPIRED = BagStateSpec("expired_event_ids", StrUtf8Coder())
    PARENT_DEADLINE = TimerSpec("parent_deadline", TimeDomain.WATERMARK)
    STATE_EXPIRY = TimerSpec("state_expiry", TimeDomain.WATERMARK)

    def __init__(self, allowed_lateness_s: float, dedupe_horizon_s: float):
        self.allowed_lateness_ms = int(allowed_lateness_s * 1000)
        self.dedupe_horizon_ms = int(dedupe_horizon_s * 1000)

    def setup(self) -> None:
        self.out = _CountedOutputs()

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
        ledger = ThreadLedger.rebuild(stored, set(expired_state.read()))
        for outcome, value in ledger.add(event):
            yield self.out.emit(outcome, value)
        if ledger.items[event.item_id].event_id != event.event_id:
            return  # a DUPLICATE_ITEM: dead-lettered, never stored, so it never becomes anyone's parent
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
        ledger = ThreadLedger.rebuild(events_state.read(), set(expired_state.read()))
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
        for event in ThreadLedger.rebuild(events_state.read(), set(expired_state.read())).all_waiting():
            yield self.out.dead_letter(event)
        events_state.clear()
        expired_state.clear()


class ResolveConversations(beam.PTransform):
    """Unique Events -> reader-comment Contributions (main), plus ``author_replies``, ``skipped`` and
    ``dead_letters``."""

    def __init__(self, streaming: bool = False, allowed_lateness_s: float = 2 * 86400,
                 dedupe_horizon_s: float = 14 * 86400, batched: bool = True):
        super().__init__()
        self.streaming = streaming
        self.allowed_lateness_s = allowed_lateness_s
        self.dedupe_horizon_s = dedupe_horizon_s
        self.batched = batched  # bounded: shuffle batches per shard of threads (False: one element per event)

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        if self.batched and not self.streaming:
            return (
                events
                | "GroupThreads" >> GroupInShards(thread_key)
                | "ResolveThreads" >> beam.ParDo(ResolveThreadShardFn()).with_outputs(
                    AUTHOR_REPLIES, SKIPPED, DEAD_LETTERS, main="interactions")
            )
        keyed = events | "KeyByThread" >> beam.Map(lambda event: (thread_key(event), event))
        if self.streaming:
            resolver = beam.ParDo(StreamingResolveThreadFn(self.allowed_lateness_s, self.dedupe_horizon_s))
        else:
            keyed = keyed | "GroupThreads" >> beam.GroupByKey()
            resolver = beam.ParDo(ResolveThreadFn())
        return keyed | "ResolveThreads" >> resolver.with_outputs(
            AUTHOR_REPLIES, SKIPPED, DEAD_LETTERS, main="interactions")
