import json

import pytest
from kafka import KafkaConsumer, TopicPartition

from importers.core import Converted, Pseudonymizer, Skipped, event, run_import
from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from transforms.decode import ReadEventFiles
import datetime as dt

T = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def sample():
    yield event("POST", "s", "t", "p", "alice@example.com", T)
    yield Skipped("deleted_user", "x:2")
    yield event("COMMENT", "s", "t", "c", "bob@example.com", T + dt.timedelta(hours=1), "p", "alice@example.com", T)
    yield Converted({"event_id": "s:bad", "kind": "COMMENT", "site": "s", "thread_id": "t", "item_id": "bad",
                     "parent_id": None, "actor_id": "x", "parent_actor_id": None, "created_at": 1, "parent_created_at": None})


def test_the_count_an_import_reports_is_what_lands_in_the_file_and_what_the_pipeline_reads(tmp_path, warehouse_path):
    summary = run_import(sample(), f"jsonl:{tmp_path / 'events.jsonl'}", progress=None)
    assert (summary.read, summary.converted, summary.skipped_total) == (4, 2, 2)
    assert summary.skipped == {"deleted_user": 1, "invalid_missing_parent": 1}
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == summary.converted
    run = run_scoring(ReadEventFiles([str(tmp_path / "events.jsonl")]), RunSettings(warehouse=warehouse_path))
    assert run.records_in == summary.converted and run.scored == 1 and run.dead_letters_total == 0


def test_pseudonymization_is_keyed_stable_and_hides_raw_ids(tmp_path):
    k1, k2 = b"first-key-16byte", b"other-key-16byte"
    run_import(sample(), f"jsonl:{tmp_path / 'a.jsonl'}", pseudonymize_key=k1, progress=None)
    run_import(sample(), f"jsonl:{tmp_path / 'b.jsonl'}", pseudonymize_key=k1, progress=None)
    run_import(sample(), f"jsonl:{tmp_path / 'c.jsonl'}", pseudonymize_key=k2, progress=None)
    a, b, c = ((tmp_path / n).read_text() for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    assert a == b and a != c and "example.com" not in a
    records = [json.loads(line) for line in a.splitlines()]
    assert records[1]["parent_actor_id"] == records[0]["actor_id"]  # the pair survives the hashing
    assert records[1]["parent_id"] == records[0]["item_id"] != "p"  # so does the thread
    assert Pseudonymizer(k1).actor("alice@example.com").startswith("u:")


def test_avro_target_and_bad_targets(tmp_path):
    summary = run_import(sample(), f"avro:{tmp_path / 'e.avro'}", progress=None)
    assert summary.converted == 2
    with pytest.raises(ValueError, match="kafka://HOST:PORT/TOPIC"):
        run_import(sample(), "s3://bucket/x", progress=None)


def test_importing_straight_to_kafka(kafka_broker, topic):
    summary = run_import(sample(), f"kafka://{kafka_broker.bootstrap}/{topic}", progress=None)
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    assert sum(consumer.end_offsets(tps).values()) == summary.converted == 2
    consumer.close()


def test_an_event_the_pipeline_would_refuse_is_a_skip_whose_origin_is_its_file_and_line(tmp_path):
    from importers.reddit import import_reddit

    dump = tmp_path / "dump.ndjson"
    dump.write_text("\n".join(json.dumps(r) for r in [
        {"id": "s1", "author": "op", "created_utc": 1420452000, "subreddit": "learnpython"},
        {"id": "k1" + "i" * 600, "parent_id": "t3_s1", "link_id": "t3_s1", "author": "a", "created_utc": 1420455600,
         "subreddit": "learnpython"},  # an item id past the pipeline's 512 characters (authors: importers.ids)
    ]) + "\n")
    summary = run_import(import_reddit([dump]), f"jsonl:{tmp_path / 'events.jsonl'}", progress=None)
    assert summary.skipped == {"invalid_field_too_long": 1}
    assert summary.examples["invalid_field_too_long"].startswith("dump.ndjson:2 "), summary.examples
    assert "k1" not in summary.examples["invalid_field_too_long"]  # no item id: it may be a person's
