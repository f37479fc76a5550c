"""The streaming resolver of :mod:`transforms.conversations` (which says the rules), and the counted
outputs it shares with the batch resolvers.

``StreamingResolveThreadFn`` keeps each thread in state and settles an event once the watermark passes
its created_at, lowest origin first (:mod:`transforms.pending_events`), so that a reused item_id is
held by the delivery first by origin, as a bounded run decides it, whatever order the dedupe shuffle
before it hands the deliveries over in.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.coders import FastPrimitivesCoder, StrUtf8Coder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.events import DUPLICATE_ITEM, PARENT_UNRESOLVED, Event
from transforms.thread_ledger import (
    AUTHOR_REPLIES, DEAD_LETTERS, READER_COMMENT, SKIP_POST, SKIP_SELF_RESPONSE, SKIPPED, LedgerCache,
    StreamingThread, ThreadLedger, unresolved_dead_letter,
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
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, unresolved_dead_letter(event))


class StreamingResolveThreadFn(beam.DoFn):
    """Streaming: one event of a thread in; what it resolves out, once settled, with the thread in state.

    An event is settled (indexed and resolved) once the watermark passes its created_at, lowest origin
    first (:mod:`transforms.pending_events`): a reused item_id is then held by the delivery first by
    origin, as in a bounded run, whatever order the shuffle before hands the deliveries over in.

    State per thread: a bag of its settled events (as plain tuples, which FastPrimitivesCoder writes
    without pickling), a bag of the event ids dead-lettered as unresolved, a bag of the events that
    arrived since the thread last had none waiting and a bag of the ids of those settled since (both
    emptied when none waits), and a version number written anew with every change. The ledger built
    from them stays in memory (a LedgerCache) tagged with that version, so an event costs reading the
    version and appending a tuple or two, whatever the thread's length; the bags are read and the
    ledger rebuilt only when this worker holds no ledger of the current version (first sight of the
    thread here, a retried bundle, an eviction, another worker). The outcomes are the rebuild's: the
    cached ledger is the rebuilt one, changed the way a rebuild would see it
    (tests/transforms/test_conversations_streaming.py compares with the rebuild on every event, kept in
    bench/resolver_cost.py).
    """

    EVENTS = BagStateSpec("thread_events", FastPrimitivesCoder())
    EXPIRED = BagStateSpec("expired_event_ids", StrUtf8Coder())
    ARRIVED = BagStateSpec("arrived_events", FastPrimitivesCoder())
    SETTLED = BagStateSpec("settled_event_ids", StrUtf8Coder())
    VERSION = ReadModifyWriteStateSpec("ledger_version", VarIntCoder())
    SETTLE = TimerSpec("settle", TimeDomain.WATERMARK)
    PARENT_DEADLINE = TimerSpec("parent_deadline", TimeDomain.WATERMARK)
    STATE_EXPIRY = TimerSpec("state_expiry", TimeDomain.WATERMARK)

    def __init__(self, allowed_lateness_s: float, dedupe_horizon_s: float, cached_events: int = 200_000):
        self.allowed_lateness_ms = int(allowed_lateness_s * 1000)
        self.dedupe_horizon_ms = int(dedupe_horizon_s * 1000)
        self.cached_events = cached_events  # per DoFn instance, in all threads (about 1 KB each); 0: none

    def setup(self) -> None:
        self.out = CountedOutputs()
        self.cache = LedgerCache(self.cached_events)

    def _thread(self, key: str, version_state, events_state, expired_state, arrived_state,
                settled_state) -> StreamingThread:
        """The thread's ledger, out of the cache (put it back with _keep once the call succeeds)."""
        version = version_state.read()
        thread = self.cache.take(key, version)
        if thread is None:
            thread = StreamingThread.from_state(version, events_state.read(), expired_state.read(),
                                                arrived_state.read(), settled_state.read())
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

    def _settle(self, thread: StreamingThread, now_ms, events_state, arrived_state,
                settled_state) -> Iterable[Any]:
        """Resolve the events due at ``now_ms`` (all when None), lowest origin first."""
        ledger = thread.ledger
        for event in thread.pending.due(now_ms):
            settled_state.add(event.event_id)
            for outcome, value in ledger.add(event):
                yield self.out.emit(outcome, value, event.created_at)
            if ledger.items[event.item_id].event_id != event.event_id:
                continue  # a DUPLICATE_ITEM: dead-lettered, never stored, so it never becomes anyone's parent
            if event.event_id in ledger.expired:
                ledger.expire({event.event_id})  # as a rebuild would see it: an expired event id waits no more
            events_state.add(tuple(event))
        if not len(thread.pending):
            arrived_state.clear()
            settled_state.clear()

    def process(
        self,
        keyed_event: tuple[str, Event],
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        arrived_state=beam.DoFn.StateParam(ARRIVED),
        settled_state=beam.DoFn.StateParam(SETTLED),
        version_state=beam.DoFn.StateParam(VERSION),
        settle=beam.DoFn.TimerParam(SETTLE),
        state_expiry=beam.DoFn.TimerParam(STATE_EXPIRY),
    ) -> Iterable[Any]:
        key, event = keyed_event
        thread = self._thread(key, version_state, events_state, expired_state, arrived_state, settled_state)
        thread.pending.add(event)
        arrived_state.add(tuple(event))
        thread.newest = event.created_at if thread.newest is None else max(thread.newest, event.created_at)
        self._keep(key, thread, version_state, changed=True)
        # settled once the watermark is past its created_at (a timer fires when the watermark reaches it)
        settle.set(Timestamp(micros=(thread.pending.earliest() + 1) * 1000))
        state_expiry.set(Timestamp(micros=(thread.newest + self.dedupe_horizon_ms) * 1000))
        return []

    @on_timer(SETTLE)
    def settle_arrived(
        self,
        key=beam.DoFn.KeyParam,
        fired_at=beam.DoFn.TimestampParam,
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        arrived_state=beam.DoFn.StateParam(ARRIVED),
        settled_state=beam.DoFn.StateParam(SETTLED),
        version_state=beam.DoFn.StateParam(VERSION),
        settle=beam.DoFn.TimerParam(SETTLE),
        parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
    ) -> Iterable[Any]:
        thread = self._thread(key, version_state, events_state, expired_state, arrived_state, settled_state)
        before = len(thread.pending)
        yield from self._settle(thread, fired_at.micros // 1000, events_state, arrived_state, settled_state)
        self._keep(key, thread, version_state, changed=len(thread.pending) != before)
        self._set_parent_deadline(thread.ledger, parent_deadline)
        earliest = thread.pending.earliest()
        if earliest is not None:
            settle.set(Timestamp(micros=(earliest + 1) * 1000))

    @on_timer(PARENT_DEADLINE)
    def dead_letter_unresolved(
        self,
        key=beam.DoFn.KeyParam,
        fired_at=beam.DoFn.TimestampParam,
        events_state=beam.DoFn.StateParam(EVENTS),
        expired_state=beam.DoFn.StateParam(EXPIRED),
        arrived_state=beam.DoFn.StateParam(ARRIVED),
        settled_state=beam.DoFn.StateParam(SETTLED),
        version_state=beam.DoFn.StateParam(VERSION),
        parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
    ) -> Iterable[Any]:
        thread = self._thread(key, version_state, events_state, expired_state, arrived_state, settled_state)
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
        arrived_state=beam.DoFn.StateParam(ARRIVED),
        settled_state=beam.DoFn.StateParam(SETTLED),
        version_state=beam.DoFn.StateParam(VERSION),
    ) -> Iterable[Any]:
        # Anything not settled yet is settled now, and anything still waiting for a parent is
        # dead-lettered, so clearing state never loses a record; the ledger stays out of the cache.
        thread = self._thread(key, version_state, events_state, expired_state, arrived_state, settled_state)
        yield from self._settle(thread, None, events_state, arrived_state, settled_state)
        for event in thread.ledger.all_waiting():
            yield self.out.dead_letter(event)
        events_state.clear()
        expired_state.clear()
        arrived_state.clear()
        settled_state.clear()
        version_state.clear()
