import datetime as dt

import pytest

from helpers import T0, record
from transforms.events import (
    BAD_TIMESTAMP, BAD_VALUE, FIELD_TOO_LONG, ID_FIELDS, MAX_ID_LENGTH, MISSING_FIELD, MISSING_PARENT,
    PARSE_ERROR, UNKNOWN_KIND, InvalidEvent, event_from_record, iso_utc, to_millis,
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
    ({"actor_id": " "}, MISSING_FIELD),  # white space only names no one
    ({"event_id": "\t\n"}, MISSING_FIELD),
    ({"item_id": "\u3000"}, MISSING_FIELD),
    ({"parent_id": "  "}, MISSING_PARENT),
    ({"actor_id": True}, BAD_VALUE),
    ({"actor_id": 1.5}, BAD_VALUE),
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
    # Hostile values (issue 9, item 5): each used to raise something other than InvalidEvent.
    ({"kind": ["POST"]}, BAD_VALUE),
    ({"kind": {"POST": 1}}, BAD_VALUE),
    ({"created_at": T0 * 1000}, BAD_TIMESTAMP),  # microseconds: the message itself overflowed
    ({"created_at": 1e300}, BAD_TIMESTAMP),
    ({"created_at": float("nan")}, BAD_TIMESTAMP),
    ({"created_at": "--5"}, BAD_TIMESTAMP),  # passed isdigit() after lstrip("-"), failed int()
    ({"created_at": "\u00b2"}, BAD_TIMESTAMP),  # "²" is a digit to isdigit(), not to int()
    ({"created_at": "9" * 5000}, BAD_TIMESTAMP),  # past int()'s digit limit
    ({"created_at": -(10 ** 300)}, BAD_TIMESTAMP),
    ({"parent_created_at": T0 * 1000}, BAD_TIMESTAMP),
    ({"actor_id": "\ud800"}, BAD_VALUE),  # a lone surrogate cannot be written as UTF-8
    ({"event_id": "a\udfffb"}, BAD_VALUE),
    ({"parent_actor_id": "\udc80"}, BAD_VALUE),
    ({"actor_id": "x" * 10_000_000}, FIELD_TOO_LONG),  # issue 12: a 10 MB actor id was stored
    ({"event_id": 10 ** 4000}, FIELD_TOO_LONG),
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
    """Deliberate (README, "Events"): archives number their users and posts, and JSON writes them bare."""
    e = event_from_record(record(actor_id=42, event_id=7), "x:1")
    assert (e.event_id, e.actor_id) == ("7", "42")


def test_bad_timestamp_message_says_what_was_sent():
    with pytest.raises(InvalidEvent, match="seconds"):
        to_millis(1_700_000_000, "created_at")
    assert iso_utc(T0) == "2026-03-02T00:00:00.000Z"


@pytest.mark.parametrize("value", [T0 * 1000, 1e300, -(10 ** 300), "9" * 5000, "x" * 100_000])
def test_bad_timestamp_messages_stay_short(value):
    with pytest.raises(InvalidEvent) as caught:
        to_millis(value, "created_at")
    assert caught.value.error_kind == BAD_TIMESTAMP and len(str(caught.value)) < 300


def test_kind_of_the_wrong_type_names_the_type_not_its_value():
    with pytest.raises(InvalidEvent, match="kind must be one of POST, COMMENT, REPLY, got list") as caught:
        event_from_record(record(kind=[["x" * 1000]] * 1000), "x:1")
    assert len(str(caught.value)) < 200


def test_a_pair_of_surrogates_is_one_character_and_valid():
    assert event_from_record(record(actor_id="\U0001f600 \u00e9"), "x:1").actor_id == "\U0001f600 \u00e9"


@pytest.mark.parametrize("field", sorted(ID_FIELDS))
def test_every_id_field_is_limited_to_max_id_length(field):
    at_limit = event_from_record(record(**{field: "i" * MAX_ID_LENGTH}), "x:1")
    assert getattr(at_limit, field) == "i" * MAX_ID_LENGTH
    with pytest.raises(InvalidEvent) as caught:
        event_from_record(record(**{field: "i" * (MAX_ID_LENGTH + 1)}), "x:1")
    assert caught.value.error_kind == FIELD_TOO_LONG
    assert str(caught.value) == f"{field} is {MAX_ID_LENGTH + 1:,} characters long, more than the limit of {MAX_ID_LENGTH:,}"


def test_the_id_length_limit_can_be_changed():
    assert event_from_record(record(actor_id="a" * 2000), "x:1", max_id_length=2000).actor_id == "a" * 2000
    with pytest.raises(InvalidEvent, match="more than the limit of 8"):
        event_from_record(record(actor_id="a" * 9), "x:1", max_id_length=8)


def test_a_compact_date_is_not_taken_for_epoch_millis_without_a_word():
    """`"20260302"` was read as 20,260,302 ms (1970) and refused with "were seconds or microseconds
    sent?": the message now names the date it looks like and how to write it."""
    import pytest

    from transforms.events import InvalidEvent, to_millis

    with pytest.raises(InvalidEvent, match="looks like the date 2026-03-02: write it as ISO 8601"):
        to_millis("20260302", "created_at")
    with pytest.raises(InvalidEvent) as refused:
        to_millis("12345678", "created_at")  # no such date: the usual message only
    assert "looks like the date" not in str(refused.value)


def _optional_string_fields():
    from schemas import avro_schema

    return sorted(f["name"] for f in avro_schema("engagement_event")["fields"] if f["type"] == ["null", "string"])


def test_the_schema_s_optional_string_fields_include_url():
    assert _optional_string_fields() == ["parent_actor_id", "parent_id", "url"]


@pytest.mark.parametrize("kind", ["POST", "COMMENT"])
@pytest.mark.parametrize("value", [{"href": "x"}, ["https://x"], 42.5, 7, True])
@pytest.mark.parametrize("field", _optional_string_fields())
def test_an_optional_string_field_of_another_type_is_a_bad_value_whatever_the_kind(field, value, kind):
    """issue 12: a url that was a JSON object (or array, number) was accepted; so was any value of
    parent_actor_id on a POST. Ids take integers on purpose (read as digits); url does not."""
    if field != "url" and isinstance(value, int) and not isinstance(value, bool):
        return  # an integer id is read as its digits (test_numeric_ids_are_read_as_strings)
    with pytest.raises(InvalidEvent) as caught:
        event_from_record(record(kind=kind, **{field: value}), "x:1")
    assert caught.value.error_kind == BAD_VALUE and field in str(caught.value)
    assert "must be a string" in str(caught.value)


def test_a_url_that_is_text_or_null_is_accepted_and_one_that_is_not_unicode_is_a_bad_value():
    event_from_record(record(url="https://example.com/q/1"), "x:1")
    event_from_record(record(url=None), "x:1")
    with pytest.raises(InvalidEvent) as caught:
        event_from_record(record(url="https://x/\ud800"), "x:1")
    assert caught.value.error_kind == BAD_VALUE and "url" in str(caught.value)
