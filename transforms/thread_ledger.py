"""One conversation thread's ledger: which item each id names, whom each response answers, and the
credits (:class:`Contribution`) that follow, for the batch and streaming resolvers of
:mod:`transforms.conversations` (which says the rules).

Kept apart from the DoFns because it is plain Python over Events: the resolvers, their tests and
``bench/diverge_streaming.py`` drive it directly, without a pipeline.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Optional

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
