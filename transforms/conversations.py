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

An item_id belongs to one event: its first claim, the one created first (at the same instant, the one
delivered first by origin: file and record number, Kafka partition and offset), in batch and in
streaming. Another event_id with the same item_id in the same thread is a DUPLICATE_ITEM dead letter,
never scored and never anyone's parent, so a record that reuses a genuine item_id can neither be counted
twice nor take over the replies to it.

Batch groups each thread and resolves it whole, so arrival order never matters. Streaming
(:mod:`transforms.conversations_streaming`) keeps each thread in state and settles an event once the
watermark passes its created_at, in claim order (:mod:`transforms.pending_events` says why that
orders the claims of an item wherever they were written, and the one case it cannot); a settled response whose parent author
is not known waits until its created_at plus the allowed lateness (event time) before it is
dead-lettered; an author reply is credited as soon as the answered comment and whom that comment
answered are both settled, whichever of the three events comes last; a thread's state expires once no
event has arrived for the dedupe horizon.
"""
from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam

from transforms.batching import GroupInShards, grouped_by_key
from transforms.resolve_outputs import CountedOutputs as _CountedOutputs
from transforms.conversations_streaming import StreamingResolveThreadFn
from transforms.events import Event
from transforms.thread_ledger import (
    AUTHOR_REPLIES, DEAD_LETTERS, SKIPPED, ThreadLedger, duplicate_item_dead_letter, item_holders, thread_key,
)


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
