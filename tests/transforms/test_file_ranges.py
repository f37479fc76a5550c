"""A file read in ranges gives exactly what reading it whole gives: the same events, the same dead
letters, with the same origins (file:record, file:line), damaged Avro blocks included."""
import io
import json

import fastavro
import pytest

from helpers import five_block_avro, record
from schemas import engagement_event_schema
from transforms.event_files import iter_event_file
from transforms.event_records import DecodeLimits
from transforms.events import UNCOUNTED_RECORDS, DeadLetter, Event
from transforms.file_ranges import RangeSize, iter_range, plan_ranges


def whole(path, data, limits=DecodeLimits()):
    return list(iter_event_file(path, io.BytesIO(data), limits))


def in_ranges(path, data, size, limits=DecodeLimits()):
    """(items of every range read one after the other, each from its own stream; the ranges)."""
    ranges = plan_ranges(path, io.BytesIO(data), size)
    return [item for r in ranges for item in iter_range(r, io.BytesIO(data), limits)], ranges


def avro_file(count, **options):
    buffer = io.BytesIO()
    records = [record(event_id=f"e{n}", actor_id=" " if n % 17 == 5 else f"u{n % 7}") for n in range(count)]
    fastavro.writer(buffer, engagement_event_schema(), records, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_an_avro_file_in_many_ranges_decodes_as_it_does_whole(codec):
    data = avro_file(300, codec=codec, sync_interval=500)
    items, ranges = in_ranges("a.avro", data, RangeSize(records=20, bytes=1 << 30))
    assert len(ranges) > 5 and [r.index for r in ranges] == list(range(len(ranges)))
    expected = whole("a.avro", data)
    assert any(isinstance(i, DeadLetter) for i in expected)
    assert items == expected


def jsonl_lines():
    lines = [json.dumps(record(event_id=f"j{n}")) for n in range(40)]
    lines[3], lines[10], lines[11], lines[25] = "{not json", "", "   ", json.dumps(record(event_id="m", actor_id=None))
    return lines


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
@pytest.mark.parametrize("size", [RangeSize(records=3, bytes=1 << 30), RangeSize(records=1 << 30, bytes=100),
                                  RangeSize(records=1, bytes=1)])
def test_a_jsonl_file_in_many_ranges_keeps_every_line_number(size, ending):
    data = b"\xef\xbb\xbf" + ending.join(line.encode() for line in jsonl_lines())  # a BOM; no newline at the end
    items, ranges = in_ranges("j.jsonl", data, size)
    assert len(ranges) > 5
    expected = whole("j.jsonl", data)
    assert items == expected
    assert [d.origin for d in items if isinstance(d, DeadLetter)] == ["j.jsonl:4", "j.jsonl:26"]
    assert items[0].event_id == "j0"  # the byte-order mark is still not part of the first record


def test_a_jsonl_line_longer_than_a_range_is_read_whole_in_one_range():
    lines = [json.dumps(record(event_id="a")), json.dumps(record(event_id="b", note="x" * 5000)),
             json.dumps(record(event_id="c")), json.dumps(record(event_id="d", note="y" * 50_000)), "{bad"]
    data = "\n".join(lines).encode() + b"\n"
    limits = DecodeLimits(max_record_bytes=20_000)
    items, ranges = in_ranges("long.jsonl", data, RangeSize(records=1 << 30, bytes=300), limits)
    long_start = data.index(b'"d"')
    assert len(ranges) >= 3 and not any(long_start < r.start < long_start + 50_000 for r in ranges)
    assert items == whole("long.jsonl", data, limits)
    assert [(i.origin, type(i).__name__) for i in items] == [
        ("long.jsonl:1", "Event"), ("long.jsonl:2", "Event"), ("long.jsonl:3", "Event"),
        ("long.jsonl:4", "DeadLetter"), ("long.jsonl:5", "DeadLetter")]


def test_an_empty_file_is_one_range_of_nothing():
    items, ranges = in_ranges("empty.jsonl", b"", RangeSize(records=1, bytes=1))
    assert (items, len(ranges)) == ([], 1)


def test_a_small_file_stays_one_range():
    data = avro_file(50)
    items, ranges = in_ranges("small.avro", data, RangeSize())
    assert len(ranges) == 1 and items == whole("small.avro", data)


def damaged(kind):
    """five_block_avro (blocks of 7, 7, 7, 7, 3 records) with one kind of damage."""
    data, blocks = five_block_avro()
    if kind == "record":  # record 17 (block 3) cannot be decoded: the rest of block 3 is lost
        offset, size = blocks[2]
        data[data.index(b"r17\x02", offset, offset + size) + 3] = 0x7E
    elif kind == "sync marker":  # block 2's records are lost; reading resumes at the next marker
        offset, size = blocks[1]
        data[offset + size - 8] ^= 0xFF
    elif kind == "block header":  # block 3 cannot be framed: one UNCOUNTED_RECORDS
        data[blocks[2][0] + 1] ^= 0x08
    elif kind == "two sync markers":  # blocks 2 and 3 chained up to the marker after block 4
        for offset, size in blocks[1:3]:
            data[offset + size - 8] ^= 0xFF
    elif kind == "truncated":
        offset, size = blocks[3]
        data = data[:offset + size // 2]
    elif kind == "implausible count":
        offset, _ = blocks[4]
        data = data[:offset] + bytes([0x80] * 8 + [0x80 | 0x7F, 0x01]) + data[offset + 1:]
    return bytes(data)


# records=7: a range per block, so the damage is at a range boundary; 10 and 14: inside a range
@pytest.mark.parametrize("records", [1, 7, 10, 14])
@pytest.mark.parametrize("kind", ["record", "sync marker", "block header", "two sync markers", "truncated",
                                  "implausible count"])
def test_a_damaged_avro_file_in_ranges_gives_the_same_events_and_dead_letters(kind, records):
    data = damaged(kind)
    items, ranges = in_ranges("d.avro", data, RangeSize(records=records, bytes=1 << 30))
    assert len(ranges) > 1
    expected = whole("d.avro", data)
    assert any(isinstance(i, DeadLetter) for i in expected)
    assert items == expected


def test_a_range_ends_only_where_a_whole_read_would_go_on():
    # Damage on a range boundary: the range before it ends at the damaged block, the next starts at the
    # next sync marker, and the uncounted region is counted once, in one of them.
    data = damaged("block header")
    items, ranges = in_ranges("d.avro", data, RangeSize(records=7, bytes=1 << 30))
    uncounted = [i for i in items if isinstance(i, DeadLetter) and i.error_kind == UNCOUNTED_RECORDS]
    assert [u.origin for u in uncounted] == ["d.avro:15"]
    assert all(a.stop == b.start for a, b in zip(ranges, ranges[1:]))
    assert len([i for i in items if isinstance(i, Event)]) == 24


def test_an_unreadable_avro_header_is_one_range_and_one_dead_letter():
    data = b"Obj\x01" + b"\xff" * 100
    items, ranges = in_ranges("h.avro", data, RangeSize(records=1, bytes=1))
    assert len(ranges) == 1 and [i.error_kind for i in items] == [UNCOUNTED_RECORDS]


def test_a_block_whose_count_disagrees_with_its_data_costs_the_same_records_in_ranges():
    # The limit the module names: block 4 claims 33 records and holds 7 (its framing is intact). The
    # same events and dead letters come out; records in later ranges keep their block-count numbers.
    data, blocks = five_block_avro()
    data[blocks[3][0]] = 66
    items, ranges = in_ranges("c.avro", bytes(data), RangeSize(records=7, bytes=1 << 30))
    expected = whole("c.avro", bytes(data))
    assert len(ranges) == 5
    assert [i._replace(origin="") for i in items] == [i._replace(origin="") for i in expected]
    assert items[:29] == expected[:29]  # up to and with the block's UNCOUNTED_RECORDS dead letter
