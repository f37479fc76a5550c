"""One conversation thread's ledger: which item each id names, whom each response answers, and the
credits (:class:`Contribution`) that follow, for the batch and streaming resolvers of
:mod:`transforms.conversations` (which says the rules).

Kept apart from the DoFns because it is plain Python over Events: the resolvers, their tests and
``bench/diverge_streaming.py`` drive it directly, without a pipeline.
"""
from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any, Iterable, NamedTuple, Optional

from transforms.dedupe import event_json
from transforms.events import DUPLICATE_ITEM, PARENT_UNRESOLVED, POST, DeadLetter, Event, iso_utc
from transforms.pending_events import PendingEvents, claim_order

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
    # streaming: the latest watermark that one of the events behind this credit was read at, when it was
    # read behind the watermark (Event.read_watermark_ms); a window it opens takes data for the allowed
    # lateness from then (transforms.panes), so the rest of a backfill still reaches it
    read_watermark_ms: Optional[int] = None


class ThreadLedger:
    """What one thread has seen: items by id, responses by parent, responses waiting for a parent."""

    def __init__(self, keep_records: bool = False) -> None:
        self.keep_records = keep_records
        self.items: dict[str, Event] = {}
        self.children: dict[str, list[Event]] = {}
        self.waiting: dict[str, list[Event]] = {}
        self.expired: set[str] = set()  # event ids already dead-lettered as unresolved
        # The oldest created_at among the waiting, kept as responses wait (streaming asks it for every
        # event); None when nothing waits, _UNKNOWN after a removal, when it is looked for again.
        self._earliest: Optional[int] | object = None

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
            event.site, author, event.actor_id, False, event.created_at, event.created_at, None, record,
            read_watermark_ms=latest_read_watermark(event, self.items.get(event.parent_id))))

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
        return Contribution(response.site, response.actor_id, reader, True, anchor, response.created_at, latency_s,
                            read_watermark_ms=latest_read_watermark(response, answered,
                                                                    self.items.get(answered.parent_id)))

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
            resolved = self.waiting.pop(event.item_id, [])
            if resolved:
                self._earliest = _UNKNOWN
            for child in resolved:  # its parent author is known now
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
        starts = response.lateness_from()
        if self._earliest is None or (self._earliest is not _UNKNOWN and starts < self._earliest):
            self._earliest = starts

    def all_waiting(self) -> list[Event]:
        return [event for events in self.waiting.values() for event in events]

    def earliest_waiting(self) -> Optional[int]:
        """The earliest time a response waiting for a parent counts its lateness from (its created_at,
        or the watermark a backfill was read at: Event.lateness_from), None when none waits."""
        if self._earliest is _UNKNOWN:
            self._earliest = min((e.lateness_from() for e in self.all_waiting()), default=None)
        return self._earliest

    def expire(self, event_ids: set[str]) -> None:
        """These responses (each copy waiting under these event ids) are dead-lettered: they wait no more
        and are never credited as author replies (they stay items: their own answers can still resolve)."""
        self.expired |= event_ids
        for parent_id, events in list(self.waiting.items()):
            kept = [e for e in events if e.event_id not in event_ids]
            if len(kept) != len(events):
                self._earliest = _UNKNOWN
                if kept:
                    self.waiting[parent_id] = kept
                else:
                    del self.waiting[parent_id]

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


_UNKNOWN = object()


class StreamingThread:
    """What the streaming resolver keeps of one thread between events: its ledger (the settled events),
    the events not settled yet, and the newest created_at of both, valid for the state version ``version``."""

    __slots__ = ("version", "ledger", "newest", "pending")

    def __init__(self, version: Optional[int], ledger: ThreadLedger, newest: Optional[int],
                 pending: Optional[PendingEvents] = None) -> None:
        self.version = version
        self.ledger = ledger
        self.newest = newest
        self.pending = PendingEvents() if pending is None else pending

    @classmethod
    def from_state(cls, version: Optional[int], stored: Iterable[tuple], expired_ids: Iterable[str],
                   arrived: Iterable[tuple] = (), settled_ids: Iterable[str] = ()) -> "StreamingThread":
        """stored: the settled events held in the ledger; arrived: the events that arrived since the
        thread last had none pending, of which those named in settled_ids are settled."""
        events = [Event._make(values) for values in stored]
        settled = set(settled_ids)
        pending = [event for event in map(Event._make, arrived) if event.event_id not in settled]
        newest = max((e.created_at for e in events + pending), default=None)
        return cls(version, ThreadLedger.rebuild(events, set(expired_ids)), newest, PendingEvents(pending))


class LedgerCache:
    """Streaming: the ledgers of recently seen threads, in memory, each valid for one version of its
    thread's state. The state (bags of the thread's settled events, the expired ids, the events
    arrived and the ids settled since none waited) is the truth; a worker
    reads and rebuilds it only when it holds no ledger of that version (first sight of the thread
    here, a retried bundle, another worker's writes, an eviction), so an event costs a version read
    and an append instead of reading and rebuilding the whole thread. Least recently used threads are
    evicted beyond ``max_events`` events in all (a thread larger than that alone is not kept)."""

    def __init__(self, max_events: int = 200_000) -> None:
        self.max_events = max_events
        self._threads: OrderedDict[str, StreamingThread] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._events = 0
        self._random = random.Random()  # seeded from the OS: versions differ across workers and restarts

    def take(self, key: str, version: Optional[int]) -> Optional[StreamingThread]:
        """The thread's ledger if it is of ``version``; removed from the cache either way, so that a
        ledger changed by a call that then fails is never used again (put it back when done)."""
        thread = self._threads.pop(key, None)
        self._events -= self._sizes.pop(key, 0)
        return thread if thread is not None and thread.version == version else None

    def put(self, key: str, thread: StreamingThread) -> None:
        size = len(thread.ledger.items) + len(thread.pending) + 1
        self._threads[key] = thread
        self._sizes[key] = size
        self._events += size
        while self._events > self.max_events and self._threads:
            evicted, _ = self._threads.popitem(last=False)
            self._events -= self._sizes.pop(evicted)

    def new_version(self) -> int:
        return self._random.getrandbits(62)


def latest_read_watermark(*events: Optional[Event]) -> Optional[int]:
    """The latest watermark any of these events was read behind (streaming backfills), else None."""
    return max((e.read_watermark_ms for e in events if e is not None and e.read_watermark_ms is not None),
               default=None)


def unresolved_dead_letter(event: Event, streaming: bool = False) -> DeadLetter:
    if streaming:
        # A stream cannot tell "never" from "too late" or "forgotten": say all three, and the ways out.
        why = ("was not known to the stream by the end of this event's wait (--allowed-lateness after its "
               "created_at, or after the watermark it was read at): the parent never arrived, arrived later "
               "than that, or came more than --dedupe-horizon before the thread's next event (a stream "
               "forgets a quiet thread); a bounded run over the topic resolves a parent that is in it, and an "
               "event that names its parent_actor_id needs no parent")
    else:
        why = "never arrived"
    return DeadLetter(
        event.origin, PARENT_UNRESOLVED,
        f"parent {event.parent_id!r} of {event.kind} {event.item_id!r} in thread {event.thread_id!r} on site "
        f"{event.site!r} {why}, and the event names no parent_actor_id",
        event.event_id, event_json(event),
    )


def duplicate_item_dead_letter(held: Event, event: Event) -> DeadLetter:
    where = f"item_id {event.item_id!r} in thread {event.thread_id!r} on site {event.site!r}"
    held_at = f"created {iso_utc(held.created_at)}, delivered at {held.origin}"
    if claim_order(event) < claim_order(held):
        # Streaming only: this claim came first but reached the resolver after the holder was settled
        # and credited (transforms.pending_events says when that can happen).
        first = ("created at the same instant and delivered first" if event.created_at == held.created_at
                 else f"created first, {iso_utc(event.created_at)}")
        message = (f"{where} is already held by event {held.event_id!r} ({held_at}), though this event claimed it "
                   f"first ({first}). It was read behind the stream's watermark, after {held.event_id!r} was "
                   f"settled and scored, so it is not scored; a bounded run over the same input keeps this event "
                   f"instead. A record is read so when it is stamped more than --max-out-of-orderness before the "
                   f"newest records of the partitions still sending, or, on a quiet topic, is read more than that "
                   f"after its own created_at (a producer's delay), or is backfilled into a live topic: raise "
                   f"--max-out-of-orderness, or score a backfill with a bounded run")
    else:
        message = (f"{where} is already held by event {held.event_id!r} ({held_at}), which claimed it first "
                   f"(created first; at the same instant, delivered first); this event reuses it and is not scored")
    return DeadLetter(event.origin, DUPLICATE_ITEM, message, event.event_id, event_json(event))


def item_holders(events: Iterable[Event]) -> dict[str, Event]:
    """Batch: each item_id's holder, its first claim (created first, then by origin: claim_order)."""
    holders: dict[str, Event] = {}
    for event in sorted(events, key=claim_order):
        holders.setdefault(event.item_id, event)
    return holders


def thread_key(event: Event) -> str:
    # A flat string key (deterministic to encode, which stateful processing requires), length-prefixed
    # so that no site and thread pair can spell another's key.
    return f"{len(event.site)}:{event.site}/{event.thread_id}"
