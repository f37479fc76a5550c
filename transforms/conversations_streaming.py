"""The streaming resolver of :mod:`transforms.conversations` (which says the rules).

``StreamingResolveThreadFn`` keeps each thread in state and settles an event once the watermark passes
its created_at, in claim order (:mod:`transforms.pending_events`), so that a reused item_id is
held by its first claim (created first, then by origin), as a bounded run decides it, whatever order
the dedupe shuffle before it hands the claims over in and whichever partitions they were written to.
"""
from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam
from apache_beam.coders import FastPrimitivesCoder, StrUtf8Coder, VarIntCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from transforms.events import Event
from transforms.resolve_outputs import CountedOutputs
from transforms.thread_ledger import LedgerCache, StreamingThread, ThreadLedger


class StreamingResolveThreadFn(beam.DoFn):
    """Streaming: one event of a thread in; what it resolves out, once settled, with the thread in state.

    An event is settled (indexed and resolved) once the watermark passes its created_at, in claim order
    (:mod:`transforms.pending_events`): a reused item_id is then held by its first claim, as in a
    bounded run, whatever order the shuffle before hands the claims over in.

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
        """Resolve the events due at ``now_ms`` (all when None), in claim order."""
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
        due = [e for e in thread.ledger.all_waiting() if e.lateness_from() + self.allowed_lateness_ms <= now_ms]
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
