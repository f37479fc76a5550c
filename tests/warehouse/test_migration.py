"""`warehouse migrate` and the schema version check, from a warehouse the previous release wrote.

The previous release's schema is checked in under fixtures/schema_v1 (``git show 837bc8c:schemas/...``):
its tables, its latest view, no version record.
"""
import json
from pathlib import Path

import duckdb
import pytest
import sqlglot

import schemas
from helpers import E, T0, score_row
from pipelines.cli import main
from producers.synthetic import CommunitySpec, generate_community, write_community
from schemas import versions
from warehouse import open_warehouse

V1 = Path(__file__).parent / "fixtures" / "schema_v1"
TINY = CommunitySpec(seed=5, sites=1, authors_per_site=3, readers_per_site=8, planted_per_site=2, days=4)


def _fields(schema: dict) -> list[tuple[str, str, str, bool]]:
    """(name, DuckDB type, BigQuery type, nullable) of each field of an Avro table schema."""
    return [(f["name"], *schemas.column_types(f["type"])) for f in schema["fields"]]


def _old_row(schema: dict, row: dict) -> dict:
    return {name: row.get(name) for name, *_ in _fields(schema)}


def build_duckdb(path: str, table_schemas: dict[str, dict], view_sql: str, rows: dict[str, list[dict]]) -> None:
    """A DuckDB warehouse as a release with ``table_schemas`` wrote it: its tables, view and rows."""
    with duckdb.connect(path) as connection:
        for table, schema in table_schemas.items():
            columns = [f"{n} {duck}{'' if nullable else ' NOT NULL'}" for n, duck, _, nullable in _fields(schema)]
            key = schema.get("x-primary-key")
            columns += [f"PRIMARY KEY ({', '.join(key)})"] if key else []
            connection.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
            stamps = {f["name"] for f in schema["fields"] if "timestamp" in json.dumps(f["type"])}
            for row in rows.get(table, []):
                old = _old_row(schema, row)
                values = ", ".join("make_timestamp(?::BIGINT * 1000)" if c in stamps else "?" for c in old)
                connection.execute(f"INSERT INTO {table} ({', '.join(old)}) VALUES ({values})", list(old.values()))
        connection.execute(sqlglot.transpile(view_sql, read="bigquery", write="duckdb")[0])


def build_bigquery(url: str, table_schemas: dict[str, dict], view_sql: str, rows: dict[str, list[dict]]) -> None:
    from google.cloud import bigquery

    warehouse = open_warehouse(url)
    client = warehouse.client
    client.create_dataset(bigquery.Dataset(f"{warehouse.project}.{warehouse.dataset}"), exists_ok=True)
    for table, schema in table_schemas.items():
        fields = [bigquery.SchemaField(n, bq, mode="NULLABLE" if nullable else "REQUIRED")
                  for n, _, bq, nullable in _fields(schema)]
        client.create_table(bigquery.Table(warehouse.table_id(table), schema=fields))
        payload = warehouse._payload(table, [_old_row(schema, r) for r in rows.get(table, [])])
        if payload:
            assert client.insert_rows_json(warehouse.table_id(table), payload) == []
    client.query(view_sql.replace("FROM pair_scores", f"FROM `{warehouse.table_id('pair_scores')}`")
                 .replace("VIEW pair_scores_latest", f"VIEW `{warehouse.table_id('pair_scores_latest')}`")).result()


OLD_ROWS = {
    "pair_scores": [score_row("a", "r", E, 0.25), score_row("a", "r2", E, 0.5, pane=1)],
    "dead_letters": [{"origin": "old.jsonl:3", "error_kind": "BAD_TIMESTAMP", "message": "m", "event_id": "e3",
                      "raw_payload": "{}", "arrived_at": E, "run_started_at": E}],
}


def v1_schemas() -> tuple[dict[str, dict], str]:
    tables = {t: json.loads((V1 / f"{t}.avsc").read_text()) for t in ("pair_scores", "dead_letters")}
    return tables, (V1 / "pair_scores_latest.sql").read_text()


@pytest.fixture(params=["duckdb", "bigquery"])
def old_warehouse(request, tmp_path):
    """A warehouse written by the previous release (837bc8c), with a few rows."""
    tables, view = v1_schemas()
    if request.param == "duckdb":
        url = str(tmp_path / "old.duckdb")
        build_duckdb(url, tables, view, OLD_ROWS)
    else:
        url = request.getfixturevalue("empty_bigquery_url")
        build_bigquery(url, tables, view, OLD_ROWS)
    return url


def _events(tmp_path) -> str:
    events = tmp_path / "events.avro"
    write_community(generate_community(TINY), events, tmp_path / "truth.jsonl")
    return str(events)


def test_a_run_against_the_previous_release_s_warehouse_stops_and_migrate_brings_it_up_to_date(
        old_warehouse, tmp_path, capsys):
    events = _events(tmp_path)
    assert main(["run", "--input", events, "--warehouse", old_warehouse]) == 2
    err = capsys.readouterr().err
    assert f"social-mentors warehouse migrate --warehouse {old_warehouse}" in err and "schema version" in err

    assert main(["warehouse", "migrate", "--warehouse", old_warehouse]) == 0
    out = capsys.readouterr().out
    assert f"at schema version {versions.WAREHOUSE_SCHEMA_VERSION}" in out
    warehouse = open_warehouse(old_warehouse)
    assert warehouse.recorded_version() == (versions.WAREHOUSE_SCHEMA_VERSION, versions.fingerprint())
    columns, rows = warehouse.export("pair_scores")
    assert columns == schemas.field_names("pair_scores")
    assert sorted((r[1], r[2]) for r in rows) == [("a", "r"), ("a", "r2")]  # old rows kept
    # dead_letters gained a required run column (and, in DuckDB, a wider primary key): the old row
    # cannot be converted. BigQuery keeps it with no run; DuckDB keeps it aside. Either way it is said.
    if old_warehouse.startswith("bigquery://"):
        assert "dead_letters.run_started_at: the 1 rows written before have no value" in out
        assert warehouse.count("dead_letters") == 1
    else:
        assert "1 old rows that could not be converted are kept in dead_letters_before_v1" in out
        with duckdb.connect(old_warehouse) as connection:
            assert connection.execute("SELECT origin FROM dead_letters_before_v1").fetchall() == [("old.jsonl:3",)]
    assert f"social-mentors run --input EVENTS --warehouse {old_warehouse}" in out

    assert main(["run", "--input", events, "--warehouse", old_warehouse]) == 0  # runs again
    assert warehouse.count("pair_scores") > 2


def test_migrate_adds_missing_columns_and_says_which_old_rows_have_no_value(tmp_path, request, capsys):
    # A warehouse one schema change behind: pair_scores without reply_rate (nullable) and
    # reader_active_days (required: old rows cannot have it).
    current = json.loads((schemas.SCHEMA_DIR / "pair_scores.avsc").read_text())
    older = dict(current, fields=[f for f in current["fields"] if f["name"] not in ("reply_rate", "reader_active_days")])
    tables = {"pair_scores": older, "dead_letters": schemas.avro_schema("dead_letters")}
    view = (V1 / "pair_scores_latest.sql").read_text()
    for url in (str(tmp_path / "behind.duckdb"), request.getfixturevalue("empty_bigquery_url")):
        (build_bigquery if url.startswith("bigquery://") else build_duckdb)(url, tables, view, OLD_ROWS)
        assert main(["warehouse", "migrate", "--warehouse", url]) == 0
        out = capsys.readouterr().out
        assert "pair_scores.reader_active_days: the 2 rows written before have no value" in out
        assert f"social-mentors run --input EVENTS --warehouse {url}" in out
        assert "reply_rate" not in out  # nullable: nothing to say
        warehouse = open_warehouse(url)
        columns, rows = warehouse.export("pair_scores")
        assert set(columns) == set(schemas.field_names("pair_scores")) and len(list(rows)) == 2
        warehouse.write_scores([score_row("b", "r", E, 0.75)])  # the migrated table takes new rows
        assert warehouse.count("pair_scores") == 3
        warehouse.prepare()  # a run's launch check passes


def test_a_warehouse_of_a_newer_release_is_refused(warehouse_path):
    warehouse = open_warehouse(warehouse_path)
    with duckdb.connect(warehouse_path) as connection:
        connection.execute(f"INSERT INTO {versions.VERSION_TABLE} VALUES (99, 'x', now()::TIMESTAMP, 'future')")
    with pytest.raises(versions.WarehouseOutdated, match="newer than this release"):
        warehouse.prepare()
    # migrate took it back to this release's version (an outside probe): refused the same way
    with pytest.raises(versions.WarehouseOutdated, match="newer than this release"):
        warehouse.migrate()
    with duckdb.connect(warehouse_path) as connection:
        assert connection.execute(f"SELECT max(version) FROM {versions.VERSION_TABLE}").fetchone()[0] == 99
        assert connection.execute(f"SELECT count(*) FROM {versions.VERSION_TABLE}").fetchone()[0] == 2


def test_a_recompute_after_migrate_replaces_old_rows_that_have_no_run(tmp_path, capsys):
    # rows of a release that wrote no run_started_at: every comparison with their NULL run was NULL, so
    # the recompute that migrate asks for wrote nothing over them (an outside probe: "pair rows 0")
    tables, view = v1_schemas()
    url = str(tmp_path / "old.duckdb")
    build_duckdb(url, tables, view, OLD_ROWS)
    assert main(["warehouse", "migrate", "--warehouse", url]) == 0
    with duckdb.connect(url) as connection:  # as migrate leaves a column an older release did not write
        connection.execute("ALTER TABLE pair_scores ALTER COLUMN run_started_at DROP NOT NULL")
        connection.execute("UPDATE pair_scores SET run_started_at = NULL")
    warehouse = open_warehouse(url)
    warehouse.write_scores([score_row("a", "r", E, 0.75, run=T0 + 1)])  # the same pair, window and counts
    columns, rows = warehouse.export("pair_scores")
    recomputed = dict(zip(columns, next(r for r in rows if (r[1], r[2]) == ("a", "r"))))
    assert recomputed["mentor_score"] == 0.75 and recomputed["run_started_at"] is not None


def test_a_migrate_that_fails_half_way_changes_nothing(tmp_path, capsys):
    # the table it keeps old rows aside in already exists: it failed after dropping the views and
    # creating runs and run_ledger, leaving a warehouse that was neither schema (an outside probe)
    tables, view = v1_schemas()
    url = str(tmp_path / "old.duckdb")
    build_duckdb(url, tables, view, OLD_ROWS)
    with duckdb.connect(url) as connection:
        connection.execute("CREATE TABLE dead_letters_before_v1 (x INTEGER)")
        before = sorted(connection.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert main(["warehouse", "migrate", "--warehouse", url]) == 2
    assert "dead_letters_before_v1" in capsys.readouterr().err
    with duckdb.connect(url) as connection:
        after = sorted(connection.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert after == before and ("pair_scores_latest", "VIEW") in after
