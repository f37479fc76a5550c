"""ReadEventFiles and the Kafka decoder: patterns in, each file once, Events and dead letters out."""
import apache_beam as beam
import fastavro
import pytest
from apache_beam.testing.util import assert_that, equal_to

from helpers import T0, record
from producers.event_files import write_events
from schemas import engagement_event_schema
from transforms.decode import DecodeLimits, ReadEventFiles, repeated_paths
from transforms.events import BAD_TIMESTAMP, FIELD_TOO_LONG, MISSING_FIELD, RECORD_TOO_LARGE


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
    from transforms.kafka_consumer import KafkaRecord

    message = KafkaRecord("t", 0, 7, None, wire.encode(record(), wire.CONFLUENT, schema_id=wire.CURRENT_SCHEMA_ID + 1), T0)
    dead = decode_kafka_record(message)
    assert dead.error_kind == "UNKNOWN_SCHEMA_ID" and dead.origin == "kafka:t/0@7" and "newer" in dead.message


def test_a_file_named_twice_is_read_once(tmp_path):
    # Issue 9, item 8: `--input f --input f` counted 10 dead letters while the table held 5.
    write_events(tmp_path / "a.jsonl", [record(event_id="a1"), record(event_id="a2", actor_id=None)])
    write_events(tmp_path / "b.jsonl", [record(event_id="b1")])
    a = str(tmp_path / "a.jsonl")
    patterns = [a, str(tmp_path / "*.jsonl"), a, str(tmp_path / "." / "a.jsonl")]
    with beam.Pipeline("FnApiRunner") as p:
        decoded = p | ReadEventFiles(patterns)
        assert_that(decoded.events | beam.Map(lambda e: e.event_id), equal_to(["a1", "b1"]))
        assert_that(decoded.dead_letters | beam.Map(lambda d: d.event_id), equal_to(["a2"]), label="dead letters")
    assert repeated_paths(patterns) == {a: patterns}


def test_a_file_named_through_a_hard_link_or_a_symlink_is_read_once(tmp_path):
    """A hard link is the same file under another name: it was read twice (records in and dead
    letters doubled, every bad record stored under two origins)."""
    import os

    write_events(tmp_path / "h.jsonl", [record(event_id="h1"), record(event_id="h2", actor_id=None)])
    os.link(tmp_path / "h.jsonl", tmp_path / "hard.jsonl")
    os.symlink(tmp_path / "h.jsonl", tmp_path / "soft.jsonl")
    patterns = [str(tmp_path / name) for name in ("h.jsonl", "hard.jsonl", "soft.jsonl")]
    with beam.Pipeline("FnApiRunner") as p:
        decoded = p | ReadEventFiles(patterns)
        assert_that(decoded.events | beam.Map(lambda e: e.event_id), equal_to(["h1"]))
        assert_that(decoded.dead_letters | beam.Map(lambda d: d.event_id), equal_to(["h2"]), label="dead letters")
    assert repeated_paths(patterns) == {patterns[0]: patterns}


def test_kafka_messages_obey_the_same_record_and_id_limits():
    from schemas import wire
    from transforms.decode import decode_kafka_record
    from transforms.kafka_consumer import KafkaRecord

    def message(offset, **fields):
        return KafkaRecord("events", 0, offset, b"key", wire.encode(record(**fields)), T0)

    ids = frozenset({wire.DEFAULT_SCHEMA_ID})
    limits = DecodeLimits(max_record_bytes=300, max_id_length=32)
    ok, too_large, too_long = (decode_kafka_record(m, ids, limits) for m in (
        message(1, event_id="ok"), message(2, event_id="big", note="n", actor_id="a" * 30 + "x" * 300),
        message(3, event_id="long", actor_id="a" * 33)))
    assert ok.event_id == "ok"
    assert (too_large.origin, too_large.error_kind) == ("kafka:events/0@2", RECORD_TOO_LARGE)
    assert "more than the limit of 300 bytes" in too_large.message and "value_b64" in too_large.raw_payload
    assert (too_long.error_kind, too_long.event_id) == (FIELD_TOO_LONG, "long")


@pytest.mark.parametrize("wire_format", ["avro", "confluent"])
@pytest.mark.parametrize("field", ["created_at", "parent_created_at"])
def test_a_kafka_message_with_a_timestamp_out_of_range_is_a_bad_timestamp_as_in_a_file(wire_format, field):
    # An outside probe of the decoder: a file reads timestamps as the longs they are, and a long
    # past year 9999 is one BAD_TIMESTAMP naming its event; Kafka's decoder read them through
    # fastavro's timestamp-millis conversion, which raised, so the message was a PARSE_ERROR
    # ("not an EngagementEvent") without its event id.
    from schemas import wire
    from transforms.decode import decode_kafka_record
    from transforms.kafka_consumer import KafkaRecord

    fields = {field: 10 ** 18, **({"kind": "COMMENT", "parent_id": "p1"} if field == "parent_created_at" else {})}
    message = KafkaRecord("events", 0, 5, None, wire.encode(record(event_id="e-far", **fields), wire_format), T0)
    dead = decode_kafka_record(message)
    assert (dead.error_kind, dead.event_id, dead.origin) == (BAD_TIMESTAMP, "e-far", "kafka:events/0@5"), dead


def test_a_kafka_message_decodes_to_the_event_a_file_record_gives():
    from schemas import wire
    from transforms.decode import decode_kafka_record
    from transforms.event_records import plain_event
    from transforms.kafka_consumer import KafkaRecord

    fields = record(event_id="e1", kind="COMMENT", parent_id="p1", parent_created_at=T0 - 1000)
    for wire_format in wire.WIRE_FORMATS:
        event = decode_kafka_record(KafkaRecord("events", 0, 5, None, wire.encode(fields, wire_format), T0))
        # timestamps arrive as the longs they are, so the common record takes the cheap way a file's does
        assert plain_event(wire.decode(wire.encode(fields, wire_format)), "kafka:events/0@5", 256) == event


def community_records(count, bad_at):
    """``count`` records: threads of a post and three comments; record ``bad_at`` has a year-31 million time."""
    for n in range(count):
        thread, position = divmod(n, 4)
        fields = {"event_id": f"e{n}", "site": "s", "thread_id": f"t{thread}", "item_id": f"i{n}",
                  "actor_id": f"u{(thread + position) % 997}", "created_at": T0 + n * 1000,
                  "kind": "POST" if position == 0 else "COMMENT", "parent_id": None, "parent_actor_id": None,
                  "parent_created_at": None}
        if position:
            fields.update(parent_id=f"i{n - position}", parent_actor_id=f"u{thread % 997}")
        if n == bad_at:
            fields["created_at"] = 10 ** 18
        yield fields


@pytest.mark.slow
def test_one_malformed_record_among_many_costs_one_dead_letter(tmp_path):
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from warehouse import open_warehouse

    count, bad_at = 200_000, 100_000
    path = tmp_path / "many.avro"
    with path.open("wb") as out:
        fastavro.writer(out, engagement_event_schema(), community_records(count, bad_at), codec="deflate")
    warehouse = str(tmp_path / "w.duckdb")
    summary = run_scoring(ReadEventFiles([str(path)]), RunSettings(warehouse=warehouse))
    assert summary.records_in == count and summary.balanced
    assert summary.dead_letters == {BAD_TIMESTAMP: 1}
    assert summary.scored + summary.skipped_total + summary.duplicates == count - 1
    columns, rows = open_warehouse(warehouse).export("dead_letters")
    (dead,) = [dict(zip(columns, row)) for row in rows]
    assert (dead["origin"], dead["error_kind"], dead["event_id"]) == (f"{path}:{bad_at + 1}", BAD_TIMESTAMP, f"e{bad_at}")


def test_a_stream_dead_letters_an_event_older_than_it_remembers_and_a_bounded_read_takes_it():
    # A backfill read when the watermark is past created_at + the dedupe horizon: the stream has forgotten
    # its id and its window's panes, so it would be counted as scored while no row can show it.
    from schemas import wire
    from transforms.decode import decode_kafka_record
    from transforms.events import TOO_OLD
    from transforms.kafka_consumer import KafkaRecord

    ids, horizon = frozenset({wire.DEFAULT_SCHEMA_ID}), 3 * 86_400_000
    payload = wire.encode(record(event_id="old", created_at=T0))

    def read_at(watermark_ms):
        return decode_kafka_record(KafkaRecord("events", 2, 9, None, payload, T0, watermark_ms), ids,
                                   remembered_ms=horizon)

    too_old = read_at(T0 + horizon + 1)
    assert (too_old.error_kind, too_old.origin, too_old.event_id) == (TOO_OLD, "kafka:events/2@9", "old")
    assert "bounded run" in too_old.message and "--dedupe-horizon" in too_old.message
    assert read_at(T0 + horizon).event_id == "old"  # the last instant it is still remembered
    assert read_at(None).event_id == "old"  # no watermark yet
    bounded = decode_kafka_record(KafkaRecord("events", 2, 9, None, payload, T0, T0 + 10 * horizon), ids)
    assert bounded.event_id == "old"


def test_a_stream_marks_an_event_read_behind_its_watermark_with_that_watermark():
    # A backfill inside the horizon is scored; the watermark it was read at travels with it, so that a
    # window or a parent first seen through it counts its lateness from then (transforms/panes.py).
    from schemas import wire
    from transforms.decode import decode_kafka_record
    from transforms.dedupe import same_content
    from transforms.kafka_consumer import KafkaRecord

    ids, horizon = frozenset({wire.DEFAULT_SCHEMA_ID}), 3 * 86_400_000
    payload = wire.encode(record(event_id="backfilled", created_at=T0))

    def read_at(watermark_ms, remembered_ms=horizon):
        return decode_kafka_record(KafkaRecord("events", 2, 9, None, payload, T0, watermark_ms), ids,
                                   remembered_ms=remembered_ms)

    assert read_at(T0 + 86_400_000).read_watermark_ms == T0 + 86_400_000
    assert read_at(T0).read_watermark_ms is None and read_at(None).read_watermark_ms is None  # on time
    assert read_at(T0 + 86_400_000, remembered_ms=None).read_watermark_ms is None  # a bounded read
    # the same event delivered twice, read at two watermarks, is one event, not a conflicting duplicate
    assert same_content(read_at(T0 + 86_400_000), read_at(T0 + 2 * 86_400_000))
    assert "read_watermark_ms" not in read_at(T0 + 86_400_000).to_record()


def test_a_file_s_records_are_counted_in_the_decode_metrics(tmp_path):
    # Counted once per file (not per record): the totals are the same, dead letters by kind too.
    from apache_beam.metrics.metric import MetricsFilter

    records = list(community_records(50, bad_at=7))
    records[20]["actor_id"] = " "
    path = tmp_path / "counted.avro"
    with path.open("wb") as out:
        fastavro.writer(out, engagement_event_schema(), records)
    p = beam.Pipeline("FnApiRunner")
    decoded = p | ReadEventFiles([str(path)])
    assert_that(decoded.events | "CountEvents" >> beam.combiners.Count.Globally(), equal_to([48]))
    result = p.run()
    result.wait_until_finish()

    def counter(namespace, name):
        found = result.metrics().query(MetricsFilter().with_namespace(namespace).with_name(name))["counters"]
        return sum(c.committed for c in found)

    assert (counter("decode", "records_read"), counter("decode", "events_decoded"),
            counter("decode", "dead_lettered")) == (50, 48, 2)
    assert (counter("dead_letters", BAD_TIMESTAMP), counter("dead_letters", MISSING_FIELD)) == (1, 1)


def test_files_read_in_ranges_give_the_events_and_dead_letters_of_a_whole_read(tmp_path):
    # Issue 11: a big file was decoded by one worker; its ranges are now spread over the workers.
    from transforms.decode import iter_event_file
    from transforms.file_ranges import RangeSize, plan_ranges

    records = list(community_records(400, bad_at=123))
    records[77]["actor_id"] = " "
    avro, jsonl = tmp_path / "split.avro", tmp_path / "split.jsonl"
    with avro.open("wb") as out:
        fastavro.writer(out, engagement_event_schema(), records, codec="deflate", sync_interval=2000)
    write_events(jsonl, records)
    size = RangeSize(records=30, bytes=1 << 30)
    expected_events, expected_dead = [], []
    for path in (avro, jsonl):
        with open(path, "rb") as stream:
            assert len(plan_ranges(str(path), stream, size)) > 5
        with open(path, "rb") as stream:
            for item in iter_event_file(str(path), stream):
                if type(item).__name__ == "Event":
                    expected_events.append((item.event_id, item.origin))
                else:
                    expected_dead.append((item.origin, item.error_kind))
    assert len(expected_dead) == 4
    p = beam.Pipeline("FnApiRunner")
    decoded = p | ReadEventFiles([str(avro), str(jsonl), str(jsonl)], range_size=size)
    assert_that(decoded.events | beam.Map(lambda e: (e.event_id, e.origin)), equal_to(expected_events))
    assert_that(decoded.dead_letters | beam.Map(lambda d: (d.origin, d.error_kind)), equal_to(expected_dead),
                label="dead letters")
    result = p.run()
    result.wait_until_finish()
    from apache_beam.metrics.metric import MetricsFilter

    found = result.metrics().query(MetricsFilter().with_namespace("decode").with_name("records_read"))["counters"]
    assert sum(c.committed for c in found) == 800  # each file once, each range once
