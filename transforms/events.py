"""The in-pipeline event: a validated EngagementEvent, and the dead letter for one that is not.

Events travel through Beam as small NamedTuples (Beam's FastPrimitivesCoder encodes them natively)
with timestamps as integer epoch milliseconds, the cheapest form to compare, window and encode.
Validation treats every value as hostile: whatever a decoded record holds (any JSON value, any Avro
value), :func:`event_from_record` returns an Event or raises :class:`InvalidEvent`, never anything
else, and the messages it writes stay short whatever the size of the value.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping, NamedTuple, Optional

from schemas import event_kinds, optional_string_fields

POST, COMMENT, REPLY = "POST", "COMMENT", "REPLY"
KINDS = frozenset(event_kinds())
assert KINDS == {POST, COMMENT, REPLY}, "engagement_event.avsc and transforms.events disagree on kinds"

# Timestamps outside this range are producer bugs (seconds sent as millis, zero dates, ...).
MIN_TIMESTAMP_MS = int(dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
MAX_TIMESTAMP_MS = int(dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)

# Id fields are bounded (issue 12: a 10 MB actor id was stored in pair_scores); ids of real sites are
# far shorter (Message-IDs, the longest seen, stay under 256). `run --max-id-length` changes it.
MAX_ID_LENGTH = 512
ID_FIELDS = ("event_id", "site", "thread_id", "item_id", "parent_id", "actor_id", "parent_actor_id")
# The schema's other optional text fields (url): carried, not scored, but a value of another type (a
# JSON object, an array, a number) is a BAD_VALUE dead letter like a wrong id (issue 12).
TEXT_FIELDS = tuple(f for f in optional_string_fields("engagement_event") if f not in ID_FIELDS)
# Epoch millis written as a string: ASCII digits only ("²" is a digit to str.isdigit, not to int),
# and few enough that int() is cheap and within its digit limit.
_EPOCH_MILLIS_TEXT = re.compile(r"[+-]?[0-9]{1,19}", re.ASCII)

# Error kinds of dead letters; the README lists what each means.
PARSE_ERROR = "PARSE_ERROR"
MISSING_FIELD = "MISSING_FIELD"
UNKNOWN_KIND = "UNKNOWN_KIND"
MISSING_PARENT = "MISSING_PARENT"
BAD_TIMESTAMP = "BAD_TIMESTAMP"
BAD_VALUE = "BAD_VALUE"
FIELD_TOO_LONG = "FIELD_TOO_LONG"
RECORD_TOO_LARGE = "RECORD_TOO_LARGE"
PARENT_UNRESOLVED = "PARENT_UNRESOLVED"
CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
# Another event_id claiming an item_id that an earlier-delivered event already holds in the same thread.
DUPLICATE_ITEM = "DUPLICATE_ITEM"
TOO_LATE = "TOO_LATE"
# A Kafka message of a schema id, or an Avro file of a schema version, this release does not read
# (a newer release's, say): its fields may not mean what this release's mean.
UNKNOWN_SCHEMA_ID = "UNKNOWN_SCHEMA_ID"
# Part of an Avro file whose records cannot be counted (a damaged block header, a truncated file):
# one dead letter stands for an unknown number of records, so a run that has one is not balanced.
UNCOUNTED_RECORDS = "UNCOUNTED_RECORDS"
# Streaming: read when the watermark was already past its created_at + the dedupe horizon, so the
# stream no longer remembers its id (a duplicate could not be recognised) nor its window.
TOO_OLD = "TOO_OLD"
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
    # Streaming only, and only for an event read behind the watermark (a backfill into a live topic):
    # the watermark when it was read. A window or a parent first seen through such an event takes
    # data for the allowed lateness from then on, not from its own end (transforms.panes).
    read_watermark_ms: Optional[int] = None

    def to_record(self) -> dict[str, Any]:
        """The Avro/JSON record of this event (timestamps as epoch millis), without where and when it
        was read."""
        record = self._asdict()
        del record["origin"], record["read_watermark_ms"]
        return record

    def lateness_from(self) -> int:
        """The event time its allowed lateness counts from: its created_at, or the watermark it was
        read at when that was later (a backfill)."""
        return self.created_at if self.read_watermark_ms is None else max(self.created_at, self.read_watermark_ms)


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


def shown(value: Any, limit: int = 60) -> str:
    """A short repr of a value for an error message, whatever its size."""
    if isinstance(value, (str, bytes)):
        text = repr(value[:limit])
        return text if len(value) <= limit else f"{text}... ({len(value):,} characters)"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "a huge number"
        return text if len(text) <= limit else text[:limit] + "..."
    return f"a {type(value).__name__}"


def to_millis(value: Any, field: str) -> int:
    """Epoch millis from an int (millis), an aware or naive-UTC datetime, or an ISO 8601 string."""
    if isinstance(value, bool):
        raise InvalidEvent(BAD_TIMESTAMP, f"{field} must be a timestamp, got a boolean")
    if isinstance(value, int):
        millis = value
    elif isinstance(value, float) and value.is_integer():  # is_integer() is False for nan and inf
        millis = int(value)
    elif isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        millis = int(value.timestamp() * 1000)
    elif isinstance(value, str):
        text = value.strip()
        if _EPOCH_MILLIS_TEXT.fullmatch(text):
            millis = int(text)
        else:
            try:
                parsed = dt.datetime.fromisoformat(_ISO_Z.sub("+00:00", text))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.timezone.utc)
                millis = int(parsed.timestamp() * 1000)
            except (ValueError, OverflowError):
                raise InvalidEvent(
                    BAD_TIMESTAMP, f"{field} is not ISO 8601 or epoch millis: {shown(value)}") from None
    else:
        raise InvalidEvent(BAD_TIMESTAMP, f"{field} must be a timestamp, got {shown(value)}")
    if not MIN_TIMESTAMP_MS <= millis < MAX_TIMESTAMP_MS:
        when = iso_utc(millis) if abs(millis) < 10 ** 14 else "beyond any calendar date"
        raise InvalidEvent(
            BAD_TIMESTAMP,
            f"{field}={shown(millis)} ms ({when}) is outside 1990-01-01..2099-12-31 (UTC)"
            + (_compact_date_hint(value) or "; timestamps are epoch milliseconds (were seconds or microseconds sent?)"
               if _numeric(value) else ""),
        )
    return millis


def _numeric(value: Any) -> bool:
    """Whether a timestamp was given as a number (or digits), where a wrong unit is the likely mistake."""
    return isinstance(value, (int, float)) or (isinstance(value, str) and bool(_EPOCH_MILLIS_TEXT.fullmatch(value.strip())))


def _compact_date_hint(value: Any) -> str:
    """A hint when a refused timestamp is a compact date (``"20260302"``), read as a number of ms."""
    if not (isinstance(value, str) and len(value.strip()) == 8 and value.strip().isascii() and value.strip().isdigit()):
        return ""
    try:
        date = dt.datetime.strptime(value.strip(), "%Y%m%d").date()
    except ValueError:
        return ""
    return f"; {shown(value)} looks like the date {date.isoformat()}: write it as ISO 8601 ({date.isoformat()}T00:00:00Z)"


def id_text(value: Any, field: str, max_length: int = MAX_ID_LENGTH) -> Optional[str]:
    """An id field as text (None when absent, empty or only white space), or InvalidEvent if it cannot
    be stored. An integer is read as its digits: archives such as Stack Exchange number their users
    and posts, and JSON producers write those numbers bare. Any other type is BAD_VALUE."""
    if value is None or value == "" or (isinstance(value, str) and value.isspace()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidEvent(BAD_VALUE, f"{field} must be a string, got {type(value).__name__}")
    if isinstance(value, int):
        if value.bit_length() > 4 * max_length:  # more digits than max_length: no need to print it
            raise InvalidEvent(FIELD_TOO_LONG, f"{field} is a number longer than the limit of {max_length:,} characters")
        value = str(value)
    if len(value) > max_length:
        raise InvalidEvent(FIELD_TOO_LONG, f"{field} is {len(value):,} characters long, more than the limit of {max_length:,}")
    return _unicode(value, field)


def _unicode(value: str, field: str) -> str:
    """``value``, or BAD_VALUE when it cannot be written as UTF-8."""
    if not value.isascii():
        try:  # a lone surrogate ("\ud800" in JSON) decodes, but fails later when written as UTF-8
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidEvent(
                BAD_VALUE, f"{field} is not valid Unicode: a lone surrogate at character {error.start + 1}"
            ) from None
    return value


def optional_text(value: Any, field: str) -> Optional[str]:
    """An optional text field that is not an id (url): None or a string of valid Unicode, else BAD_VALUE."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(BAD_VALUE, f"{field} must be a string or null, got {type(value).__name__}")
    return _unicode(value, field)


def _id(record: Mapping[str, Any], field: str, required: bool, max_length: int) -> Optional[str]:
    value = id_text(record.get(field), field, max_length)
    if value is None and required:
        raise InvalidEvent(MISSING_FIELD, f"{field} is missing")
    return value


def event_from_record(record: Any, origin: str, max_id_length: int = MAX_ID_LENGTH) -> Event:
    """Validate one decoded record (Avro or JSON) into an :class:`Event`, or raise InvalidEvent.

    ``max_id_length`` bounds every field of ``ID_FIELDS`` (in characters).
    """
    if not isinstance(record, Mapping):
        raise InvalidEvent(PARSE_ERROR, f"expected an object, got {type(record).__name__}")
    event_id = _id(record, "event_id", True, max_id_length)
    kind = record.get("kind")
    if kind is None:
        raise InvalidEvent(MISSING_FIELD, "kind is missing")
    if not isinstance(kind, str):  # a list or an object is unhashable: test the type first
        raise InvalidEvent(BAD_VALUE, f"kind must be one of POST, COMMENT, REPLY, got {type(kind).__name__}")
    if kind not in KINDS:
        raise InvalidEvent(UNKNOWN_KIND, f"kind {shown(kind)} is not one of POST, COMMENT, REPLY")
    site = _id(record, "site", True, max_id_length)
    thread_id = _id(record, "thread_id", True, max_id_length)
    item_id = _id(record, "item_id", True, max_id_length)
    actor_id = _id(record, "actor_id", True, max_id_length)
    parent_id = _id(record, "parent_id", False, max_id_length)
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
    # checked on a POST too, then dropped: a value refused on a COMMENT is never passed over silently
    parent_actor_id = _id(record, "parent_actor_id", False, max_id_length)
    if kind == POST:
        parent_actor_id = None
    for field in TEXT_FIELDS:
        optional_text(record.get(field), field)
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
