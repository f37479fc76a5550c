"""The event-building core every importer shares: records in, EngagementEvents or counted skips out.

An importer is a generator of :class:`Converted` (an event record) and :class:`Skipped` (a reason and
an origin such as ``Posts.xml:row 12``). :func:`run_import` pseudonymizes ids when given a key
(:mod:`importers.pseudonymize`), writes the events to a sink (an Avro or JSON Lines file, written
whole or not at all by :mod:`services.outfile`, or Kafka), shows progress and returns an
:class:`ImportSummary` whose ``converted`` equals what the sink received.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from typing import Any, Iterable, Iterator, NamedTuple, Optional, Sequence, TextIO, Union
from urllib.parse import urlparse

from services.outfile import check_target, replacing
from importers.pseudonymize import Pseudonymizer
from services.progress import ProgressLine
from transforms.events import InvalidEvent, event_from_record


STDERR: Any = object()  # progress goes to sys.stderr as it is when the import runs, not at import time


class Converted(NamedTuple):
    record: dict[str, Any]
    origin: str = ""  # where in the archive it was read, as a Skipped's: an invalid event is a skip from there


class Skipped(NamedTuple):
    reason: str
    origin: str


Item = Union[Converted, Skipped]


def first_problem(origin: str, checks: Iterable[tuple[bool, str]]) -> Optional[Skipped]:
    """The skip for the first check that fails (``(is_ok, reason)`` pairs), or None when all pass."""
    for ok, reason in checks:
        if not ok:
            return Skipped(reason, origin)
    return None


def event(kind: str, site: str, thread_id: str, item_id: str, actor_id: str, created_at: dt.datetime,
          parent_id: Optional[str] = None, parent_actor_id: Optional[str] = None,
          parent_created_at: Optional[dt.datetime] = None, origin: str = "") -> Converted:
    """An EngagementEvent record read at ``origin`` (``file:line``, ``Posts.xml:row 12``); the
    event_id is ``site:item_id``, stable across re-imports."""
    return Converted({
        "event_id": f"{site}:{item_id}",
        "kind": kind,
        "site": site,
        "thread_id": thread_id,
        "item_id": item_id,
        "parent_id": parent_id,
        "actor_id": actor_id,
        "parent_actor_id": parent_actor_id,
        "created_at": to_millis(created_at),
        "parent_created_at": to_millis(parent_created_at) if parent_created_at else None,
    }, origin)


def to_millis(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


@dataclasses.dataclass
class ImportSummary:
    read: int = 0
    converted: int = 0
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    examples: dict[str, str] = dataclasses.field(default_factory=dict)  # one origin per skip reason
    seconds: float = 0.0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def render(self) -> str:
        lines = [
            "Import summary",
            f"  records read    {self.read:>12,}",
            f"  converted       {self.converted:>12,}  ({', '.join(f'{k}: {v:,}' for k, v in sorted(self.by_kind.items()))})",
            f"  skipped         {self.skipped_total:>12,}",
        ]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"    {reason:<28}{count:>8,}  e.g. {self.examples[reason]}")
        lines.append(f"  time taken      {self.seconds:>12.1f} s")
        return "\n".join(lines)


class EventSink:
    """Where imported events go: ``avro:PATH``, ``jsonl:PATH`` or ``kafka://HOST:PORT/TOPIC``.
    A file target is checked here, before anything is read (see :mod:`services.outfile`)."""

    def __init__(self, target: str, inputs: Sequence[str] = (), force: bool = False, kafka_security: Any = None):
        self.target = target
        self.force = force
        self._records: list[dict[str, Any]] = []
        if target.startswith("kafka://"):
            parsed = urlparse(target)
            topic = parsed.path.lstrip("/")
            if not parsed.netloc or not topic:
                raise ValueError(f"{target!r}: write kafka://HOST:PORT/TOPIC")
            from producers.kafka_producer import EventPublisher

            self.publisher = EventPublisher(parsed.netloc, topic, security=kafka_security)
            self.kind = "kafka"
        elif target.startswith(("avro:", "jsonl:")):
            self.kind, self.path = target.split(":", 1)
            if self.kind == "avro" and not self.path.endswith(".avro"):
                raise ValueError(f"{target!r}: an Avro target's file name must end in .avro")
            if not self.path:
                raise ValueError(f"{target!r}: name the file, e.g. {self.kind}:events.{self.kind}")
            check_target(self.path, inputs, force)
        else:
            raise ValueError(f"{target!r}: write avro:PATH, jsonl:PATH or kafka://HOST:PORT/TOPIC")

    def write(self, records: Iterable[dict[str, Any]]) -> int:
        """Write every record, streaming; returns how many the sink accepted."""
        if self.kind == "kafka":
            with self.publisher:
                report = self.publisher.publish_all(records, progress=None)
            if report.failed:
                raise RuntimeError(f"Kafka refused {report.failed:,} events: {report.reasons}")
            return report.sent
        count = 0
        with replacing(self.path, self.force) as out:
            if self.kind == "avro":
                import fastavro

                from schemas import engagement_event_schema

                def counted() -> Iterator[dict[str, Any]]:
                    nonlocal count
                    for record in records:
                        count += 1
                        yield record

                fastavro.writer(out, engagement_event_schema(), counted(), codec="deflate")
            else:
                for record in records:
                    out.write(json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n")
                    count += 1
        return count


def validated(items: Iterable[Item], summary: ImportSummary, pseudonymize: Pseudonymizer,
              progress: Optional[TextIO]) -> Iterator[dict[str, Any]]:
    """Count every item; yield converted records that pass the pipeline's own validation."""
    started = time.monotonic()
    last = 0.0
    line = ProgressLine(progress)

    def counts() -> str:
        return (f"  importing: {summary.read:,} read, {summary.converted:,} converted "
                f"({summary.read / max(time.monotonic() - started, 1e-9):,.0f}/s)")

    try:
        for item in items:
            summary.read += 1
            if isinstance(item, Skipped):
                summary.skipped[item.reason] = summary.skipped.get(item.reason, 0) + 1
                summary.examples.setdefault(item.reason, item.origin)
            else:
                try:  # an importer bug must show as a counted skip, never as a dead letter downstream
                    event_from_record(item.record, "import")
                except InvalidEvent as error:
                    reason = f"invalid_{error.error_kind.lower()}"
                    summary.skipped[reason] = summary.skipped.get(reason, 0) + 1
                    # where it was read, never its item id: that may lead to a person
                    summary.examples.setdefault(reason, f"{item.origin or 'an event without an origin'} ({error})")
                    continue
                summary.converted += 1
                summary.by_kind[item.record["kind"]] = summary.by_kind.get(item.record["kind"], 0) + 1
                yield pseudonymize.apply(item.record)
            now = time.monotonic()
            if now - last > 0.5:
                last = now
                line.show(counts())
    finally:  # the final counts, also when the archive fails half way: the error then starts a line of its own
        line.done(counts())


def _reading(items: Iterable[Item], summary: ImportSummary, sink: EventSink) -> Iterator[Item]:
    """``items``; an archive that cannot be read on (a ValueError: malformed XML, markup that never
    ends) stops the import with its one-line error, which then also says what was read before it."""
    try:
        yield from items
    except ValueError as error:
        done = ("nothing was written" if sink.kind != "kafka"
                else f"up to {summary.converted:,} events were sent to Kafka before it")
        raise ValueError(f"{error} ({summary.read:,} records read before it ({summary.converted:,} converted, "
                         f"{summary.skipped_total:,} skipped); {done})") from None


def run_import(items: Iterable[Item], target: str, pseudonymize_key: Optional[Union[bytes, str]] = None,
               progress: Optional[TextIO] = STDERR, inputs: Sequence[str] = (), force: bool = False,
               kafka_security: Any = None) -> ImportSummary:
    """Import ``items`` into ``target``. ``inputs`` are the archive's paths, which a file target may
    never overwrite; ``force`` lets it replace another existing file; ``kafka_security`` (a
    transforms.kafka_security.KafkaSecurity) is TLS/SASL for a Kafka target. Nothing is read before
    the key and the target are checked."""
    progress = sys.stderr if progress is STDERR else progress
    summary = ImportSummary()
    started = time.monotonic()
    hashing = Pseudonymizer(pseudonymize_key)
    sink = EventSink(target, inputs, force, kafka_security)
    written = sink.write(validated(_reading(items, summary, sink), summary, hashing, progress))
    summary.seconds = time.monotonic() - started
    if written != summary.converted:
        raise RuntimeError(f"the sink took {written:,} events but {summary.converted:,} were converted")
    return summary
