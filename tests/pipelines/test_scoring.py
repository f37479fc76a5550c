"""End to end on the local runners: synthetic community in, warehouse rows and accounting out."""
import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from pipelines.cli import run_query
from pipelines.scoring import build_scoring_pipeline, run_scoring
from pipelines.settings import RunSettings
from producers.synthetic import CommunitySpec, generate_community, write_community
from transforms.decode import ReadEventFiles
from transforms.events import event_from_record
from warehouse import open_warehouse

SCORE_COLUMNS = ("site", "author_id", "reader_id", "window_start", "reader_comments", "author_replies",
                 "reader_active_days", "reply_latency_p50_s", "reply_rate", "reciprocity", "mentor_score",
                 "first_interaction_at", "last_interaction_at")


def scores_of(warehouse_url):
    columns, rows = open_warehouse(warehouse_url).export("pair_scores")
    picked = [columns.index(c) for c in SCORE_COLUMNS]
    return sorted(tuple(r[i] for i in picked) for r in rows)


@pytest.fixture(scope="module")
def community(tmp_path_factory):
    folder = tmp_path_factory.mktemp("community")
    community = generate_community(CommunitySpec(seed=11, invalid_rate=0.003))
    write_community(community, folder / "events.avro", folder / "truth.jsonl")
    return community, folder / "events.avro"


@pytest.fixture(scope="module")
def batch_run(community, tmp_path_factory):
    _, events_path = community
    warehouse = str(tmp_path_factory.mktemp("wh") / "batch.duckdb")
    summary = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=warehouse))
    return summary, warehouse


def test_the_planted_mentor_ranks_first_for_nearly_every_planted_reader(community, batch_run):
    generated, _ = community
    _, warehouse = batch_run
    hits = 0
    for pair in generated.planted_pairs:
        columns, rows = run_query(warehouse, "mentors", {"reader": pair["reader_id"], "site": pair["site"], "top": 1})
        hits += bool(rows) and rows[0][columns.index("author_id")] == pair["author_id"]
    assert hits / len(generated.planted_pairs) >= 0.95


def test_every_record_is_accounted_for(community, batch_run):
    generated, _ = community
    summary, warehouse = batch_run
    assert summary.records_in == len(generated.events)
    assert summary.duplicates == generated.duplicate_count
    assert summary.balanced
    decode_dead = sum(v for k, v in summary.dead_letters.items() if k != "PARENT_UNRESOLVED")
    assert decode_dead == generated.invalid_count > 0
    assert summary.dead_letters.get("PARENT_UNRESOLVED", 0) > 0  # the generator plants orphans
    assert open_warehouse(warehouse).count("dead_letters") == summary.dead_letters_total
    assert open_warehouse(warehouse).count("pair_scores") == summary.pair_score_rows
    assert "balanced" in summary.render()


def test_replaying_the_same_input_changes_nothing(community, batch_run):
    _, events_path = community
    summary, warehouse = batch_run
    before = scores_of(warehouse)
    again = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=warehouse))
    assert again.scored == summary.scored
    assert scores_of(warehouse) == before
    assert open_warehouse(warehouse).count("dead_letters") == summary.dead_letters_total


def test_the_same_events_twice_count_each_event_once(community, tmp_path):
    _, events_path = community
    copy = tmp_path / "copy.avro"  # a copy: the same file named twice is read once (tests/transforms/test_decode.py)
    copy.write_bytes(events_path.read_bytes())
    once = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=str(tmp_path / "a.duckdb")))
    twice = run_scoring(ReadEventFiles([str(events_path), str(copy)]), RunSettings(warehouse=str(tmp_path / "b.duckdb")))
    assert twice.records_in == 2 * once.records_in
    assert twice.scored == once.scored
    assert scores_of(str(tmp_path / "a.duckdb")) == scores_of(str(tmp_path / "b.duckdb"))


@pytest.mark.slow
def test_streaming_gives_the_batch_scores_when_nothing_is_late(tmp_path):
    generated = generate_community(CommunitySpec(seed=5, sites=1, authors_per_site=6, readers_per_site=50,
                                                 planted_per_site=8, days=10))
    batch_file = tmp_path / "events.avro"
    write_community(generated, batch_file, tmp_path / "truth.jsonl")
    batch_wh, stream_wh = str(tmp_path / "batch.duckdb"), str(tmp_path / "stream.duckdb")
    run_scoring(ReadEventFiles([str(batch_file)]), RunSettings(warehouse=batch_wh))

    events = [event_from_record(r, f"stream:{i}") for i, r in enumerate(generated.events) if not r["event_id"].startswith("bad:")]
    stream = TestStream()
    burst = 400
    for start in range(0, len(events), burst):
        chunk = events[start:start + burst]
        stream = stream.add_elements([TimestampedValue(e, e.created_at / 1000) for e in chunk])
        remaining = events[start + burst:]
        if remaining:  # the watermark never passes an event still to come: nothing is late
            stream = stream.advance_watermark_to(min(e.created_at for e in remaining) / 1000)
    stream = stream.advance_watermark_to_infinity()

    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    settings = RunSettings(warehouse=stream_wh, streaming=True, early_firing_s=None)
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        build_scoring_pipeline(p | stream, p | "NoDecodeErrors" >> beam.Create([]), settings)
    assert scores_of(stream_wh) == scores_of(batch_wh)
    assert len(scores_of(batch_wh)) > 50


def test_the_summary_names_refused_rows_apart_from_the_balance_of_records():
    from pipelines.scoring import RunSummary

    summary = RunSummary(records_in=10, scored=8, skipped={"post": 2}, duplicates=0, dead_letters={},
                         pair_score_rows=12, seconds=1.0, warehouse="bigquery://p/d", refused_rows=3)
    text = summary.render()
    assert summary.balanced and "accounting      balanced" in text
    assert "refused rows               3" in text and "WAREHOUSE_REFUSED" in text
    assert "refused rows" not in RunSummary(10, 8, {"post": 2}, 0, {}, 12, 1.0, "w").render()
