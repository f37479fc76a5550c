"""The Storage Write API (``--bigquery-write storage``) against local-bigquery's gRPC emulation of it."""
import pytest

from helpers import E, score_row as row
from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.synthetic import CommunitySpec, generate_community, write_community
from transforms.decode import ReadEventFiles
from warehouse import open_warehouse
from warehouse.bigquery_storage import StorageWriter

SMALL = CommunitySpec(seed=3, sites=1, authors_per_site=5, readers_per_site=30, planted_per_site=5, days=14)


def _storage_warehouse(url):
    warehouse = open_warehouse(url)
    warehouse.row_writes = "storage"
    return warehouse


def test_rows_appended_to_the_default_stream_read_back_as_written(bigquery_url):
    warehouse = _storage_warehouse(bigquery_url)
    rows = [row("a", "r", E, 0.12345678901234567), row("b", "r", E, 0.5, ar=0)]
    rows[1]["reply_latency_p50_s"] = rows[1]["reply_rate"] = None
    assert warehouse.write_scores([dict(r) for r in rows]).refused == []
    columns, stored = warehouse.export("pair_scores")
    by_author = {r[columns.index("author_id")]: dict(zip(columns, r)) for r in stored}
    assert by_author["a"]["mentor_score"] == 0.12345678901234567
    assert by_author["b"]["reply_rate"] is None and by_author["b"]["window_end"].timestamp() * 1000 == E
    assert not [job for job in warehouse.client.list_jobs()
                if job.job_type == "load" and job.destination.dataset_id == warehouse.dataset]


def test_a_row_bigquery_refuses_comes_back_with_its_reason_and_the_rest_are_stored(bigquery_url):
    warehouse = _storage_warehouse(bigquery_url)
    missing = row("a", "r-missing", E, 0.2)
    missing["reader_comments"] = None  # required: BigQuery's per-row error
    wrong_type = row("a", "r-type", E, 0.2)
    wrong_type["reader_comments"] = "many"  # cannot be encoded: refused before sending
    refused = warehouse.write_scores([row("a", "r-ok", E, 0.1), missing, wrong_type, row("a", "r-ok2", E, 0.1)]).refused
    assert sorted(r.row["reader_id"] for r in refused) == ["r-missing", "r-type"]
    assert all("reader_comments" in r.reason or "many" in r.reason for r in refused)
    assert sorted(r[2] for r in warehouse.export("pair_scores")[1]) == ["r-ok", "r-ok2"]


def test_a_committed_stream_stores_a_retried_append_at_the_same_offset_once(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    writer = StorageWriter(warehouse.project, warehouse.dataset)
    stream = writer.create_committed_stream("pair_scores")
    first = [row("a", f"r{i}", E, 0.1) for i in range(3)]
    assert writer.append_committed(stream, "pair_scores", first, offset=0) == ([], False)
    assert writer.append_committed(stream, "pair_scores", first, offset=0) == ([], True)  # the retry
    assert writer.append_committed(stream, "pair_scores", [row("b", "r", E, 0.1)], offset=3) == ([], False)
    assert warehouse.count("pair_scores", all_rows=True) == 4
    with pytest.raises(RuntimeError, match="beyond the end"):
        writer.append_committed(stream, "pair_scores", [row("c", "r", E, 0.1)], offset=9)


def test_a_run_with_bigquery_write_storage_stores_what_the_embedded_warehouse_stores(
        bigquery_url, warehouse_path, tmp_path):
    events = tmp_path / "events.avro"
    write_community(generate_community(SMALL), events, tmp_path / "truth.jsonl")
    summaries = [run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=url, bigquery_write="storage"))
                 for url in (bigquery_url, warehouse_path)]
    assert summaries[0].pair_score_rows == summaries[1].pair_score_rows > 50 and summaries[0].refused_rows == 0
    skip = {"computed_at", "run_started_at"}
    exported = []
    for url in (bigquery_url, warehouse_path):
        columns, rows = open_warehouse(url).export("pair_scores")
        exported.append(sorted(tuple(v for c, v in zip(columns, r) if c not in skip) for r in rows))
    assert exported[0] == exported[1]
    assert open_warehouse(bigquery_url).count("dead_letters") == summaries[0].dead_letters_total
