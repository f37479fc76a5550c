"""`warehouse migrate` and the schema version check, from a warehouse the previous release wrote.

The previous release's schema is checked in under fixtures/schema_v1 (``git show 837bc8c:schemas/...``):
its tables, its latest view, no version record.
"""
import datetime as dt
import json
import re
import shlex
from pathlib import Path

import duckdb
import pytest
import sqlglot

import schemas
from helpers import DAY_MS, E, T0, score_row
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


# A version a test's warehouse records (None: release 1, which recorded none): a warehouse one schema
# change behind, not release 1 (whose pair rows migrate keeps aside whole).
BEHIND = 2
VERSION_ROW = "INSERT INTO {table} (version, fingerprint, recorded_at, note) VALUES ({version}, 'older', CURRENT_TIMESTAMP, 'test')"


def build_duckdb(path: str, table_schemas: dict[str, dict], view_sql: str, rows: dict[str, list[dict]],
                 version: int | None = None) -> None:
    """A DuckDB warehouse as a release with ``table_schemas`` wrote it: its tables, view and rows."""
    with duckdb.connect(path) as connection:
        if version is not None:
            connection.execute(f"CREATE TABLE {versions.VERSION_TABLE} ({', '.join(f'{n} {d}' for n, d, _ in versions.VERSION_COLUMNS)})")
            connection.execute(VERSION_ROW.format(table=versions.VERSION_TABLE, version=version))
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


def build_bigquery(url: str, table_schemas: dict[str, dict], view_sql: str, rows: dict[str, list[dict]],
                   version: int | None = None) -> None:
    from google.cloud import bigquery

    warehouse = open_warehouse(url)
    client = warehouse.client
    client.create_dataset(bigquery.Dataset(f"{warehouse.project}.{warehouse.dataset}"), exists_ok=True)
    if version is not None:
        table = warehouse.table_id(versions.VERSION_TABLE)
        client.create_table(bigquery.Table(table, schema=[bigquery.SchemaField(n, bq) for n, _, bq in versions.VERSION_COLUMNS]))
        client.query(VERSION_ROW.format(table=f"`{table}`", version=version)).result()
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
    # release 1's pair rows (daily windows, another definition) cannot be converted: kept aside whole
    assert warehouse.count("pair_scores", all_rows=True) == 0
    assert ("pair_scores: its 2 old rows were computed by release 1's definition of what a mentor is" in out
            and "kept whole in pair_scores_before_v1, and pair_scores starts empty" in out)
    # dead_letters gained a required run column that release 1 did not record: both warehouses keep
    # the old row, visible, with the stated placeholder run (DuckDB cannot hold NULL in its key)
    assert ("dead_letters.run_started_at: the 1 rows written before have none (the release that wrote them did not "
            "record it); they are kept, with 1970-01-01 00:00:00") in out
    assert warehouse.count("dead_letters") == 1
    assert f"social-mentors run --input EVENTS --warehouse {old_warehouse}" in out

    assert main(["run", "--input", events, "--warehouse", old_warehouse]) == 0  # this release's window length
    assert warehouse.count("pair_scores") > 2


def _command_output(argv: list[str], capsys) -> list[str]:
    """A reading command's output lines, wall-clock values blanked, sorted."""
    capsys.readouterr()
    assert main(argv) == 0, argv
    lines = capsys.readouterr().out.splitlines()
    return sorted(re.sub(r'"(computed_at|run_started_at|arrived_at)": "[^"]*"', r'"\1": "*"', line) for line in lines)


def test_release_1_pair_rows_are_kept_aside_and_the_printed_recompute_gives_what_a_fresh_warehouse_holds(
        old_warehouse, tmp_path, capsys):
    # an outside probe: the old rows stayed in pair_scores, the printed recompute was refused (release 1
    # wrote daily windows), and with --window 1d the old rows stayed beside the new ones
    events = _events(tmp_path)
    assert main(["warehouse", "migrate", "--warehouse", old_warehouse]) == 0
    out = capsys.readouterr().out
    assert "pair_scores: its 2 old rows" in out and "cannot be converted" in out
    (command,) = re.findall(r"pair_scores starts empty\. Recompute it: `([^`]*)`", out)
    argv = shlex.split(command.replace("EVENTS", events))
    assert argv[0] == "social-mentors"
    assert main(argv[1:]) == 0, capsys.readouterr().err  # run accepts the command as printed
    fresh = (str(tmp_path / "fresh.duckdb") if not old_warehouse.startswith("bigquery://")
             else old_warehouse + "_fresh")
    try:
        assert main(["run", "--input", events, "--warehouse", fresh]) == 0
        for reader in (["export", "pair_scores", "--format", "jsonl"], ["query", "top", "--format", "jsonl"]):
            migrated = _command_output([*reader, "--warehouse", old_warehouse], capsys)
            assert migrated == _command_output([*reader, "--warehouse", fresh], capsys), reader
            assert migrated and (reader[0] != "export" or len(migrated) > 2)
    finally:
        if fresh.startswith("bigquery://"):
            warehouse = open_warehouse(fresh)
            warehouse.client.delete_dataset(f"{warehouse.project}.{warehouse.dataset}", delete_contents=True,
                                            not_found_ok=True)
    # the old rows are where the note says, whole
    assert main(["sql", "SELECT reader_id, mentor_score FROM pair_scores_before_v1 ORDER BY reader_id",
                 "--format", "csv", "--warehouse", old_warehouse]) == 0
    assert capsys.readouterr().out.splitlines() == ["reader_id,mentor_score", "r,0.25", "r2,0.5"]


def test_the_same_release_1_warehouse_migrated_on_both_warehouses_exports_the_same_dead_letters(
        tmp_path, empty_bigquery_url, capsys):
    # an outside probe: DuckDB moved release 1's dead letters aside (export: none) while BigQuery kept
    # them with no run
    tables, view = v1_schemas()
    rows = dict(OLD_ROWS, dead_letters=[
        {"origin": f"old.jsonl:{n}", "error_kind": kind, "message": f"m{n}", "event_id": f"e{n}",
         "raw_payload": "{}", "arrived_at": E + n} for n, kind in enumerate(["BAD_TIMESTAMP", "PARSE_ERROR"] * 3)])
    duck = str(tmp_path / "old.duckdb")
    build_duckdb(duck, tables, view, rows)
    build_bigquery(empty_bigquery_url, tables, view, rows)
    outputs, notes = {}, {}
    for url in (duck, empty_bigquery_url):
        assert main(["warehouse", "migrate", "--warehouse", url]) == 0
        notes[url] = capsys.readouterr().out.replace(url, "URL")
        for fmt in ("jsonl", "csv"):
            assert main(["export", "dead_letters", "--format", fmt, "--warehouse", url]) == 0
            captured = capsys.readouterr()
            outputs[url, fmt] = (sorted(captured.out.splitlines()), captured.err)
        assert open_warehouse(url).count("dead_letters") == 6
    for fmt in ("jsonl", "csv"):
        assert outputs[duck, fmt] == outputs[empty_bigquery_url, fmt], fmt
    assert "exported 6 rows of dead_letters" in outputs[duck, "jsonl"][1]
    assert notes[duck] == notes[empty_bigquery_url]
    assert '"run_started_at": "1970-01-01T00:00:00' in outputs[duck, "jsonl"][0][0]


def test_migrate_adds_missing_columns_and_says_which_old_rows_have_no_value(tmp_path, request, capsys):
    # A warehouse one schema change behind: pair_scores without reply_rate (nullable) and
    # reader_active_days (required: old rows cannot have it).
    current = json.loads((schemas.SCHEMA_DIR / "pair_scores.avsc").read_text())
    older = dict(current, fields=[f for f in current["fields"] if f["name"] not in ("reply_rate", "reader_active_days")])
    tables = {"pair_scores": older, "dead_letters": schemas.avro_schema("dead_letters")}
    view = (V1 / "pair_scores_latest.sql").read_text()
    for url in (str(tmp_path / "behind.duckdb"), request.getfixturevalue("empty_bigquery_url")):
        (build_bigquery if url.startswith("bigquery://") else build_duckdb)(url, tables, view, OLD_ROWS, BEHIND)
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


def v3_schemas() -> dict[str, dict]:
    """Every table as schema version 3 had it: as now, but pair_scores without the columns added since."""
    tables = {t: schemas.avro_schema(t) for t in schemas.WAREHOUSE_TABLES}
    current = tables["pair_scores"]
    tables["pair_scores"] = dict(current, fields=[f for f in current["fields"]
                                                  if f["name"] != "author_replies_by_window_end"])
    return tables


def record_version_3(url: str) -> None:
    """The version record a release of schema version 3 left (its fingerprint is not this release's)."""
    columns = ", ".join(f"{name} {bq if url.startswith('bigquery://') else duck}"
                        for name, duck, bq in versions.VERSION_COLUMNS)
    if url.startswith("bigquery://"):
        warehouse = open_warehouse(url)
        table = f"`{warehouse.table_id(versions.VERSION_TABLE)}`"
        warehouse.client.query(f"CREATE TABLE {table} ({columns})").result()
        warehouse.client.query(f"INSERT INTO {table} VALUES (3, 'v3v3v3v3v3v3', CURRENT_TIMESTAMP(), 'init')").result()
        return
    with duckdb.connect(url) as connection:
        connection.execute(f"CREATE TABLE {versions.VERSION_TABLE} ({columns})")
        connection.execute(f"INSERT INTO {versions.VERSION_TABLE} VALUES (3, 'v3v3v3v3v3v3', now()::TIMESTAMP, 'init')")


@pytest.mark.parametrize("kind", ["duckdb", "bigquery"])
def test_migrate_from_version_3_adds_the_replies_by_window_end_as_null_and_says_so(kind, tmp_path, request, capsys):
    url = str(tmp_path / "v3.duckdb") if kind == "duckdb" else request.getfixturevalue("empty_bigquery_url")
    (build_duckdb if kind == "duckdb" else build_bigquery)(
        url, v3_schemas(), (V1 / "pair_scores_latest.sql").read_text(), OLD_ROWS)
    record_version_3(url)
    assert main(["run", "--input", _events(tmp_path), "--warehouse", url]) == 2
    err = capsys.readouterr().err
    assert "has schema version 3" in err and f"social-mentors warehouse migrate --warehouse {url}" in err

    assert main(["warehouse", "migrate", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert f"at schema version {versions.WAREHOUSE_SCHEMA_VERSION}" in out and "migrated from schema version 3" in out
    assert ("pair_scores.author_replies_by_window_end: the 2 rows written before have no value (NULL; the release "
            f"that wrote them did not compute it). Recompute them: social-mentors run --input EVENTS --warehouse {url}"
            in out)
    warehouse = open_warehouse(url)
    assert warehouse.recorded_version() == (versions.WAREHOUSE_SCHEMA_VERSION, versions.fingerprint())
    columns, rows = warehouse.export("pair_scores")
    assert [dict(zip(columns, r))["author_replies_by_window_end"] for r in rows] == [None, None]
    warehouse.write_scores([dict(score_row("b", "r", E, 0.75), author_replies_by_window_end=1)])  # new rows say
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
    build_duckdb(url, tables, view, OLD_ROWS, BEHIND)  # release 1's pair rows would be kept aside
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


def _versions_recorded(url: str) -> int:
    warehouse = open_warehouse(url, read_only=True)
    if url.startswith("bigquery://"):
        return len(list(warehouse.client.list_rows(warehouse.table_id(versions.VERSION_TABLE))))
    with duckdb.connect(url, read_only=True) as connection:
        return connection.execute(f"SELECT count(*) FROM {versions.VERSION_TABLE}").fetchone()[0]


def test_a_key_change_that_fits_every_row_keeps_the_column_the_schema_dropped(tmp_path, capsys):
    # an outside probe: the rebuilt table got every row, the old table was dropped, and with it the
    # column the schema no longer has, while the note said that column was "left in place"
    current = schemas.avro_schema("pair_scores")
    older = dict(current, fields=[*current["fields"], {"name": "legacy_rank", "type": "long"}],
                 **{"x-primary-key": [*current["x-primary-key"], "pane_index"]})  # another key, a wider one
    rows = [dict(score_row("a", "r", E, 0.25), legacy_rank=7), dict(score_row("a", "r2", E, 0.5), legacy_rank=9)]
    url = str(tmp_path / "rekeyed.duckdb")
    build_duckdb(url, {"pair_scores": older}, (V1 / "pair_scores_latest.sql").read_text(), {"pair_scores": rows}, BEHIND)
    assert main(["warehouse", "migrate", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert ("pair_scores: its primary key changed to (site, author_id, reader_id, window_start); 2 of its 2 old rows "
            "were copied into the new table; the old table is kept whole as pair_scores_before_v2, the only place "
            "that holds columns legacy_rank (no longer written)") in out
    assert "left in place" not in out
    with duckdb.connect(url, read_only=True) as connection:  # the data is where the note says
        assert connection.execute("SELECT reader_id, legacy_rank FROM pair_scores_before_v2 ORDER BY 1").fetchall() == [
            ("r", 7), ("r2", 9)]
    assert sorted(r[2] for r in open_warehouse(url).export("pair_scores")[1]) == ["r", "r2"]


def test_rows_that_collide_on_a_narrower_key_stay_in_the_old_table(tmp_path, capsys):
    # ON CONFLICT DO NOTHING dropped them without a word
    current = schemas.avro_schema("pair_scores")
    older = dict(current, **{"x-primary-key": [*current["x-primary-key"], "pane_index"]})
    rows = [score_row("a", "r", E, 0.25, pane=0), score_row("a", "r", E, 0.5, pane=1)]  # one key once pane is gone
    url = str(tmp_path / "narrower.duckdb")
    build_duckdb(url, {"pair_scores": older}, (V1 / "pair_scores_latest.sql").read_text(), {"pair_scores": rows}, BEHIND)
    assert main(["warehouse", "migrate", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert ("1 of its 2 old rows were copied into the new table; the old table is kept whole as pair_scores_before_v2, "
            "the only place that holds 1 rows that collide on the new key") in out
    with duckdb.connect(url, read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM pair_scores_before_v2").fetchone()[0] == 2


@pytest.mark.parametrize("kind", ["duckdb", "bigquery"])
def test_a_column_left_in_place_does_not_refuse_new_rows(kind, tmp_path, request, capsys):
    current = schemas.avro_schema("pair_scores")
    older = dict(current, fields=[*current["fields"], {"name": "legacy_rank", "type": "long"}])  # NOT NULL
    url = str(tmp_path / "extra.duckdb") if kind == "duckdb" else request.getfixturevalue("empty_bigquery_url")
    (build_duckdb if kind == "duckdb" else build_bigquery)(
        url, {"pair_scores": older, "dead_letters": schemas.avro_schema("dead_letters")},
        (V1 / "pair_scores_latest.sql").read_text(), {"pair_scores": [dict(score_row("a", "r", E, 0.25), legacy_rank=7)]},
        BEHIND)
    assert main(["warehouse", "migrate", "--warehouse", url]) == 0
    assert ("pair_scores: columns legacy_rank are no longer written; left in place in pair_scores with their old values"
            in capsys.readouterr().out)
    written = open_warehouse(url).write_scores([score_row("b", "r", E, 0.75)])
    assert not written.refused, written.refused  # BigQuery refuses a row that leaves a REQUIRED column empty
    query = "SELECT author_id, legacy_rank FROM pair_scores ORDER BY 1"
    if kind == "duckdb":
        with duckdb.connect(url, read_only=True) as connection:
            assert connection.execute(query).fetchall() == [("a", 7), ("b", None)]
    else:
        warehouse = open_warehouse(url)
        rows = warehouse.client.query(query.replace("pair_scores", f"`{warehouse.table_id('pair_scores')}`")).result()
        assert [tuple(row.values()) for row in rows] == [("a", 7), ("b", None)]


def test_migrate_refuses_a_duckdb_file_that_is_not_a_warehouse_and_a_missing_one(tmp_path, capsys):
    import hashlib

    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as connection:
        connection.execute("CREATE TABLE x (a INTEGER)")
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    assert main(["warehouse", "migrate", "--warehouse", str(other)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {other} is a DuckDB file without the warehouse's tables") and "nothing changed" in line
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before

    missing = tmp_path / "missing.duckdb"
    assert main(["warehouse", "migrate", "--warehouse", str(missing)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"error: no warehouse at {missing}: nothing was created; `social-mentors warehouse init "
                    f"--warehouse {missing}` creates one")
    assert not missing.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["other.duckdb"]


def test_migrate_refuses_a_missing_dataset_and_one_that_is_not_a_warehouse(empty_bigquery_url, capsys):
    from google.cloud import bigquery

    assert main(["warehouse", "migrate", "--warehouse", empty_bigquery_url]) == 2
    assert "nothing was created" in capsys.readouterr().err
    warehouse = open_warehouse(empty_bigquery_url)
    with pytest.raises(Exception, match="Not found"):
        warehouse.client.get_dataset(f"{warehouse.project}.{warehouse.dataset}")
    warehouse.client.create_dataset(f"{warehouse.project}.{warehouse.dataset}")
    warehouse.client.create_table(bigquery.Table(warehouse.table_id("x"), schema=[bigquery.SchemaField("a", "INT64")]))
    assert main(["warehouse", "migrate", "--warehouse", empty_bigquery_url]) == 2
    assert "not a Social Mentors warehouse, nothing changed" in capsys.readouterr().err
    assert [t.table_id for t in warehouse.client.list_tables(f"{warehouse.project}.{warehouse.dataset}")] == ["x"]


@pytest.fixture(params=["duckdb", "bigquery"])
def current_warehouse(request, tmp_path):
    if request.param == "duckdb":
        url = str(tmp_path / "current.duckdb")
        open_warehouse(url).prepare()
        return url
    return request.getfixturevalue("bigquery_url")


def test_migrating_a_current_warehouse_records_nothing(current_warehouse, capsys):
    # an outside probe: every no-op migrate added a version row
    assert _versions_recorded(current_warehouse) == 1
    for _ in range(2):
        assert main(["warehouse", "migrate", "--warehouse", current_warehouse]) == 0
        assert capsys.readouterr().out == (
            f"{current_warehouse}: already at schema version {versions.WAREHOUSE_SCHEMA_VERSION} "
            f"({versions.fingerprint()}): nothing to migrate, nothing recorded\n")
    assert _versions_recorded(current_warehouse) == 1


def _replace_latest_view(url: str) -> None:
    """What an operator did by hand: pair_scores_latest now returns every pane."""
    if url.startswith("bigquery://"):
        warehouse = open_warehouse(url)
        warehouse.client.query(f"CREATE OR REPLACE VIEW `{warehouse.table_id('pair_scores_latest')}` AS "
                               f"SELECT * FROM `{warehouse.table_id('pair_scores')}`").result()
    else:
        with duckdb.connect(url) as connection:
            connection.execute("CREATE OR REPLACE VIEW pair_scores_latest AS SELECT * FROM pair_scores")


def test_a_replaced_view_is_reported_by_readers_and_check_and_rebuilt_by_migrate(current_warehouse, capsys):
    warehouse = open_warehouse(current_warehouse)
    warehouse.write_scores([score_row("a", "r", E, 0.25, pane=0), score_row("a", "r", E, 0.5, pane=1)])
    _replace_latest_view(current_warehouse)
    command = f"social-mentors warehouse migrate --warehouse {current_warehouse}"
    for argv in (["export", "pair_scores"], ["query", "top"], ["warehouse", "check"]):
        assert main([*argv, "--warehouse", current_warehouse]) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        (line,) = captured.err.splitlines()
        assert "pair_scores_latest differs from this release's definition" in line and f"`{command}`" in line, argv
    assert main(["sql", "SELECT count(*) AS n FROM pair_scores_latest", "--warehouse", current_warehouse,
                 "--format", "csv"]) == 0  # sql may look at it, with a warning
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["n", str(warehouse.count("pair_scores", all_rows=True))]
    assert "warning:" in captured.err and command in captured.err

    assert main(["warehouse", "migrate", "--warehouse", current_warehouse]) == 0
    assert capsys.readouterr().out == (
        f"{current_warehouse}: already at schema version {versions.WAREHOUSE_SCHEMA_VERSION} ({versions.fingerprint()}): "
        "nothing to migrate, nothing recorded; rebuilt the view pair_scores_latest, which differed from this "
        "release's definition\n")
    assert _versions_recorded(current_warehouse) == 1
    assert main(["warehouse", "check", "--warehouse", current_warehouse]) == 0
    assert main(["export", "pair_scores", "--warehouse", current_warehouse]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert row["pane_index"] == 1


@pytest.mark.parametrize("argv", [["query", "top"], ["export", "pair_scores"], ["report", "--out", "REPORT"],
                                  ["evaluate"], ["warehouse", "check"]])
def test_readers_of_an_older_warehouse_name_the_migrate_command(old_warehouse, argv, tmp_path, capsys):
    # an outside probe: they said "`social-mentors run` creates a warehouse"
    argv = [str(tmp_path / "report.html") if a == "REPORT" else a for a in argv]
    assert main([*argv, "--warehouse", old_warehouse]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"error: the warehouse {old_warehouse} records no schema version: it was written by an older "
                    f"release (schema version 1). This release writes version {versions.WAREHOUSE_SCHEMA_VERSION}: "
                    f"migrate it first with `social-mentors warehouse migrate --warehouse {old_warehouse}`")
    assert not (tmp_path / "report.html").exists()


def test_sql_on_an_older_warehouse_names_the_migrate_command(old_warehouse, capsys):
    command = f"social-mentors warehouse migrate --warehouse {old_warehouse}"
    assert main(["sql", "SELECT count(*) AS n FROM pair_scores", "--warehouse", old_warehouse, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["n", "2"] and command in captured.err  # a warning; it still reads
    assert main(["sql", "SELECT * FROM runs_latest", "--warehouse", old_warehouse]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("error:") and "runs_latest" in last and command in last


def test_a_table_function_replaced_by_hand_is_found_by_check_and_rebuilt_by_migrate(bigquery_url, capsys):
    # Left open last release: BigQuery's table functions were not compared, so a hand-replaced `top`
    # answered every `query top` with the operator's SQL and `warehouse check` said all was well.
    warehouse = open_warehouse(bigquery_url)
    warehouse.write_scores([score_row("a", "r", E, 0.25)])
    signature = ", ".join(f"{schemas.TABLE_FUNCTION_ARGUMENT_PREFIX}{p} {kind}" for p, kind in schemas.query_parameters("top"))
    warehouse.client.query(f"CREATE OR REPLACE TABLE FUNCTION `{warehouse.table_id('top')}`({signature}) AS ("
                           f"SELECT * FROM `{warehouse.table_id('pair_scores')}` WHERE FALSE)").result()
    command = f"social-mentors warehouse migrate --warehouse {bigquery_url}"
    assert main(["warehouse", "check", "--warehouse", bigquery_url]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "top differs from this release's definition" in line and f"`{command}`" in line
    assert main(["warehouse", "migrate", "--warehouse", bigquery_url]) == 0
    assert "rebuilt the table function top, which differed" in capsys.readouterr().out
    assert main(["warehouse", "check", "--warehouse", bigquery_url]) == 0
    capsys.readouterr()
    assert main(["query", "top", "--warehouse", bigquery_url, "--format", "jsonl"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # the function is ours again
    assert {row["mentor_id"], row["mentee_id"]} == {"a", "r"}


@pytest.mark.parametrize("kind", ["duckdb", "bigquery"])
def test_a_run_puts_back_a_replaced_view_before_it_reads_its_accounting(kind, tmp_path, request, capsys, caplog):
    # an outside probe: on BigQuery a run kept a hand-replaced pair_scores_latest (every pane), so a
    # replay's summary counted its own rows as "kept rows" behind ones of the first run and still said
    # balanced; DuckDB rebuilt the view. Both put it back, say so, and count what was written.
    url = str(tmp_path / "replaced.duckdb") if kind == "duckdb" else request.getfixturevalue("empty_bigquery_url")
    events = _events(tmp_path)
    assert main(["run", "--input", events, "--warehouse", url]) == 0
    first = capsys.readouterr().out
    assert "kept rows" not in first
    _replace_latest_view(url)
    assert main(["run", "--input", events, "--warehouse", url]) == 0
    captured = capsys.readouterr()
    assert "rebuilt the view pair_scores_latest, which differed from this release's definition" in caplog.text
    assert "kept rows" not in captured.out and "accounting      balanced" in captured.out
    assert main(["warehouse", "check", "--warehouse", url]) == 0
    capsys.readouterr()
    columns, rows = open_warehouse(url).export("pair_scores")
    rows = list(rows)
    key = [columns.index(c) for c in ("site", "author_id", "reader_id", "window_start")]
    assert len(rows) == len({tuple(r[i] for i in key) for r in rows})  # one row per key: the latest view


def _alter(url: str, statement: str) -> None:
    """A change made by hand: ``statement`` with {t} for the qualified table name (DuckDB or BigQuery)."""
    if url.startswith("bigquery://"):
        warehouse = open_warehouse(url)
        table = statement.split()[2]
        warehouse.client.query(statement.replace(f" {table} ", f" `{warehouse.table_id(table)}` ", 1)).result()
    else:
        with duckdb.connect(url) as connection:
            connection.execute(statement)


def test_a_column_dropped_by_hand_fails_check_and_run_before_anything_is_written_and_migrate_adds_it_back(
        current_warehouse, tmp_path, capsys):
    # an outside probe: check passed a warehouse without pair_scores.reply_rate (DuckDB) or
    # dead_letters.message (BigQuery); export then failed, and a BigQuery run wrote and failed unbalanced
    warehouse = open_warehouse(current_warehouse)
    warehouse.write_scores([score_row("a", "r", E, 0.25)])
    _alter(current_warehouse, "ALTER TABLE pair_scores DROP COLUMN reply_rate")
    missing = "missing column pair_scores.reply_rate"
    if current_warehouse.startswith("bigquery://"):  # DuckDB drops no column before a key column
        _alter(current_warehouse, "ALTER TABLE dead_letters DROP COLUMN message")
        missing = "missing columns pair_scores.reply_rate, dead_letters.message"
    migrate = f"`social-mentors warehouse migrate --warehouse {current_warehouse}`"
    for argv in (["warehouse", "check"], ["export", "pair_scores"], ["run", "--input", _events(tmp_path), "--window", "1d"]):
        assert main([*argv, "--warehouse", current_warehouse]) == 2, argv
        line = capsys.readouterr().err.splitlines()[-1]
        assert missing in line and migrate in line, (argv, line)
    assert warehouse.count("pair_scores", all_rows=True) == 1 and warehouse.count("runs", all_rows=True) == 0

    assert main(["warehouse", "migrate", "--warehouse", current_warehouse]) == 0
    out = capsys.readouterr().out
    assert ("pair_scores.reply_rate: the column was missing although the warehouse records this release's schema "
            "version (dropped by hand?); added back, and the 1 rows there have no value in it (NULL)") in out
    assert "did not compute it" not in out and "dead_letters.message" not in out  # no rows there
    assert main(["warehouse", "check", "--warehouse", current_warehouse]) == 0


def test_a_column_of_another_type_fails_check_and_migrate_changes_nothing(current_warehouse, capsys):
    if current_warehouse.startswith("bigquery://"):  # BigQuery changes no column's type: the table is made anew
        from google.cloud import bigquery

        warehouse = open_warehouse(current_warehouse)
        warehouse.client.delete_table(warehouse.table_id("runs"))
        schema = [bigquery.SchemaField(f["name"], "INT64" if f["name"] == "status" else f["type"])
                  for f in schemas.bigquery_fields("runs")]
        warehouse.client.create_table(bigquery.Table(warehouse.table_id("runs"), schema=schema))
        expected = "runs.status (INT64, this release writes STRING)"
    else:
        _alter(current_warehouse, "ALTER TABLE runs ALTER COLUMN status TYPE INTEGER USING 0")
        expected = "runs.status (INTEGER, this release writes VARCHAR)"
    for argv in (["warehouse", "check"], ["warehouse", "migrate"]):
        assert main([*argv, "--warehouse", current_warehouse]) == 2, argv
        line = capsys.readouterr().err.splitlines()[-1]
        assert expected in line and "rename runs aside" in line and "warehouse migrate" in line, line
    assert _versions_recorded(current_warehouse) == 1


def test_a_table_missing_from_a_current_warehouse_is_created_empty_and_migrate_says_so(current_warehouse, capsys):
    # an outside probe: check advises renaming a retyped table aside; migrate then created it empty
    # without a word, and every reader answered from nothing
    if current_warehouse.startswith("bigquery://"):
        warehouse = open_warehouse(current_warehouse)
        warehouse.client.delete_table(warehouse.table_id("pair_scores"))
    else:
        _alter(current_warehouse, "DROP VIEW pair_scores_latest")
        _alter(current_warehouse, "ALTER TABLE pair_scores RENAME TO pair_scores_aside")
    assert main(["warehouse", "migrate", "--warehouse", current_warehouse]) == 0
    out = capsys.readouterr().out
    assert ("pair_scores: the table was missing although the warehouse records this release's schema version; "
            "created empty. Recompute it: `social-mentors run --input EVENTS --warehouse "
            f"{current_warehouse}`") in out, out


def test_a_query_that_a_hand_replaced_table_function_breaks_names_warehouse_check(bigquery_url, capsys):
    # an outside probe: readers do not compare table functions (one request each), and the BigQuery
    # error of a `top` replaced by hand ended "check the project, dataset and credentials" only
    warehouse = open_warehouse(bigquery_url)
    signature = ", ".join(f"{schemas.TABLE_FUNCTION_ARGUMENT_PREFIX}{p} {kind}" for p, kind in schemas.query_parameters("top"))
    warehouse.client.query(f"CREATE OR REPLACE TABLE FUNCTION `{warehouse.table_id('top')}`({signature}) AS ("
                           "SELECT 'x' AS mentor_id)").result()
    assert main(["query", "top", "--warehouse", bigquery_url]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "BigQuery" in line and f"`social-mentors warehouse check --warehouse {bigquery_url}`" in line, line


AT_END = ("reply_latency_p50_s_by_window_end", "mentor_score_by_window_end", "last_interaction_at_by_window_end")


def v4_schemas() -> dict[str, dict]:
    """Every table as schema version 4 had it: as now, but pair_scores without the window at its end."""
    tables = {t: schemas.avro_schema(t) for t in schemas.WAREHOUSE_TABLES}
    current = tables["pair_scores"]
    tables["pair_scores"] = dict(current, fields=[f for f in current["fields"] if f["name"] not in AT_END])
    return tables


@pytest.mark.parametrize("kind", ["duckdb", "bigquery"])
def test_migrate_from_version_4_adds_the_window_at_its_end_as_null_and_says_so(kind, tmp_path, request, capsys):
    url = str(tmp_path / "v4.duckdb") if kind == "duckdb" else request.getfixturevalue("empty_bigquery_url")
    late = dict(score_row("a", "r", E, 0.25, rc=3, ar=2), author_replies_by_window_end=1, last_interaction_at=E + DAY_MS)
    (build_duckdb if kind == "duckdb" else build_bigquery)(
        url, v4_schemas(), (V1 / "pair_scores_latest.sql").read_text(), {"pair_scores": [late]}, version=4)
    assert main(["run", "--input", _events(tmp_path), "--warehouse", url]) == 2
    err = capsys.readouterr().err
    assert "has schema version 4" in err and f"social-mentors warehouse migrate --warehouse {url}" in err

    assert main(["warehouse", "migrate", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert f"at schema version {versions.WAREHOUSE_SCHEMA_VERSION}" in out and "migrated from schema version 4" in out
    for column in AT_END:
        assert (f"pair_scores.{column}: the 1 rows written before have no value (NULL; the release that wrote them "
                f"did not compute it). Recompute them: social-mentors run --input EVENTS --warehouse {url}" in out)
    warehouse = open_warehouse(url)
    assert warehouse.recorded_version() == (versions.WAREHOUSE_SCHEMA_VERSION, versions.fingerprint())
    columns, rows = warehouse.export("pair_scores")
    assert [[dict(zip(columns, r))[c] for c in AT_END] for r in rows] == [[None, None, None]]
    # the old row as of its window's end: its comments and its reply written by then, none quick, no score
    columns, rows = warehouse.query("strengths", {"site": None, "as_of": dt.datetime(1970, 1, 1) + dt.timedelta(
        milliseconds=E), "half_life_days": 14.0})
    (pair,) = [dict(zip(columns, r)) for r in rows]
    assert (pair["comments"], pair["replies"], pair["quick_replies"], pair["decayed_mentor_score"]) == pytest.approx(
        (3.0, 1.0, 0.0, 0.0))
    warehouse.prepare()  # a run's launch check passes
