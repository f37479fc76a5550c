import io
import json

import apache_beam as beam
import fastavro
import pytest
from apache_beam.testing.util import assert_that, equal_to

from helpers import T0, record
from producers.event_files import write_events
from transforms.decode import ReadEventFiles, iter_avro_file, iter_event_file
from transforms.events import (
    BAD_TIMESTAMP, MISSING_FIELD, MISSING_PARENT, PARSE_ERROR, UNKNOWN_KIND, DeadLetter, Event,
)


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


def test_a_corrupt_avro_block_ends_the_file_with_one_dead_letter():
    buffer = io.BytesIO()
    from schemas import engagement_event_schema

    fastavro.writer(buffer, engagement_event_schema(), [record(event_id=str(i)) for i in range(50)], sync_interval=200)
    data = bytearray(buffer.getvalue())
    data[-40:] = b"\xff" * 40  # damage the last block
    items = list(iter_avro_file("broken.avro", io.BytesIO(bytes(data))))
    events = [i for i in items if isinstance(i, Event)]
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert 0 < len(events) < 50
    assert dead.error_kind == PARSE_ERROR and dead.origin == f"broken.avro:{len(events) + 1}"


def test_read_event_files_expands_globs_and_splits_events_from_dead_letters(tmp_path):
    write_events(tmp_path / "a.avro", [record(event_id="a1"), record(event_id="a2", kind="POST", parent_id=None)])
    write_events(tmp_path / "b.jsonl", [record(event_id="b1"), record(event_id="b2", actor_id=None)])
    with beam.Pipeline("FnApiRunner") as p:
        decoded = p | ReadEventFiles([str(tmp_path / "*.avro"), str(tmp_path / "*.jsonl")])
        assert_that(decoded.events | beam.Map(lambda e: e.event_id), equal_to(["a1", "a2", "b1"]))
        assert_that(decoded.dead_letters | beam.Map(lambda d: (d.event_id, d.error_kind)),
                    equal_to([("b2", MISSING_FIELD)]), label="dead letters")


def test_a_pattern_that_matches_nothing_says_so(tmp_path):
    with pytest.raises(Exception, match="no input file matches"):
        with beam.Pipeline("FnApiRunner") as p:
            p | ReadEventFiles([str(tmp_path / "missing-*.avro")])


def test_an_avro_file_written_with_schema_version_1_decodes_with_the_current_schema(tmp_path):
    import fastavro

    from schemas import wire
    from transforms.decode import iter_event_file

    path = tmp_path / "old.avro"
    with open(path, "wb") as out:
        fastavro.writer(out, wire.schema_versions()[1], [record(), record(event_id="e2", item_id="c2")])
    with open(path, "rb") as stream:
        items = list(iter_event_file(str(path), stream))
    assert [type(i).__name__ for i in items] == ["Event", "Event"] and items[1].event_id == "e2"


def test_a_kafka_message_with_a_newer_schema_id_is_a_dead_letter_with_that_reason():
    from schemas import wire
    from transforms.decode import decode_kafka_record
    from transforms.kafka_source import KafkaRecord

    message = KafkaRecord("t", 0, 7, None, wire.encode(record(), wire.CONFLUENT, schema_id=wire.CURRENT_SCHEMA_ID + 1), T0)
    dead = decode_kafka_record(message)
    assert dead.error_kind == "UNKNOWN_SCHEMA_ID" and dead.origin == "kafka:t/0@7" and "newer" in dead.message
