"""The BigQuery warehouse through the google-cloud-bigquery client, against a local emulator."""
import pytest

from helpers import DAY_MS, E, score_row as row
from pipelines.cli import run_query
from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.synthetic import CommunitySpec, generate_community, write_community
from schemas import bigquery_fields
from transforms.decode import ReadEventFiles
from warehouse import open_warehouse

SMALL = CommunitySpec(seed=3, sites=1, authors_per_site=5, readers_per_site=30, planted_per_site=5, days=14)
DATASET_ROWS = [
    row("a1", "r", E, 0.4, days=3),
    row("a1", "r", E - 14 * DAY_MS, 0.6, days=2),
    row("a2", "r", E, 0.65),
    row("a3", "r", E, 0.0, ar=0),
    row("a4", "r", E, 5.0, site="other"),
    row("a1", "r2", E - 14 * DAY_MS, 0.1, days=5),
]


def test_tables_take_their_schema_partitioning_and_clustering_from_the_avro_schemas(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    scores = warehouse.client.get_table(warehouse.table_id("pair_scores"))
    assert [(f.name, f.field_type, f.mode) for f in scores.schema] == [
        (f["name"], f["type"], f["mode"]) for f in bigquery_fields("pair_scores")]
    assert scores.time_partitioning.field == "window_start" and scores.time_partitioning.type_ == "DAY"
    assert scores.clustering_fields == ["site", "author_id", "reader_id"]
    dead = warehouse.client.get_table(warehouse.table_id("dead_letters"))
    assert dead.time_partitioning.field == "arrived_at"


@pytest.mark.parametrize("name, params", [
    ("mentors", {"reader": "r", "site": "s", "top": 10, "half_life_days": 14.0}),
    ("mentors", {"reader": "r", "site": None, "top": 2, "half_life_days": 14.0}),
    ("regulars", {"author": "a1", "site": None, "top": 10, "half_life_days": 14.0}),
    ("pair", {"author": "a1", "reader": "r", "site": None}),
])
def test_every_analyst_query_gives_the_same_rows_in_both_warehouses(bigquery_url, warehouse_path, name, params):
    results = []
    for url in (bigquery_url, warehouse_path):
        warehouse = open_warehouse(url)
        warehouse.write_scores([dict(r) for r in DATASET_ROWS])
        columns, rows = warehouse.query(name, params)
        results.append((columns, [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]))
    assert results[0] == results[1] and results[0][1]


def test_the_latest_view_keeps_one_row_per_pair_and_window_through_panes_and_retries(bigquery_url):
    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([row("a", "r", E, 0.1, pane=0, timing="EARLY")])
    warehouse.write_scores([row("a", "r", E, 0.2, pane=1), row("a", "r", E, 0.3, pane=2, timing="LATE")])
    warehouse.write_scores([row("a", "r", E, 0.2, pane=1)])  # a retried insert of an older pane
    columns, rows = warehouse.query("pair", {"author": "a", "reader": "r", "site": None})
    assert [(r[columns.index("pane_timing")], r[columns.index("mentor_score")]) for r in rows] == [("LATE", 0.3)]
    assert warehouse.count("pair_scores") >= 3  # appended, never updated in place


def test_the_pipeline_writes_the_same_scores_to_bigquery_as_to_the_embedded_warehouse(bigquery_url, warehouse_path, tmp_path):
    community = generate_community(SMALL)
    events = tmp_path / "events.avro"
    write_community(community, events, tmp_path / "truth.jsonl")
    summaries = [run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=url)) for url in (bigquery_url, warehouse_path)]
    assert summaries[0].pair_score_rows == summaries[1].pair_score_rows > 50
    exported = [sorted(open_warehouse(url).export("pair_scores")[1]) for url in (bigquery_url, warehouse_path)]
    skip = {"computed_at", "run_started_at"}
    columns = open_warehouse(warehouse_path).export("pair_scores")[0]
    keep = [i for i, c in enumerate(columns) if c not in skip]
    as_rows = [[tuple(round(r[i], 9) if isinstance(r[i], float) else r[i] for i in keep) for r in rows] for rows in exported]
    assert as_rows[0] == as_rows[1]
    pair = community.planted_pairs[0]
    assert run_query(bigquery_url, "mentors", {"reader": pair["reader_id"], "site": pair["site"], "top": 3})[1]
    assert open_warehouse(bigquery_url).count("dead_letters") == summaries[0].dead_letters_total


def test_warehouse_init_and_query_from_the_command_line(bigquery_url, capsys):
    from pipelines.cli import main

    assert main(["warehouse", "init", "--warehouse", bigquery_url]) == 0
    assert "pair_scores_latest" in capsys.readouterr().out
    open_warehouse(bigquery_url).write_scores([dict(r) for r in DATASET_ROWS])
    assert main(["query", "mentors", "--reader", "r", "--site", "s", "--warehouse", bigquery_url, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("site,author_id,strength") and lines[1].startswith("s,a1,0.7")
