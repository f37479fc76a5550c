"""One event record, whatever carried it: the limits every reader applies, validation into an Event
or a DeadLetter, and the bounded copy of a bad record that its dead letter keeps.

Shared by the file readers (``transforms/avro_file.py``, ``transforms/jsonl_file.py``) and the Kafka
decoder (``transforms/decode.py``), so that a record costs the same wherever it comes from.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from transforms.events import (
    BAD_VALUE, KINDS, MAX_ID_LENGTH, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, POST, TEXT_FIELDS, DeadLetter, Event,
    InvalidEvent, event_from_record, id_text, shown,
)

AVRO_MAGIC = b"Obj\x01"
UTF8_BOM = b"\xef\xbb\xbf"
MAX_RAW_PAYLOAD = 16_384  # characters kept of a bad record: enough to debug, bounded in size
# A record (a JSON line, an Avro record, a Kafka message) larger than this is a dead letter. Events
# are a few hundred bytes; 1 MiB is Kafka's default message limit. `run --max-record-bytes` changes it.
MAX_RECORD_BYTES = 1 << 20
SKIP_CHUNK = 1 << 16  # an over-long line is skipped this many bytes at a time


@dataclasses.dataclass(frozen=True)
class DecodeLimits:
    """Per-record limits: bytes of one record and characters of one id field."""

    max_record_bytes: int = MAX_RECORD_BYTES
    max_id_length: int = MAX_ID_LENGTH

    def __post_init__(self) -> None:
        if self.max_record_bytes < 1 or self.max_id_length < 1:
            raise ValueError("record and id limits must be at least 1")


DEFAULT_LIMITS = DecodeLimits()


def raw_text(value: Any) -> str:
    """A bounded, printable copy of a bad record for the dead-letter table (always valid UTF-8)."""
    if isinstance(value, bytes):
        text = value[:4 * MAX_RAW_PAYLOAD].decode("utf-8", errors="backslashreplace")
    elif isinstance(value, str):
        text = value[:MAX_RAW_PAYLOAD].encode("utf-8", errors="backslashreplace").decode("utf-8")
    else:
        if isinstance(value, dict):  # cut long values before dumping: a 10 MB id must not be copied
            value = {k: v[:MAX_RAW_PAYLOAD] if isinstance(v, (str, bytes)) else v for k, v in value.items()}
        text = json.dumps(value, default=str, sort_keys=True)  # ASCII: lone surrogates come out escaped
    return text[:MAX_RAW_PAYLOAD]


def plain_event(record: Any, origin: str, max_id_length: int) -> Event | None:
    """The Event of a record whose every value is of the plain kind most records hold (a dict of ASCII
    ids, epoch-millis ints, a known kind, text or null in the other text fields), or None for any
    other record, which then takes ``event_from_record``'s general way. About twice as cheap as the
    general way; it returns exactly the Event that way returns for such a record (pinned by
    tests/transforms/test_event_records.py) and never decides a refusal."""
    if type(record) is not dict:
        return None
    get = record.get
    event_id, kind, site, thread_id, item_id, actor_id = (
        get("event_id"), get("kind"), get("site"), get("thread_id"), get("item_id"), get("actor_id"))
    parent_id, parent_actor_id, created_at, parent_created_at = (
        get("parent_id"), get("parent_actor_id"), get("created_at"), get("parent_created_at"))
    if type(kind) is not str or kind not in KINDS or type(created_at) is not int \
            or not MIN_TIMESTAMP_MS <= created_at < MAX_TIMESTAMP_MS:
        return None
    # ids that id_text keeps as they are: ASCII text, not blank, within the limit (inlined: a call
    # per field cost as much as the test)
    for value in (event_id, site, thread_id, item_id, actor_id):
        if type(value) is not str or not 0 < len(value) <= max_id_length or not value.isascii() or value.isspace():
            return None
    for value in (parent_id, parent_actor_id):
        if value is not None and (type(value) is not str or not 0 < len(value) <= max_id_length
                                  or not value.isascii() or value.isspace()):
            return None
    for field in TEXT_FIELDS:
        value = get(field)
        if value is not None and (type(value) is not str or not value.isascii()):
            return None
    if kind == POST:  # a POST answers nothing; its parent_created_at is not read at all
        return Event(event_id, kind, site, thread_id, item_id, None, actor_id, None, created_at, None, origin)
    if parent_id is None or not (parent_created_at is None or (
            type(parent_created_at) is int and MIN_TIMESTAMP_MS <= parent_created_at < MAX_TIMESTAMP_MS)):
        return None  # a response without a parent, or a parent time to convert or refuse
    return Event(event_id, kind, site, thread_id, item_id, parent_id, actor_id, parent_actor_id, created_at,
                 parent_created_at, origin)


def decode_record(record: Any, origin: str, raw: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Event | DeadLetter:
    """Validate one decoded record; never raises."""
    event = plain_event(record, origin, limits.max_id_length)
    if event is not None:
        return event
    try:
        return event_from_record(record, origin, limits.max_id_length)
    except InvalidEvent as error:
        kind, message = error.error_kind, str(error)
    except Exception as error:  # a validation bug must cost one record, not the file; the message says so
        kind, message = BAD_VALUE, f"record could not be validated ({type(error).__name__}: {shown(str(error), 200)})"
    event_id = record.get("event_id") if isinstance(record, dict) else None
    return DeadLetter(origin, kind, message, storable_event_id(event_id, limits.max_id_length), raw_text(raw))


def storable_event_id(value: Any, max_length: int) -> str | None:
    """The event id for a dead letter, when it is one the warehouse can store."""
    try:
        return id_text(value, "event_id", max_length)
    except InvalidEvent:
        return None
