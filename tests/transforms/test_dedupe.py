"""Dedupe by event_id: the first copy delivered wins; a reused id with other content is a dead letter."""
import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from helpers import DAY_MS, HOUR_MS, T0, event
from pipelines.settings import RunSettings
from transforms.dedupe import DedupeEvents, origin_order
from transforms.events import CONFLICTING_DUPLICATE

GENUINE = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p1")._replace(origin="events.jsonl:9")


def run_batch(events):
    with beam.Pipeline("FnApiRunner") as p:
        yield p | beam.Create(events) | DedupeEvents()


def test_origins_sort_as_delivered_numbers_as_numbers():
    assert origin_order("f.avro:9") < origin_order("f.avro:10")
    assert origin_order("kafka:t/1@9") < origin_order("kafka:t/1@10")


@pytest.mark.parametrize("origin", [
    "f.avro:9", "f.avro:10", "/d/file9:10", "C:\\x:7", "a:b:0012", "f:", ":5", "5", "f.avro", "f.avro:1²",
    "f.avro:١٢", "f:12a", "f:+3", "f:-3", "f: 3", "kafka:t/1@20", "kafka:t:1@20", "kafka:t/1@", "x@3", "", "f:3@4",
    "gs://bucket/a:b/events.avro:123456789012345678901234567890",
])
def test_an_origin_sorts_as_the_full_pattern_reads_it(origin):
    # file origins take a cheaper way than the regex; the order must be the regex's, whatever the origin
    from transforms.dedupe import _POSITION

    match = _POSITION.match(origin)
    expected = (origin, -1, -1) if not match else (
        match.group(1), int(match.group(2)), -1 if match.group(3) is None else int(match.group(3)))
    assert origin_order(origin) == expected


def test_a_re_delivery_is_a_duplicate_and_the_first_copy_is_kept():
    again = GENUINE._replace(origin="events.jsonl:40")
    for out in run_batch([again, GENUINE]):
        assert_that(out.events | beam.Map(lambda e: e.origin), equal_to(["events.jsonl:9"]))
        assert_that(out.duplicates | beam.Map(lambda e: e.origin), equal_to(["events.jsonl:40"]), label="dups")
        assert_that(out.dead_letters, equal_to([]), label="no dead letters")


def test_a_forged_copy_with_an_earlier_time_does_not_replace_the_genuine_event():
    # Before: the copy with the earliest created_at won, so a later record reusing a genuine id with an
    # earlier time silently replaced the genuine comment.
    forged = GENUINE._replace(actor_id="impostor", created_at=T0, origin="events.jsonl:50")
    for out in run_batch([forged, GENUINE]):
        assert_that(out.events | beam.Map(lambda e: e.actor_id), equal_to(["reader"]))
        assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.origin, "events.jsonl:9" in d.message)),
                    equal_to([(CONFLICTING_DUPLICATE, "events.jsonl:50", True)]), label="reported")


def test_the_same_id_in_another_thread_or_site_is_still_a_duplicate():
    moved = GENUINE._replace(thread_id="t2", origin="events.jsonl:60")
    elsewhere = GENUINE._replace(site="other", origin="events.jsonl:70")
    for out in run_batch([GENUINE, moved, elsewhere]):
        assert_that(out.events | beam.combiners.Count.Globally(), equal_to([1]))
        assert_that(out.dead_letters | beam.Map(lambda d: d.error_kind),
                    equal_to([CONFLICTING_DUPLICATE, CONFLICTING_DUPLICATE]), label="both reported")


def test_a_dedupe_horizon_shorter_than_window_plus_lateness_is_refused():
    with pytest.raises(ValueError, match="dedupe-horizon"):
        RunSettings(warehouse="w", window_s=7 * 86400, allowed_lateness_s=2 * 86400, dedupe_horizon_s=7 * 86400,
                    streaming=True)


def test_streaming_keeps_the_first_copy_until_the_horizon_passes():
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    at = GENUINE.created_at / 1000
    stream = (
        TestStream()
        .add_elements([TimestampedValue(GENUINE, at)])
        .advance_watermark_to(at + 3600)
        .add_elements([TimestampedValue(GENUINE._replace(origin="kafka:t/0@7"), at)])  # within the horizon
        .advance_watermark_to(at + 3 * DAY_MS / 1000)  # past the 2-day horizon: forgotten
        .add_elements([TimestampedValue(GENUINE._replace(origin="kafka:t/0@9"), at)])
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        out = p | stream | DedupeEvents(streaming=True, dedupe_horizon_s=2 * 86400)
        assert_that(out.events | beam.Map(lambda e: e.origin), equal_to(["events.jsonl:9", "kafka:t/0@9"]))
        assert_that(out.duplicates | beam.Map(lambda e: e.origin), equal_to(["kafka:t/0@7"]), label="dups")


def test_copies_in_different_kafka_partitions_say_that_another_run_may_keep_the_other_one():
    """Kafka orders records within a partition only: a bounded run keeps the lower (partition,
    offset), a stream the copy it read first. The dead letter says so, and how to avoid it."""
    from transforms.dedupe import conflicting_duplicate

    kept = event("c1", "COMMENT", "reader", T0, "p1")._replace(origin="kafka:events/0@7")
    forged = kept._replace(actor_id="forger", origin="kafka:events/2@3")
    message = conflicting_duplicate(kept, forged).message
    assert "in different partitions" in message and "may keep the other copy" in message
    assert "key messages by" in message
    same_partition = conflicting_duplicate(kept, forged._replace(origin="kafka:events/0@9")).message
    in_files = conflicting_duplicate(kept._replace(origin="a.jsonl:1"), forged._replace(origin="b.jsonl:1")).message
    assert "partition" not in same_partition and "partition" not in in_files
