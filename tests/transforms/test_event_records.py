"""One record's validation: the plain-record way (``plain_event``) against the general one it skips."""
import collections

import pytest

from helpers import T0, record
from producers.synthetic import CommunitySpec, generate_community
from transforms.event_records import DecodeLimits, decode_record, plain_event
from transforms.events import (
    ID_FIELDS, MAX_ID_LENGTH, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, TEXT_FIELDS, DeadLetter, InvalidEvent,
    event_from_record,
)

# Values every field is tried with: the plain ones and each way a value can be other than plain.
VALUES = [
    None, "", " ", "\t", "x", "p1", "a b", "é", "\U0001f600", "\ud800", "x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1),
    0, 42, -1, True, False, 1.5, float("nan"), T0, T0 + 0.0, MIN_TIMESTAMP_MS, MIN_TIMESTAMP_MS - 1,
    MAX_TIMESTAMP_MS - 1, MAX_TIMESTAMP_MS, str(T0), "2026-03-02T00:00:00Z", [1], {"a": 1}, b"p1",
    "POST", "COMMENT", "REPLY", "comment",
]


def general(rec, origin="f:1", max_id_length=MAX_ID_LENGTH):
    try:
        return event_from_record(rec, origin, max_id_length)
    except InvalidEvent as error:
        return error.error_kind, str(error)


def records():
    fields = (*ID_FIELDS, "kind", "created_at", "parent_created_at", *TEXT_FIELDS)
    for kind in ("POST", "COMMENT", "REPLY"):
        base = record(kind=kind, parent_actor_id="author", parent_created_at=T0 - 1000, url="https://x/1")
        yield base
        for field in fields:
            for value in VALUES:
                yield {**base, field: value}
            yield {k: v for k, v in base.items() if k != field}


def test_a_plain_record_gives_the_general_way_s_event_and_any_other_is_left_to_it():
    taken = 0
    for rec in records():
        fast = plain_event(rec, "f:1", MAX_ID_LENGTH)
        if fast is not None:
            taken += 1
            assert fast == general(rec), rec
            assert type(fast.created_at) is int
    assert taken > 100  # the plain way is taken for the plain values


@pytest.mark.parametrize("max_id_length", [1, 8, MAX_ID_LENGTH])
def test_the_plain_way_keeps_the_id_limit(max_id_length):
    for rec in records():
        fast = plain_event(rec, "f:1", max_id_length)
        if fast is not None:
            assert fast == general(rec, max_id_length=max_id_length)


def test_records_that_are_not_plain_dicts_take_the_general_way():
    assert plain_event(collections.OrderedDict(record()), "f:1", MAX_ID_LENGTH) is None
    assert plain_event([1, 2], "f:1", MAX_ID_LENGTH) is None
    assert isinstance(decode_record([1, 2], "f:1", [1, 2]), DeadLetter)


def test_decode_record_is_the_general_way_for_every_record():
    limits = DecodeLimits(max_id_length=8)
    for rec in records():
        item = decode_record(rec, "f:7", rec, limits)
        expected = general(rec, "f:7", 8)
        if isinstance(item, DeadLetter):
            assert (item.origin, item.error_kind, item.message) == ("f:7", *expected), rec
        else:
            assert item == expected, rec


def test_the_synthetic_community_s_records_all_take_the_plain_way():
    events = generate_community(CommunitySpec(seed=3)).events
    assert all(plain_event(r, f"f:{n}", MAX_ID_LENGTH) == general(r, f"f:{n}") for n, r in enumerate(events))
