import datetime as dt

import pytest

from helpers import T0, record
from transforms.events import (
    BAD_TIMESTAMP, BAD_VALUE, MISSING_FIELD, MISSING_PARENT, PARSE_ERROR, UNKNOWN_KIND, InvalidEvent,
    event_from_record, iso_utc, to_millis,
)


def test_a_valid_record_becomes_an_event_with_its_origin():
    e = event_from_record(record(parent_created_at=T0 - 1000), "f.jsonl:3")
    assert (e.event_id, e.kind, e.parent_id, e.created_at, e.parent_created_at, e.origin) == (
        "e1", "COMMENT", "p1", T0, T0 - 1000, "f.jsonl:3")


@pytest.mark.parametrize("value", [T0, str(T0), "2026-03-02T00:00:00Z", "2026-03-02T01:00:00+01:00",
                                   "2026-03-02T00:00:00", dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)])
def test_timestamps_are_accepted_as_iso_8601_or_epoch_millis(value):
    assert to_millis(value, "created_at") == T0


@pytest.mark.parametrize("fields, kind", [
    ({"event_id": None}, MISSING_FIELD),
    ({"event_id": ""}, MISSING_FIELD),
    ({"actor_id": None}, MISSING_FIELD),
    ({"actor_id": ""}, MISSING_FIELD),
    ({"site": None}, MISSING_FIELD),
    ({"created_at": None}, MISSING_FIELD),
    ({"kind": "LIKE"}, UNKNOWN_KIND),
    ({"kind": None}, MISSING_FIELD),
    ({"parent_id": None}, MISSING_PARENT),
    ({"kind": "REPLY", "parent_id": ""}, MISSING_PARENT),
    ({"created_at": T0 // 1000}, BAD_TIMESTAMP),  # seconds, not millis: 1970
    ({"created_at": "4100-01-01T00:00:00Z"}, BAD_TIMESTAMP),
    ({"created_at": "yesterday"}, BAD_TIMESTAMP),
    ({"created_at": True}, BAD_TIMESTAMP),
    ({"parent_created_at": 5}, BAD_TIMESTAMP),
    ({"actor_id": ["a"]}, BAD_VALUE),
])
def test_each_invalid_record_names_its_error_kind(fields, kind):
    with pytest.raises(InvalidEvent) as caught:
        event_from_record(record(**fields), "x:1")
    assert caught.value.error_kind == kind


def test_a_non_object_is_a_parse_error():
    with pytest.raises(InvalidEvent) as caught:
        event_from_record([1, 2], "x:1")
    assert caught.value.error_kind == PARSE_ERROR


def test_a_post_answers_nothing_even_if_the_producer_says_so():
    e = event_from_record(record(kind="POST", parent_id="zzz", parent_actor_id="q", parent_created_at=T0), "x:1")
    assert (e.parent_id, e.parent_actor_id, e.parent_created_at) == (None, None, None)


def test_numeric_ids_are_read_as_strings():
    assert event_from_record(record(actor_id=42, event_id=7), "x:1")[:1] == ("7",)


def test_bad_timestamp_message_says_what_was_sent():
    with pytest.raises(InvalidEvent, match="seconds"):
        to_millis(1_700_000_000, "created_at")
    assert iso_utc(T0) == "2026-03-02T00:00:00.000Z"
