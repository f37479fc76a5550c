"""Deduplicate events by event_id, across the whole input, before anything else sees them.

``DedupeEvents`` takes Events and outputs:

* main: each event_id once: the **first copy delivered** (by origin: file and record number, or Kafka
  topic, partition and offset), never the copy with the earliest ``created_at``, so a later record
  that reuses a genuine id with an earlier time cannot replace the genuine event;
* ``duplicates``: later copies with the same content (re-deliveries): counted, never scored;
* ``dead_letters``: later copies whose content differs (CONFLICTING_DUPLICATE: a reused or forged id),
  with both origins in the message, so nobody's comment is silently replaced.

Dedupe is its own shuffle, keyed by event_id alone: a copy re-sent with another thread, or on another
site, is still the same event (resolution, keyed by thread, would not see it). Batch groups all copies
of an id. Streaming keeps the first copy of each id in state until the watermark passes its
``created_at`` plus the dedupe horizon (``--dedupe-horizon``, at least window + allowed lateness, so a
re-delivery within the time its window may still change is always caught).
"""
from __future__ import annotations

import json
import operator
import re
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from transforms.batching import GroupInShards, grouped_by_key
from transforms.events import CONFLICTING_DUPLICATE, DeadLetter, Event, iso_utc

DUPLICATES = "duplicates"
DEAD_LETTERS = "dead_letters"

_POSITION = re.compile(r"^(.*?)(\d+)(?:@(\d+))?$")


def origin_order(origin: str) -> tuple[str, int, int]:
    """A sort key that orders origins as they were delivered: ``events.avro:10`` after
    ``events.avro:9``, ``kafka:t/1@20`` after ``kafka:t/1@3`` (numbers compared as numbers)."""
    head, colon, number = origin.rpartition(":")
    if colon and number.isascii() and number.isdigit():  # a file's record (the regex's answer, 4x cheaper)
        return (head + colon, int(number), -1)
    match = _POSITION.match(origin)
    if not match:
        return (origin, -1, -1)
    prefix, first, second = match.groups()
    return (prefix, int(first), -1 if second is None else int(second))


def same_content(first: Event, other: Event) -> bool:
    """Whether two copies of an event_id carry the same event (their origins, and the watermark a
    stream read them at, may differ)."""
    return first._replace(origin="", read_watermark_ms=None) == other._replace(origin="", read_watermark_ms=None)


def event_json(event: Event) -> str:
    """The event as a JSON record (raw payload of a dead letter about a decoded event), its times in
    ISO 8601 UTC: people read it, and the decoder takes ISO 8601 as well as epoch millis back."""
    record = event.to_record()
    for field in ("created_at", "parent_created_at"):
        record[field] = iso_utc(record[field])
    return json.dumps({**record, "origin": event.origin}, sort_keys=True)


def _in_other_partitions(first: str, other: str) -> bool:
    """Whether two origins are records of one topic's different partitions (``kafka:t/0@7``,
    ``kafka:t/2@3``), read by the parser that orders origins."""
    if not (first.startswith("kafka:") and other.startswith("kafka:")):
        return False
    (topic, partition, offset), (other_topic, other_partition, other_offset) = origin_order(first), origin_order(other)
    return offset >= 0 and other_offset >= 0 and topic == other_topic and partition != other_partition


def conflicting_duplicate(kept: Event, copy: Event) -> DeadLetter:
    # Kafka orders a partition's records, not a topic's: which copy is "first" then depends on the run
    unordered = (" The copies are in different partitions, which Kafka does not order between: a bounded run "
                 "keeps the lower partition's, a stream the one it read first, so another run may keep the other "
                 "copy; key messages by event_id or by thread so that all copies of an event share a partition."
                 if _in_other_partitions(kept.origin, copy.origin) else "")
    return DeadLetter(
        copy.origin, CONFLICTING_DUPLICATE,
        f"event_id {copy.event_id!r} was first delivered at {kept.origin} with other content; this copy "
        f"reuses the id with different fields and is not scored (the first copy is kept).{unordered}",
        copy.event_id, event_json(copy),
    )


class _DedupeCounters:
    def __init__(self) -> None:
        self.unique = Metrics.counter("dedupe", "unique")
        self.duplicates = Metrics.counter("dedupe", "duplicates")
        self.conflicting = Metrics.counter("dead_letters", CONFLICTING_DUPLICATE)

    def later_copy(self, kept: Event, copy: Event) -> beam.pvalue.TaggedOutput:
        if same_content(kept, copy):
            self.duplicates.inc()
            return beam.pvalue.TaggedOutput(DUPLICATES, copy)
        self.conflicting.inc()
        return beam.pvalue.TaggedOutput(DEAD_LETTERS, conflicting_duplicate(kept, copy))


def first_copy(copies: Iterable[Event], counters: _DedupeCounters) -> Iterable[Any]:
    """All copies of one event_id in; the first delivered out, later copies tagged (and counted: the
    caller counts the unique ids, once per call of its own)."""
    ordered = sorted(copies, key=lambda e: origin_order(e.origin)) if len(copies) > 1 else copies
    kept = ordered[0]
    yield kept
    for copy in ordered[1:]:
        yield counters.later_copy(kept, copy)


class DedupeCopiesFn(beam.DoFn):
    """Batch, element-wise (the oracle of DedupeShardFn): all copies of one event_id in; the first
    delivered out, later copies tagged."""

    def setup(self) -> None:
        self.counters = _DedupeCounters()

    def process(self, keyed_copies: tuple[str, Iterable[Event]]) -> Iterable[Any]:
        self.counters.unique.inc()
        yield from first_copy(list(keyed_copies[1]), self.counters)


class DedupeShardFn(beam.DoFn):
    """Batch: one shard of event ids (batches of Events as tuples) in; per id, as DedupeCopiesFn."""

    def setup(self) -> None:
        self.counters = _DedupeCounters()

    def process(self, shard_batches: tuple[int, Iterable[list]]) -> Iterable[Any]:
        groups = grouped_by_key(shard_batches[1], operator.itemgetter(0), Event._make)
        self.counters.unique.inc(len(groups))  # once per shard: a counter call per id cost more than its sort
        for copies in groups.values():
            yield from first_copy(copies, self.counters)


class StreamingDedupeFn(beam.DoFn):
    """Streaming: one copy in; out if its id is new, tagged if seen within the dedupe horizon."""

    FIRST = ReadModifyWriteStateSpec("first_copy", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, dedupe_horizon_s: float):
        self.dedupe_horizon_ms = int(dedupe_horizon_s * 1000)

    def setup(self) -> None:
        self.counters = _DedupeCounters()

    def process(self, keyed_event: tuple[str, Event], first=beam.DoFn.StateParam(FIRST),
                expiry=beam.DoFn.TimerParam(EXPIRY)) -> Iterable[Any]:
        _, event = keyed_event
        kept = first.read()
        if kept is not None:
            yield self.counters.later_copy(kept, event)
            return
        first.write(event)
        expiry.set(Timestamp(micros=(event.created_at + self.dedupe_horizon_ms) * 1000))
        self.counters.unique.inc()
        yield event

    @on_timer(EXPIRY)
    def forget(self, first=beam.DoFn.StateParam(FIRST)) -> Iterable[Any]:
        first.clear()
        return []


class DedupeEvents(beam.PTransform):
    """Events -> unique Events (main), plus ``duplicates`` and ``dead_letters`` (CONFLICTING_DUPLICATE)."""

    def __init__(self, streaming: bool = False, dedupe_horizon_s: float = 14 * 86400, batched: bool = True):
        super().__init__()
        self.streaming = streaming
        self.dedupe_horizon_s = dedupe_horizon_s
        self.batched = batched  # bounded: shuffle batches per shard of ids (False: one element per id)

    def expand(self, events: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        if self.batched and not self.streaming:
            return (
                events
                | "GroupCopies" >> GroupInShards(operator.attrgetter("event_id"))
                | "KeepFirstCopy" >> beam.ParDo(DedupeShardFn()).with_outputs(DUPLICATES, DEAD_LETTERS, main="events")
            )
        keyed = events | "KeyByEventId" >> beam.Map(lambda event: (event.event_id, event))
        if self.streaming:
            dedupe = beam.ParDo(StreamingDedupeFn(self.dedupe_horizon_s))
        else:
            keyed = keyed | "GroupCopies" >> beam.GroupByKey()
            dedupe = beam.ParDo(DedupeCopiesFn())
        return keyed | "KeepFirstCopy" >> dedupe.with_outputs(DUPLICATES, DEAD_LETTERS, main="events")
