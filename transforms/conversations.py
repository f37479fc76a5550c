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
  scored records), in a stream timestamped at its created_at;
* ``author_replies``: author-reply Contributions (credits, not records), in a stream timestamped at
  the answered comment's created_at (a bounded run's contributions keep no event time: nothing reads it);
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

from typing import Any, Iterable

import apache_beam as beam
from apache_beam.coders import FastPrimitivesCoder, StrUtf8Coder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.batching import GroupInShards, grouped_by_key
from transforms.events import DUPLICATE_ITEM, PARENT_UNRESOLVED, Event
from transforms.thread_ledger import (
    AUTHOR_REPLIES, DEAD_LETTERS, READER_COMMENT, SKIP_POST, SKIP_SELF_RESPONSE, SKIPPED, LedgerCache,
    StreamingThread, ThreadLedger, duplicate_item_dead_letter, item_holders, thread_key, unresolved_dead_letter,
)


class _CountedOutputs:
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

    def emit(self, outcome: str, value: Any) -> Any:
        if outcome == READER_COMMENT:
            self.reader_comments.inc()
            return TimestampedValue(value, value.anchor_at / 1000.0) if self.timestamped else value
        if outcome == DEAD_LETTERS:  # a DUPLICATE_ITEM (PARENT_UNRESOLVED ones go through dead_letter)
            self.duplicate_items.inc()
            return beam.pvalue.TaggedOutput(DEAD_LETTERS, value)
        if outcome == AUTHOR_REPLIES:
            self.author_replies.inc()
            return beam.pvalue.TaggedOutput(
                AUTHOR_REPLIES, TimestampedValue(value, value.anchor_at / 1000.0) if self.timestamped else value)
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
        self.out = _CountedOutputs(timestamped=False)

    def process(self, keyed_thread: tuple[str, Iterable[Event]]) -> Iterable[Any]:
        yield from resolve_thread(keyed_thread[1], self.out)


class ResolveThreadShardFn(beam.DoFn):
    """Batch: one shard of threads (batches of Events as tuples) in; each thread as ResolveThreadFn."""

    def setup(self) -> None:
        self.out = _CountedOutputs(timestamped=False)

    def process(self, shard_batches: tuple[int, Iterable[list]]) -> Iterable[Any]:
        for events in grouped_by_key(shard_batches[1], thread_key, Event._make).values():
            yield from resolve_thread(events, self.out)


class StreamingResolveThreadFn(beam.DoFn):
    """Streaming: one event of a thread in; what it resolves out, with the thread kept in state.

    State per thread: a bag of its stored events (as plain tuples, which FastPrimitivesCoder writes
    without pickling), a bag of the event ids dead-lettered as unresolved, and a version number written
    anew with every change. The ledger built from them stays in memory (a LedgerCache) tagged with that
    version, so an event costs reading the version and appending one tuple, whatever the thread's
    length; the bags are read and the ledger rebuilt only when this worker holds no ledger of the
    current version (first sight of the thread here, a retried bundle, an eviction, another worker).
    The outcomes are the rebuild's: the cached ledger is the rebuilt one, changed the way a rebuild
    would see it (tests/transforms/test_conversations_streaming.py compares with the rebuild on every
    event, kept in bench/resolver_cost.py).
    """

    EVENTS = BagStateSpec("thread_events", FastPrimitivesCoder())
    EXPIRED = BagStateSpec("expired_event_ids", StrUtf8Coder())
    VERSION = ReadModifyWriteStateSpec("ledger_version", VarIntCoder())
    PARENT_DEADLINE = TimerSpec("parent_deadline", TimeDomain.WATERMARK)
    STATE_EXPIRY = TimerSpec("state_expiry", TimeDomain.WATERMARK)

    def __init__(self, allowed_lateness_s: float, dedupe_horizon_s: float, cached_events: int = 200_000):
        self.allowed_lateness_ms = int(allowed_lateness_s * 1000)
        self.dedupe_horizon_ms = int(dedupe_horizon_s * 1000)
        self.cached_events = cached_events  # per DoFn instance, in all threads (about 1 KB each); 0: none

    def setup(self) -> None:
        self.out = _CountedOutputs()
        self.cache = LedgerCache(self.cached_events)

    def _thread(self, key: str, version_state, events_state, expired_state) -> StreamingThread:
        """The thread's ledger, out of the cache (put it back with _keep once the call succeeds)."""
        version = version_state.read()
        thread = self.cache.take(key, version)
        if thread is None:
            thread = StreamingThread.from_state(version, events_state.read(), expired_state.read())
        return thread

    def _keep(self, key: str, thread: StreamingThread, version_state, changed: bool) -> None:
        if changed:
            thread.version = self.cache.new_version()
            version_state.write(thread.version)
        self.cache.put(key, thread)

    def _set_parent_deadline(self, ledger: ThreadLedger, parent_deadline) -> None:
        earliest = ledger.earliest_waiting()
        if earliest is not None:
            parent_deadline.set(Timestamp(micros=(earliest + self.allowed_lateness_ms) * 1000))

    def process(
        self,
        keyed_event: tuple[str, Event],
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        version_state=beam.DoFn.StateParam(VERSION),
        parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
        state_expiry=beam.DoFn.TimerParam(STATE_EXPIRY),
    ) -> Iterable[Any]:
        key, event = keyed_event
        thread = self._thread(key, version_state, events_state, expired_state)
        ledger = thread.ledger
        for outcome, value in ledger.add(event):
            yield self.out.emit(outcome, value)
        if ledger.items[event.item_id].event_id != event.event_id:
            self._keep(key, thread, version_state, changed=False)
            return  # a DUPLICATE_ITEM: dead-lettered, never stored, so it never becomes anyone's parent
        if event.event_id in ledger.expired:
            ledger.expire({event.event_id})  # as a rebuild would see it: an expired event id waits no more
        events_state.add(tuple(event))
        thread.newest = event.created_at if thread.newest is None else max(thread.newest, event.created_at)
        self._keep(key, thread, version_state, changed=True)
        self._set_parent_deadline(ledger, parent_deadline)
        state_expiry.set(Timestamp(micros=(thread.newest + self.dedupe_horizon_ms) * 1000))

    @on_timer(PARENT_DEADLINE)
    def dead_letter_unresolved(
        self,
        key=beam.DoFn.KeyParam,
        fired_at=beam.DoFn.TimestampParam,
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        version_state=beam.DoFn.StateParam(VERSION),
        parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
    ) -> Iterable[Any]:
        thread = self._thread(key, version_state, events_state, expired_state)
        now_ms = fired_at.micros // 1000
        due = [e for e in thread.ledger.all_waiting() if e.created_at + self.allowed_lateness_ms <= now_ms]
        for event in due:
            expired_state.add(event.event_id)
            yield self.out.dead_letter(event)
        if due:
            thread.ledger.expire({event.event_id for event in due})
        self._keep(key, thread, version_state, changed=bool(due))
        self._set_parent_deadline(thread.ledger, parent_deadline)

    @on_timer(STATE_EXPIRY)
    def expire_thread(
        self,
        key=beam.DoFn.KeyParam,
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        version_state=beam.DoFn.StateParam(VERSION),
    ) -> Iterable[Any]:
        # Anything still waiting is dead-lettered here, so clearing state never loses a record; the
        # ledger stays out of the cache.
        for event in self._thread(key, version_state, events_state, expired_state).ledger.all_waiting():
            yield self.out.dead_letter(event)
        events_state.clear()
        expired_state.clear()
        version_state.clear()


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
