import duckdb
import pytest

import schemas


def test_warehouse_ddl_is_derived_from_the_avro_table_schemas():
    connection = duckdb.connect()
    for table in schemas.WAREHOUSE_TABLES:
        connection.execute(schemas.duckdb_ddl(table))
        columns = [row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()]
        assert columns == schemas.field_names(table)


def test_nullability_and_types_follow_the_avro_schema():
    fields = {f["name"]: f for f in schemas.bigquery_fields("pair_scores")}
    assert fields["window_start"] == {"name": "window_start", "type": "TIMESTAMP", "mode": "REQUIRED"}
    assert fields["reply_latency_p50_s"]["mode"] == "NULLABLE"
    assert fields["reply_latency_p50_s"]["type"] == "FLOAT64"
    assert fields["reader_comments"]["type"] == "INT64"


def test_table_layout_declares_key_partitioning_and_clustering():
    layout = schemas.table_layout("pair_scores")
    assert layout["primary_key"] == ["site", "author_id", "reader_id", "window_start"]
    assert layout["partition_by"] == "window_start"
    assert layout["cluster_by"] == ["site", "author_id", "reader_id"]
    assert schemas.table_layout("dead_letters")["partition_by"] == "arrived_at"


def test_event_kinds_come_from_the_avro_enum():
    assert schemas.event_kinds() == ("POST", "COMMENT", "REPLY")


@pytest.mark.parametrize("name", schemas.ANALYST_QUERIES + schemas.VIEWS)
def test_every_query_is_bigquery_sql_that_transpiles_to_duckdb(name):
    duck = schemas.query_sql(name, "duckdb")
    connection = duckdb.connect()
    for table in schemas.WAREHOUSE_TABLES:
        connection.execute(schemas.duckdb_ddl(table))
    connection.execute(schemas.query_sql("pair_scores_latest", "duckdb"))
    if name not in schemas.VIEWS:
        params = {"author": "a", "reader": "r", "site": None, "top": 5, "half_life_days": 14.0, "as_of": None,
                  "from_time": None, "to_time": None}
        needed = {p for p in params if f"${p}" in duck}
        assert needed == {p for p in params if f"@{p}" in schemas.query_sql(name)}
        rows = connection.execute(duck, {p: params[p] for p in needed}).fetchall()
        assert rows == [] or name == "span"  # an aggregate of nothing is one row of NULLs


@pytest.mark.parametrize("name", schemas.ANALYST_QUERIES + schemas.VIEWS)
def test_bigquery_objects_name_every_table_with_project_and_dataset(name):
    # BigQuery resolves a view's or table function's body without the default dataset.
    import sqlglot
    from sqlglot import exp

    ddl = schemas.bigquery_ddl(name, "my-project", "mentors_ds")
    tables = list(sqlglot.parse_one(ddl, read="bigquery").find_all(exp.Table))
    ctes = {cte.alias for cte in sqlglot.parse_one(ddl, read="bigquery").find_all(exp.CTE)}
    outside = [t for t in tables if t.name not in ctes]
    assert outside and all((t.catalog, t.db) == ("my-project", "mentors_ds") for t in outside)
    assert "`my-project`" in ddl  # hyphenated project ids are quoted


@pytest.mark.parametrize("name", schemas.ANALYST_QUERIES)
def test_each_analyst_query_becomes_a_table_function_called_with_its_typed_parameters(name):
    parameters = schemas.query_parameters(name)
    assert parameters and all(kind in ("STRING", "INT64", "FLOAT64", "TIMESTAMP") for _, kind in parameters)
    ddl = schemas.bigquery_ddl(name, "p", "d")
    assert ddl.startswith(f"CREATE OR REPLACE TABLE FUNCTION `p.d.{name}`(")
    assert "@" not in ddl  # the body reads the function's arguments, not query parameters
    for param, kind in parameters:
        assert f"arg_{param} {kind}" in ddl
    call = schemas.bigquery_call(name, "p", "d")
    assert f"`p.d.{name}`({', '.join('@' + p for p, _ in parameters)})" in call and "ORDER BY" in call


@pytest.mark.parametrize("name", schemas.ANALYST_QUERIES + schemas.VIEWS)
def test_bigquery_objects_can_be_created_only_when_missing(name):
    ddl = " ".join(schemas.bigquery_ddl(name, "p", "d", replace=False).split())
    assert "IF NOT EXISTS" in ddl and "OR REPLACE" not in ddl


def test_fragments_are_included_once_written_and_are_not_queries():
    # The strength formula lives in _pair_strength.sql only; every ranking query includes it.
    fragment = (schemas.QUERY_DIR / "_pair_strength.sql").read_text()
    assert "8.0 AS quick_replies_weight" in fragment and "LN(" in fragment
    for name in ("mentors", "regulars", "top", "pair", "strengths"):
        raw = (schemas.QUERY_DIR / f"{name}.sql").read_text()
        assert "_weight" not in raw.split("-- include: _pair_strength")[0] and "LN(" not in raw
        assert "8.0 AS quick_replies_weight" in schemas.query_sql(name)
    assert not any(name.startswith("_") for name in schemas.ANALYST_QUERIES)
    on_disk = {p.stem for p in schemas.QUERY_DIR.glob("*.sql") if not p.stem.startswith("_")}
    assert on_disk == (set(schemas.ANALYST_QUERIES) | set(schemas.VIEWS) | set(schemas.RUN_QUERIES)
                       | set(schemas.REPORT_QUERIES) | set(schemas.STATUS_QUERIES))
