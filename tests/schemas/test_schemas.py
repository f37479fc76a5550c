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
        params = {"author": "a", "reader": "r", "site": None, "top": 5, "half_life_days": 14.0}
        needed = {p for p in params if f"${p}" in duck}
        assert needed == {p for p in params if f"@{p}" in schemas.query_sql(name)}
        assert connection.execute(duck, {p: params[p] for p in needed}).fetchall() == []
