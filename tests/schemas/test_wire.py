import pytest

from helpers import record
from schemas import wire
from transforms.events import event_from_record


def _valid():
    return event_from_record(record(), "x").to_record()


def test_plain_and_confluent_payloads_round_trip():
    for fmt in wire.WIRE_FORMATS:
        assert event_from_record(wire.decode(wire.encode(_valid(), fmt)), "x").to_record() == _valid()


@pytest.mark.parametrize("payload, kind", [
    (None, "EMPTY_PAYLOAD"),
    (b"", "EMPTY_PAYLOAD"),
    (b"\x00\x00\x00", "PARSE_ERROR"),
    (b"\x00\x00\x00\x00\x07" + b"x", "UNKNOWN_SCHEMA_ID"),
    (b"\xff\xfe garbage", "PARSE_ERROR"),
])
def test_undecodable_payloads_name_their_problem(payload, kind):
    with pytest.raises(wire.WireFormatError) as caught:
        wire.decode(payload)
    assert caught.value.kind == kind


def test_truncated_and_padded_avro_are_rejected():
    good = wire.encode(_valid())
    for bad in (good[:-3], good + b"\x00\x01"):
        with pytest.raises(wire.WireFormatError):
            wire.decode(bad)
