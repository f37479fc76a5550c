"""The in-pipeline event: a validated EngagementEvent, and the dead letter for one that is not.

Events travel through Beam as small NamedTuples (Beam's FastPrimitivesCoder encodes them natively)
with timestamps as integer epoch milliseconds, the cheapest form to compare, window and encode.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping, NamedTuple, Optional

from schemas import event_kinds

POST, COMMENT, REPLY = "POST", "COMMENT", "REPLY"
KINDS = frozenset(event_kinds())
assert KINDS == {POST, COMMENT, REPLY}, "engagement_event.avsc and transforms.events disagree on kinds"

# Timestamps outside this range are producer bugs (seconds sent as millis, zero dates, ...).
MIN_TIMESTAMP_MS = int(dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
MAX_TIMESTAMP_MS = int(dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)

# Error kinds of dead letters; the README lists what each means.
PARSE_ERROR = "PARSE_ERROR"
MISSING_FIELD = "MISSING_FIELD"
UNKNOWN_KIND = "UNKNOWN_KIND"
MISSING_PARENT = "MISSING_PARENT"
BAD_TIMESTAMP = "BAD_TIMESTAMP"
BAD_VALUE = "BAD_VALUE"
PARENT_UNRESOLVED = "PARENT_UNRESOLVED"
CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
TOO_LATE = "TOO_LATE"
# Not an input record: a pair_scores row the warehouse refused (kept, with the reason, as a dead letter).
WAREHOUSE_REFUSED = "WAREHOUSE_REFUSED"


class Event(NamedTuple):
    """A validated EngagementEvent plus where it was read from (``origin``)."""

    event_id: str
    kind: str
    site: str
    thread_id: str
    item_id: str
    parent_id: Optional[str]
    actor_id: str
    parent_actor_id: Optional[str]
    created_at: int  # epoch millis, UTC
    parent_created_at: Optional[int]
    origin: str

    def to_record(self) -> dict[str, Any]:
        """The Avro/JSON record of this event (timestamps as epoch millis), without the origin."""
        record = self._asdict()
        del record["origin"]
        return record


class DeadLetter(NamedTuple):
    """An input record that cannot be scored, with its origin and the reason."""

    origin: str
    error_kind: str
    message: str
    event_id: Optional[str]
    raw_payload: Optional[str]


class InvalidEvent(ValueError):
    """Raised by :func:`event_from_record`; ``error_kind`` is one of the constants above."""

    def __init__(self, error_kind: str, message: str):
        super().__init__(message)
        self.error_kind = error_kind


_ISO_Z = re.compile(r"[zZ]$")


def to_millis(value: Any, field: str) -> int:
    """Epoch millis from an int (millis), an aware or naive-UTC datetime, or an ISO 8601 string."""
    if isinstance(value, bool):
        raise InvalidEvent(BAD_TIMESTAMP, f"{field} must be a timestamp, got a boolean")
    if isinstance(value, int):
        millis = value
    elif isinstance(value, float) and value.is_integer():
        millis = int(value)
    elif isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        millis = int(value.timestamp() * 1000)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            millis = int(text)
        else:
            try:
                parsed = dt.datetime.fromisoformat(_ISO_Z.sub("+00:00", text))
            except ValueError:
                raise InvalidEvent(BAD_TIMESTAMP, f"{field} is not ISO 8601 or epoch millis: {value!r}") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.timezone.utc)
            millis = int(parsed.timestamp() * 1000)
    else:
        raise InvalidEvent(BAD_TIMESTAMP, f"{field} must be a timestamp, got {type(value).__name__}")
    if not MIN_TIMESTAMP_MS <= millis < MAX_TIMESTAMP_MS:
        raise InvalidEvent(
            BAD_TIMESTAMP,
            f"{field}={millis} ms ({iso_utc(millis)}) is outside 1990..2100; "
            "timestamps are epoch milliseconds (were seconds sent?)",
        )
    return millis


def _text(record: Mapping[str, Any], field: str, required: bool) -> Optional[str]:
    value = record.get(field)
    if value is None or value == "":
        if required:
            raise InvalidEvent(MISSING_FIELD, f"{field} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidEvent(BAD_VALUE, f"{field} must be a string, got {type(value).__name__}")
    return str(value)


def event_from_record(record: Any, origin: str) -> Event:
    """Validate one decoded record (Avro or JSON) into an :class:`Event`, or raise InvalidEvent."""
    if not isinstance(record, Mapping):
        raise InvalidEvent(PARSE_ERROR, f"expected an object, got {type(record).__name__}")
    event_id = _text(record, "event_id", True)
    kind = record.get("kind")
    if kind not in KINDS:
        if kind is None:
            raise InvalidEvent(MISSING_FIELD, "kind is missing")
        raise InvalidEvent(UNKNOWN_KIND, f"kind {kind!r} is not one of POST, COMMENT, REPLY")
    site = _text(record, "site", True)
    thread_id = _text(record, "thread_id", True)
    item_id = _text(record, "item_id", True)
    actor_id = _text(record, "actor_id", True)
    parent_id = _text(record, "parent_id", False)
    if kind != POST and parent_id is None:
        raise InvalidEvent(MISSING_PARENT, f"a {kind} needs a parent_id")
    if kind == POST:
        parent_id = None  # a POST answers nothing, whatever the producer sent
    created_raw = record.get("created_at")
    if created_raw is None:
        raise InvalidEvent(MISSING_FIELD, "created_at is missing")
    created_at = to_millis(created_raw, "created_at")
    parent_raw = record.get("parent_created_at")
    parent_created_at = None if parent_raw is None or kind == POST else to_millis(parent_raw, "parent_created_at")
    parent_actor_id = None if kind == POST else _text(record, "parent_actor_id", False)
    return Event(
        event_id, kind, site, thread_id, item_id, parent_id, actor_id, parent_actor_id, created_at,
        parent_created_at, origin,
    )


def millis_to_datetime(millis: int) -> dt.datetime:
    """Naive UTC datetime, the warehouse's TIMESTAMP representation."""
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)


def iso_utc(millis: Optional[int]) -> Optional[str]:
    if millis is None:
        return None
    return millis_to_datetime(millis).isoformat(timespec="milliseconds") + "Z"
