"""Event files record by record: hostile JSON lines and Avro records each cost one dead letter."""
import io
import json
import tracemalloc

import fastavro

from helpers import T0, five_block_avro, record
from producers.event_files import write_events
from schemas import engagement_event_schema
from transforms.event_files import (
    MAX_RAW_PAYLOAD, MAX_RECORD_BYTES, DecodeLimits, iter_avro_file, iter_event_file,
)
from transforms.events import (
    BAD_TIMESTAMP, BAD_VALUE, FIELD_TOO_LONG, MISSING_FIELD, MISSING_PARENT, PARSE_ERROR, RECORD_TOO_LARGE,
    UNCOUNTED_RECORDS, UNKNOWN_KIND, DeadLetter, Event,
)


def decode_file(path, limits=DecodeLimits()):
    with open(path, "rb") as stream:
        return list(iter_event_file(str(path), stream, limits))


def writable(item):
    """What the warehouse will do with a dead letter: encode its text as UTF-8."""
    for text in (item.origin, item.message, item.event_id or "", item.raw_payload or ""):
        text.encode("utf-8")
    return True


def test_avro_records_keep_their_record_number_as_origin(tmp_path):
    path = tmp_path / "events.avro"
    write_events(path, [record(event_id="a"), record(event_id="b", actor_id="")])
    with open(path, "rb") as stream:
        items = list(iter_event_file(str(path), stream))
    assert isinstance(items[0], Event) and items[0].origin == f"{path}:1"
    assert isinstance(items[1], DeadLetter)
    assert (items[1].origin, items[1].error_kind, items[1].event_id) == (f"{path}:2", MISSING_FIELD, "b")
    assert '"event_id": "b"' in items[1].raw_payload


def test_jsonl_dead_letters_carry_line_number_reason_and_raw_line(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(record(event_id="ok", created_at="2026-03-02T00:00:00Z")),
        "",  # blank lines are not records
        "{not json",
        json.dumps(record(event_id="k", kind="LIKE")),
        json.dumps(record(event_id="p", parent_id=None)),
        json.dumps(record(event_id="t", created_at=123)),
        "[1, 2]",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(path, "rb") as stream:
        items = list(iter_event_file(str(path), stream))
    assert items[0].created_at == T0
    assert [(i.origin.rsplit(":", 1)[1], i.error_kind) for i in items[1:]] == [
        ("3", PARSE_ERROR), ("4", UNKNOWN_KIND), ("5", MISSING_PARENT), ("6", BAD_TIMESTAMP), ("7", PARSE_ERROR),
    ]
    assert items[1].raw_payload == "{not json"


def test_invalid_utf8_is_a_parse_error_not_a_crash(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"event_id": "caf\xe9"}\n')
    with open(path, "rb") as stream:
        (item,) = iter_event_file(str(path), stream)
    assert item.error_kind == PARSE_ERROR and "\\xe9" in item.raw_payload


def test_a_corrupt_last_avro_block_costs_its_records_and_no_more():
    buffer = io.BytesIO()
    from schemas import engagement_event_schema

    fastavro.writer(buffer, engagement_event_schema(), [record(event_id=str(i)) for i in range(50)], sync_interval=200)
    data = bytearray(buffer.getvalue())
    assert [b.num_records for b in fastavro.block_reader(io.BytesIO(bytes(data)))][-1] == 1
    data[-40:] = b"\xff" * 40  # damage the last block (one record) and its sync marker
    items = list(iter_avro_file("broken.avro", io.BytesIO(bytes(data))))
    events = [i for i in items if isinstance(i, Event)]
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert len(events) == 49
    assert dead.error_kind == PARSE_ERROR and dead.origin == "broken.avro:50" and "sync marker" in dead.message


def test_hostile_jsonl_records_are_dead_letters_and_the_rest_of_the_file_is_read(tmp_path):
    # Issue 9, item 5: each of these used to end the whole run with a traceback.
    path = tmp_path / "hostile.jsonl"
    lines = [
        (json.dumps(record(event_id="ok1")), None),
        (json.dumps(record(event_id="k1", kind=["POST"])), BAD_VALUE),
        (json.dumps(record(event_id="k2", kind={"POST": True})), BAD_VALUE),
        ("[" * 5000 + "]" * 5000, PARSE_ERROR),  # RecursionError in json
        ('{"a":' * 5000 + "1" + "}" * 5000, PARSE_ERROR),
        ('{"event_id": "n1", "created_at": ' + "9" * 5000 + "}", PARSE_ERROR),  # int() digit limit
        (json.dumps(record(event_id="t1", created_at=T0 * 1000)), BAD_TIMESTAMP),  # microseconds
        (json.dumps(record(event_id="t2", created_at=1e300)), BAD_TIMESTAMP),
        (json.dumps(record(event_id="t3", created_at="--5")), BAD_TIMESTAMP),
        (json.dumps(record(event_id="t4", created_at="\u00b2")), BAD_TIMESTAMP),
        (json.dumps(record(event_id="s1", actor_id="\ud800")), BAD_VALUE),  # "\ud800" in the JSON text
        (json.dumps(record(event_id="\udfff")), BAD_VALUE),
        (json.dumps(record(event_id="ok2")), None),
    ]
    path.write_text("\n".join(line for line, _ in lines) + "\n", encoding="utf-8")
    items = decode_file(path)
    assert [(i.origin, getattr(i, "error_kind", None)) for i in items] == [
        (f"{path}:{n}", kind) for n, (_, kind) in enumerate(lines, start=1)]
    assert [i.event_id for i in items if isinstance(i, Event)] == ["ok1", "ok2"]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert all(writable(d) and d.raw_payload and len(d.message) < 300 for d in dead)
    assert [d.event_id for d in dead] == ["k1", "k2", None, None, None, "t1", "t2", "t3", "t4", "s1", None]
    assert "nested too deeply" in dead[2].message and "digits" in dead[4].message
    assert "lone surrogate" in dead[9].message


def test_a_byte_order_mark_does_not_hide_the_first_record(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(record(event_id="first")) + "\r\n").encode()
                     + (json.dumps(record(event_id="second")) + "\r\n").encode())
    items = decode_file(path)
    assert [(i.event_id, i.origin) for i in items] == [("first", f"{path}:1"), ("second", f"{path}:2")]


def padded(event_id, size, ending="\n"):
    """A valid JSON line of exactly ``size`` bytes before its line ending."""
    line = json.dumps(record(event_id=event_id, note=""))
    return line.replace('"note": ""', '"note": "' + "x" * (size - len(line)) + '"') + ending


def test_a_line_over_the_limit_is_a_dead_letter_and_the_next_line_is_read(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(padded("at-limit", 1000) + padded("over", 1001) + padded("crlf-at-limit", 1000, "\r\n")
                    + padded("ok", 200) + padded("over-at-eof", 5000, ""), encoding="utf-8")
    items = decode_file(path, DecodeLimits(max_record_bytes=1000))
    assert [(i.origin.rsplit(":", 1)[1], i.event_id, getattr(i, "error_kind", None)) for i in items] == [
        ("1", "at-limit", None), ("2", None, RECORD_TOO_LARGE), ("3", "crlf-at-limit", None), ("4", "ok", None),
        ("5", None, RECORD_TOO_LARGE)]
    assert items[1].message == "line is 1,001 bytes long, more than the limit of 1,000 bytes (--max-record-bytes)"
    assert items[1].raw_payload == padded("over", 1001)[:-1]


def test_a_huge_line_keeps_only_the_start_of_its_raw_payload(tmp_path):
    path = tmp_path / "huge.jsonl"
    path.write_text(padded("huge", 2 * MAX_RECORD_BYTES + 7) + padded("after", 300), encoding="utf-8")
    huge, after = decode_file(path)
    assert huge.error_kind == RECORD_TOO_LARGE and f"{2 * MAX_RECORD_BYTES + 7:,} bytes" in huge.message
    assert huge.raw_payload == padded("huge", 2 * MAX_RECORD_BYTES + 7)[:MAX_RAW_PAYLOAD]
    assert after.event_id == "after"


def test_reading_a_long_line_takes_memory_of_the_limit_not_of_the_line(tmp_path):
    # Issue 12: `run` iterated whole lines, so one 100 MB line cost hundreds of MB.
    path = tmp_path / "one-long-line.jsonl"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"event_id": "long", "actor_id": "')
        for _ in range(40):
            out.write("a" * 1_000_000)
        out.write('"}\n' + json.dumps(record(event_id="after")) + "\n")
    tracemalloc.start()
    try:
        items = decode_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [getattr(i, "error_kind", i.event_id) for i in items] == [RECORD_TOO_LARGE, "after"]
    assert peak < 4 * MAX_RECORD_BYTES, f"peak {peak:,} bytes for a 40 MB line"


def test_an_id_over_the_length_limit_is_a_dead_letter_with_a_bounded_payload(tmp_path):
    path = tmp_path / "long-id.jsonl"
    path.write_text(json.dumps(record(event_id="big", actor_id="a" * 600_000)) + "\n"
                    + json.dumps(record(event_id="x" * 1000)) + "\n" + json.dumps(record(event_id="ok")) + "\n")
    big, long_event_id, ok = decode_file(path)
    assert (big.error_kind, big.event_id, len(big.raw_payload)) == (FIELD_TOO_LONG, "big", MAX_RAW_PAYLOAD)
    assert "actor_id is 600,000 characters long" in big.message
    assert (long_event_id.error_kind, long_event_id.event_id) == (FIELD_TOO_LONG, None)
    assert ok.event_id == "ok"
    items = decode_file(path, DecodeLimits(max_id_length=1_000_000))
    assert [i.event_id for i in items] == ["big", "x" * 1000, "ok"]


def avro_bytes(records, **options):
    buffer = io.BytesIO()
    fastavro.writer(buffer, engagement_event_schema(), records, **options)
    return buffer.getvalue()


def test_an_out_of_range_avro_timestamp_is_one_dead_letter_and_the_file_goes_on():
    # Issue 9, item 5: fastavro's timestamp-millis conversion failed on record 8, and the 993 records
    # after it were lost ("7 of 1,001 records read").
    records = [record(event_id=str(n), created_at=T0 + n) for n in range(1, 1002)]
    records[7]["created_at"] = 10 ** 18
    records[500]["parent_created_at"] = -(10 ** 17)
    items = list(iter_avro_file("big.avro", io.BytesIO(avro_bytes(records, sync_interval=4000))))
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.origin, d.error_kind, d.event_id) for d in dead] == [
        ("big.avro:8", BAD_TIMESTAMP, "8"), ("big.avro:501", BAD_TIMESTAMP, "501")]
    events = [i for i in items if isinstance(i, Event)]
    assert len(events) == 999 and events[-1].origin == "big.avro:1001" and events[-1].created_at == T0 + 1001
    assert '"created_at": 1000000000000000000' in dead[0].raw_payload


def test_invalid_utf8_in_an_avro_string_is_a_dead_letter_not_the_end_of_the_file():
    data = avro_bytes([record(event_id="1"), record(event_id="2", actor_id="MARKER"), record(event_id="3")])
    data = data.replace(b"MARKER", b"MA\xff\xfeER")
    items = list(iter_avro_file("latin.avro", io.BytesIO(data)))
    assert [(i.event_id, getattr(i, "error_kind", None)) for i in items] == [("1", None), ("2", BAD_VALUE), ("3", None)]
    assert "not valid Unicode" in items[1].message and writable(items[1])


def test_an_avro_record_over_the_size_limit_is_a_dead_letter():
    data = avro_bytes([record(event_id="1"), record(event_id="2", actor_id="a" * 300), record(event_id="3")])
    items = list(iter_avro_file("big.avro", io.BytesIO(data), DecodeLimits(max_record_bytes=200)))
    assert [(i.event_id, getattr(i, "error_kind", None)) for i in items] == [
        ("1", None), ("2", RECORD_TOO_LARGE), ("3", None)]
    assert "more than the limit of 200 bytes" in items[1].message


HOSTILE_FRAGMENTS = [
    b'"\\ud800"', b"[" * 3000, b"9" * 5000, b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"{", b"}", b'"', b"NaN",
    b"1e999", b"-", "\u00b2".encode(), b'"kind": ["POST"]', b'"created_at": 1e300', b'"actor_id": {"a": 1}',
    b'"event_id": 123456789012345678901234567890', b"\\", b"\\u", b'"' + b"a" * 2000 + b'"', b"\r",
]


def mutated_line(rng):
    line = bytearray(json.dumps(record(event_id=f"e{rng.randrange(10 ** 6)}", created_at=T0 + rng.randrange(10 ** 6))).encode())
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(line) + 1)
        choice = rng.random()
        if choice < 0.4:
            line[at:at] = rng.choice(HOSTILE_FRAGMENTS)
        elif choice < 0.6:
            line[at:at + rng.randint(1, 20)] = rng.choice(HOSTILE_FRAGMENTS)
        elif choice < 0.8:
            line[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            del line[at:]
    return bytes(line).replace(b"\n", b" ")


def test_mutated_lines_never_crash_and_every_line_is_accounted_for(tmp_path):
    # A bounded, seeded fuzz of the JSON Lines decoder: one item per non-blank line, whatever it holds,
    # and everything that comes out can be stored (valid UTF-8, bounded sizes).
    import random

    rng = random.Random(20260302)
    lines = [json.dumps(record(event_id="first")).encode()] + [mutated_line(rng) for _ in range(1500)]
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = decode_file(path, DecodeLimits(max_record_bytes=8000))
    assert len(items) == sum(1 for line in lines if line.strip())
    for item in items:
        if isinstance(item, Event):
            assert all(len(value) <= 512 and value.encode("utf-8") for value in item[:8] if value is not None)
        else:
            assert writable(item) and len(item.message) < 500 and len(item.raw_payload or "") <= MAX_RAW_PAYLOAD
    kinds = {getattr(item, "error_kind", "event") for item in items}
    assert {"event", PARSE_ERROR, BAD_TIMESTAMP, RECORD_TOO_LARGE} <= kinds, kinds


def test_an_undecodable_avro_record_costs_a_dead_letter_for_each_record_left_in_its_block():
    records = [record(event_id=f"r{n:02d}") for n in range(1, 31)]
    data = avro_bytes(records, sync_interval=300)  # null codec: the record bytes can be edited in place
    assert data.count(b"r12\x02") == 1  # event_id "r12", then kind COMMENT as enum index 1 (zigzag 2)
    data = data.replace(b"r12\x02", b"r12\x7e")  # enum index 63: there is no such kind
    items = list(iter_avro_file("damaged.avro", io.BytesIO(data)))
    dead = [i for i in items if isinstance(i, DeadLetter)]
    first, last = (int(n) for n in dead[0].message.split("records ")[1].split(" ")[0].split(".."))
    assert first == 12 and 12 <= last < 30  # the rest of that block only
    assert [(d.origin, d.error_kind) for d in dead] == [(f"damaged.avro:{n}", PARSE_ERROR) for n in range(12, last + 1)]
    assert len(items) == 30
    events = [i for i in items if isinstance(i, Event)]
    assert [e.event_id for e in events] == [f"r{n:02d}" for n in range(1, 31) if not 12 <= n <= last]
    assert all(e.origin == f"damaged.avro:{int(e.event_id[1:])}" for e in events)


def numbers(items, kind):
    return [int(i.origin.rsplit(":", 1)[1]) for i in items if isinstance(i, kind)]


def test_a_record_that_cannot_be_decoded_dead_letters_each_record_left_in_its_block():
    data, blocks = five_block_avro()
    offset, size = blocks[2]  # block 3: records 15..21
    at = data.index(b"r17\x02", offset, offset + size)  # record 17's event_id, then kind COMMENT (enum 1)
    data[at + 3] = 0x7E  # enum index 63: there is no such kind
    items = list(iter_avro_file("damaged.avro", io.BytesIO(bytes(data))))
    assert len(items) == 31  # one item per record: nothing lost, nothing twice
    assert numbers(items, Event) == [*range(1, 17), *range(22, 32)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.origin, d.error_kind) for d in dead] == [(f"damaged.avro:{n}", PARSE_ERROR) for n in range(17, 22)]
    assert all("records 17..21" in d.message and "block 3" in d.message for d in dead)


def test_a_damaged_sync_marker_costs_the_records_of_its_block_and_reading_resumes_at_the_next_marker():
    data, blocks = five_block_avro()
    offset, size = blocks[1]  # block 2: records 8..14; its sync marker is its last 16 bytes
    data[offset + size - 8] ^= 0xFF
    items = list(iter_avro_file("damaged.avro", io.BytesIO(bytes(data))))
    assert len(items) == 31
    assert numbers(items, Event) == [*range(1, 8), *range(15, 32)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.origin, d.error_kind) for d in dead] == [(f"damaged.avro:{n}", PARSE_ERROR) for n in range(8, 15)]
    assert all("sync marker" in d.message for d in dead)


def test_a_damaged_block_header_is_one_uncounted_dead_letter_and_reading_resumes_at_the_next_marker():
    data, blocks = five_block_avro()
    offset, _ = blocks[2]  # block 3: its header is the record count (7: zigzag 14) and the byte size
    assert data[offset] == 14
    data[offset + 1] ^= 0x08  # the byte size is wrong: its records cannot be found nor counted
    items = list(iter_avro_file("damaged.avro", io.BytesIO(bytes(data))))
    events = [i for i in items if isinstance(i, Event)]
    assert [e.event_id for e in events] == [f"r{n:02d}" for n in (*range(1, 15), *range(22, 32))]
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert (dead.origin, dead.error_kind) == ("damaged.avro:15", UNCOUNTED_RECORDS)
    assert "unknown" in dead.message
    # Records after the gap are numbered as if it held one record (their true numbers are unknown).
    assert numbers(items, Event)[14:] == list(range(16, 26))


def test_a_truncated_avro_file_ends_with_one_uncounted_dead_letter():
    data, blocks = five_block_avro()
    offset, size = blocks[3]  # cut inside block 4
    items = list(iter_avro_file("cut.avro", io.BytesIO(bytes(data[:offset + size // 2]))))
    assert numbers(items, Event) == list(range(1, 22))
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert (dead.origin, dead.error_kind) == ("cut.avro:22", UNCOUNTED_RECORDS)


def test_an_implausible_record_count_in_a_block_header_is_not_believed():
    data, blocks = five_block_avro()
    offset, _ = blocks[4]  # block 5: 3 records (zigzag 6, one byte); claim 2**62 of them instead
    assert data[offset] == 6
    huge = bytes([0x80] * 8 + [0x80 | 0x7F, 0x01])  # a 10-byte varint, far more records than bytes
    items = list(iter_avro_file("huge.avro", io.BytesIO(bytes(data[:offset]) + huge + bytes(data[offset + 1:]))))
    assert numbers(items, Event) == list(range(1, 29))
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert (dead.origin, dead.error_kind) == ("huge.avro:29", UNCOUNTED_RECORDS)


def test_a_damaged_sync_marker_in_a_deflate_file_costs_the_records_of_its_block():
    records = [record(event_id=f"r{n:02d}") for n in range(1, 41)]
    data = bytearray(avro_bytes(records, codec="deflate", sync_interval=400))
    blocks = list(fastavro.block_reader(io.BytesIO(bytes(data))))
    assert len(blocks) >= 3
    data[blocks[1].offset + blocks[1].size - 1] ^= 0x01  # the last byte of block 2's sync marker
    items = list(iter_avro_file("deflate.avro", io.BytesIO(bytes(data))))
    first, lost = blocks[0].num_records + 1, blocks[1].num_records
    assert len(items) == 40
    assert numbers(items, DeadLetter) == list(range(first, first + lost))
    assert numbers(items, Event) == [n for n in range(1, 41) if not first <= n < first + lost]


def test_a_block_header_claiming_more_records_than_its_data_holds_is_uncounted_not_dead_letters_of_nothing():
    data, blocks = five_block_avro()
    offset, _ = blocks[3]  # block 4: 7 records (zigzag 14); claim 33 (zigzag 66), still one byte
    assert data[offset] == 14
    data[offset] = 66
    items = list(iter_avro_file("claims.avro", io.BytesIO(bytes(data))))
    assert numbers(items, Event) == [*range(1, 29), *range(30, 33)]  # records 29..31 numbered one on
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert (dead.origin, dead.error_kind) == ("claims.avro:29", UNCOUNTED_RECORDS)
    assert "claims 33 records but its data ends after 7" in dead.message


def test_a_json_line_naming_a_key_twice_is_a_parse_error_not_its_last_value(tmp_path):
    path = tmp_path / "twice.jsonl"
    body = json.dumps(record(event_id="first"))[1:]
    path.write_text("\n".join([
        '{"event_id": "second", ' + body,                     # json would keep "first" silently
        '{"extra": {"a": 1, "a": 2}, ' + body,                # in a nested object too
        json.dumps(record(event_id="ok")),
    ]) + "\n", encoding="utf-8")
    items = decode_file(path)
    assert [(i.origin, getattr(i, "error_kind", None)) for i in items] == [
        (f"{path}:1", PARSE_ERROR), (f"{path}:2", PARSE_ERROR), (f"{path}:3", None)]
    assert "'event_id' appears more than once" in items[0].message and "'a' appears" in items[1].message


def schema_of_version(version):
    """The current EngagementEvent schema as a newer release might write it: another version, a field more."""
    from schemas import avro_schema

    raw = json.loads(json.dumps(avro_schema("engagement_event")))
    raw["x-schema-version"] = version
    raw["fields"].append({"name": "language", "type": ["null", "string"], "default": None})
    return fastavro.parse_schema(raw)


def test_an_avro_file_of_an_unknown_newer_schema_version_dead_letters_each_record_as_kafka_does():
    # Kafka dead-letters a message of an unknown schema id (UNKNOWN_SCHEMA_ID); a file of a newer
    # version was read silently, as if its fields meant what this release's mean.
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema_of_version(3), [record(event_id=str(n), language="en") for n in (1, 2, 3)])
    items = list(iter_avro_file("newer.avro", io.BytesIO(buffer.getvalue())))
    assert [(i.origin, i.error_kind, i.event_id) for i in items] == [
        (f"newer.avro:{n}", "UNKNOWN_SCHEMA_ID", str(n)) for n in (1, 2, 3)], items
    assert "schema version 3" in items[0].message and "this release reads versions 1, 2" in items[0].message
    assert '"language": "en"' in items[0].raw_payload and writable(items[0])


def test_an_avro_file_whose_schema_version_is_not_a_number_is_refused_the_same_way():
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema_of_version("3-beta"), [record(event_id="1")])
    items = list(iter_avro_file("odd.avro", io.BytesIO(buffer.getvalue())))
    assert [(i.origin, i.error_kind) for i in items] == [("odd.avro:1", "UNKNOWN_SCHEMA_ID")]
    assert "'3-beta'" in items[0].message


def test_an_avro_file_without_a_schema_version_is_read_by_its_field_names():
    from schemas import avro_schema

    raw = {k: v for k, v in avro_schema("engagement_event").items() if k != "x-schema-version"}
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(raw), [record(event_id="1")])
    items = list(iter_avro_file("other-writer.avro", io.BytesIO(buffer.getvalue())))
    assert [type(i).__name__ for i in items] == ["Event"]
