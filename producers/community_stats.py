"""What an event stream looks like: the figures that say whether a community exercises the definitions.

In: EngagementEvent records (dicts, in file or topic order). Out: :class:`CommunityStatistics`: how
many re-deliveries (and whether any carries other content than its first copy), invalid records,
responses, author replies in the scored sense (A answering R's response to A's item) with their
delays and how many cross a UTC midnight, pairs that answer each other both ways, A -> R -> A -> R
chains, readers answering readers, and responses delivered before their parent. Used to describe the
synthetic community (``generate`` prints it) and to test that it stays realistic; it reads any event
file, so it can describe an imported archive as well.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Optional

from transforms.events import POST, InvalidEvent, event_from_record

DAY_MS = 86_400_000
QUANTILES = (("min", 0.0), ("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


@dataclasses.dataclass
class CommunityStatistics:
    records: int = 0
    redeliveries: int = 0  # records whose event_id came before
    conflicting_redeliveries: int = 0  # ... with other content than the first copy: a producer bug
    invalid: int = 0  # records the pipeline dead-letters on decode
    responses: int = 0  # unique valid COMMENTs and REPLYs
    author_replies: int = 0  # A's response to R's response to A's item
    author_replies_crossing_midnight: int = 0  # ... on another UTC date than the answered response
    author_reply_delay_s: dict[str, float] = dataclasses.field(default_factory=dict)
    response_delay_s: dict[str, float] = dataclasses.field(default_factory=dict)  # any response vs its parent
    two_way_pairs: int = 0  # unordered pairs, each having responded to the other's items
    answered_back_pairs: int = 0  # directed pairs (A, R) with at least one author reply
    chains_of_four: int = 0  # responses ending an X -> Y -> X -> Y chain
    reader_to_reader: int = 0  # responses to a response, neither side the thread's starter
    before_parent: int = 0  # responses delivered before their parent

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def render(self) -> str:
        def hours(quantiles: dict[str, float]) -> str:
            return ", ".join(f"{name} {_duration(value)}" for name, value in quantiles.items()) or "-"

        crossing = self.author_replies_crossing_midnight / self.author_replies if self.author_replies else 0.0
        before = self.before_parent / self.responses if self.responses else 0.0
        return "\n".join([
            f"  records {self.records:,}: {self.responses:,} responses, {self.redeliveries:,} re-deliveries "
            f"({self.conflicting_redeliveries:,} with other content), {self.invalid:,} invalid",
            f"  author replies {self.author_replies:,}, {crossing:.0%} crossing a UTC midnight; "
            f"delay {hours(self.author_reply_delay_s)}",
            f"  response delay {hours(self.response_delay_s)}",
            f"  pairs answering each other both ways {self.two_way_pairs:,}; pairs answered back "
            f"{self.answered_back_pairs:,}; A->R->A->R chains {self.chains_of_four:,}; readers answering "
            f"readers {self.reader_to_reader:,}; delivered before their parent {self.before_parent:,} ({before:.1%})",
        ])


def community_statistics(records: Iterable[dict[str, Any]]) -> CommunityStatistics:
    stats = CommunityStatistics()
    first_copy: dict[str, dict[str, Any]] = {}
    items: dict[tuple[str, str], tuple[int, Any]] = {}  # (site, item_id) -> (position, Event)
    for position, record in enumerate(records):
        stats.records += 1
        seen = first_copy.get(record.get("event_id"))
        if seen is not None:
            stats.redeliveries += 1
            stats.conflicting_redeliveries += seen != record
            continue
        first_copy[record.get("event_id")] = record
        try:
            event = event_from_record(record, f"record {position}")
        except InvalidEvent:
            stats.invalid += 1
            continue
        items.setdefault((event.site, event.item_id), (position, event))

    def parent_of(event: Any) -> Optional[tuple[int, Any]]:
        return items.get((event.site, event.parent_id)) if event.parent_id is not None else None

    responded: set[tuple[str, str, str]] = set()
    answered_back: set[tuple[str, str, str]] = set()
    author_delays: list[float] = []
    response_delays: list[float] = []
    for position, event in items.values():
        if event.kind == POST:
            continue
        stats.responses += 1
        found = parent_of(event)
        if found is None:
            continue
        parent_position, parent = found
        stats.before_parent += position < parent_position
        response_delays.append((event.created_at - parent.created_at) / 1000)
        if parent.actor_id == event.actor_id:
            continue
        responded.add((event.site, event.actor_id, parent.actor_id))
        grand = parent_of(parent)
        if grand is None:
            continue
        grandparent = grand[1]
        starter = items.get((event.site, event.thread_id))
        starter_actor = starter[1].actor_id if starter else None
        if starter_actor not in (event.actor_id, parent.actor_id):
            stats.reader_to_reader += 1
        if grandparent.actor_id == event.actor_id:
            stats.author_replies += 1
            answered_back.add((event.site, event.actor_id, parent.actor_id))
            author_delays.append((event.created_at - parent.created_at) / 1000)
            stats.author_replies_crossing_midnight += event.created_at // DAY_MS != parent.created_at // DAY_MS
            great = parent_of(grandparent)
            stats.chains_of_four += great is not None and great[1].actor_id == parent.actor_id
    stats.two_way_pairs = sum(1 for site, x, y in responded if x < y and (site, y, x) in responded)
    stats.answered_back_pairs = len(answered_back)
    stats.author_reply_delay_s = quantiles(author_delays)
    stats.response_delay_s = quantiles(response_delays)
    return stats


def quantiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank quantiles (min, p10, p50, p90, p99, max); empty for no values."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {name: ordered[min(len(ordered) - 1, int(q * len(ordered)))] for name, q in QUANTILES}


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
