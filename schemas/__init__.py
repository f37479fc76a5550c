"""The schemas: the single source of truth for events, warehouse tables and analyst queries.

* ``engagement_event.avsc`` is the wire and file format of every input event.
* ``pair_scores.avsc`` and ``dead_letters.avsc`` describe the warehouse tables as Avro records; the
  DuckDB DDL and the BigQuery table schema are both derived from them here, never written twice.
  Table-level facts ride along as ``x-`` attributes (primary key, partitioning, clustering).
* ``queries/*.sql`` hold the analysts' queries, written once in BigQuery SQL with ``@named``
  parameters; the embedded warehouse runs the copy that sqlglot transpiles to DuckDB.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parent
QUERY_DIR = SCHEMA_DIR / "queries"

WAREHOUSE_TABLES = ("pair_scores", "dead_letters")
ANALYST_QUERIES = ("mentors", "regulars", "pair")
VIEWS = ("pair_scores_latest",)


@functools.lru_cache(maxsize=None)
def avro_schema(name: str) -> dict[str, Any]:
    """The raw JSON of ``schemas/<name>.avsc``."""
    return json.loads((SCHEMA_DIR / f"{name}.avsc").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def parsed_avro_schema(name: str) -> Any:
    """The fastavro-parsed schema, ready for ``fastavro.writer`` / ``schemaless_reader``."""
    return fastavro.parse_schema(avro_schema(name))


def engagement_event_schema() -> Any:
    return parsed_avro_schema("engagement_event")


def event_kinds() -> tuple[str, ...]:
    field = next(f for f in avro_schema("engagement_event")["fields"] if f["name"] == "kind")
    return tuple(field["type"]["symbols"])


def field_names(name: str) -> list[str]:
    return [f["name"] for f in avro_schema(name)["fields"]]


def timestamp_fields(name: str) -> list[str]:
    """Fields holding timestamp-millis (nullable or not): the ones converted on the way in and out."""
    return [f["name"] for f in avro_schema(name)["fields"] if _logical(f["type"]) == "timestamp-millis"]


def _non_null(avro_type: Any) -> tuple[Any, bool]:
    """(the type without null, whether null was allowed)."""
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        if len(others) != 1:
            raise ValueError(f"only [null, T] unions are supported in tables, got {avro_type}")
        return others[0], True
    return avro_type, False


def _logical(avro_type: Any) -> str | None:
    base, _ = _non_null(avro_type)
    return base.get("logicalType") if isinstance(base, dict) else None


# Avro primitive or logical type -> (DuckDB type, BigQuery type)
_TYPE_MAP = {
    "string": ("VARCHAR", "STRING"),
    "long": ("BIGINT", "INT64"),
    "int": ("INTEGER", "INT64"),
    "double": ("DOUBLE", "FLOAT64"),
    "float": ("DOUBLE", "FLOAT64"),
    "boolean": ("BOOLEAN", "BOOL"),
    "bytes": ("BLOB", "BYTES"),
    # Stored as plain TIMESTAMP in UTC: DuckDB's TIMESTAMPTZ needs the icu extension, which an
    # offline machine cannot download.
    "timestamp-millis": ("TIMESTAMP", "TIMESTAMP"),
}


def column_types(avro_type: Any) -> tuple[str, str, bool]:
    base, nullable = _non_null(avro_type)
    key = _logical(base) or (base["type"] if isinstance(base, dict) else base)
    if key not in _TYPE_MAP:
        raise ValueError(f"no warehouse type for Avro type {base!r}")
    duck, bq = _TYPE_MAP[key]
    return duck, bq, nullable


def duckdb_ddl(table: str) -> str:
    """CREATE TABLE IF NOT EXISTS for the embedded warehouse, derived from ``<table>.avsc``."""
    schema = avro_schema(table)
    columns = []
    for field in schema["fields"]:
        duck, _, nullable = column_types(field["type"])
        columns.append(f"  {field['name']} {duck}{'' if nullable else ' NOT NULL'}")
    key = schema.get("x-primary-key")
    if key:
        columns.append(f"  PRIMARY KEY ({', '.join(key)})")
    return f"CREATE TABLE IF NOT EXISTS {table} (\n" + ",\n".join(columns) + "\n)"


def bigquery_fields(table: str) -> list[dict[str, str]]:
    """BigQuery's JSON table schema (name, type, mode, description), derived from ``<table>.avsc``."""
    fields = []
    for field in avro_schema(table)["fields"]:
        _, bq, nullable = column_types(field["type"])
        entry = {"name": field["name"], "type": bq, "mode": "NULLABLE" if nullable else "REQUIRED"}
        if field.get("doc"):
            entry["description"] = field["doc"]
        fields.append(entry)
    return fields


def table_layout(table: str) -> dict[str, Any]:
    """Primary key, partitioning column and clustering columns declared in ``<table>.avsc``."""
    schema = avro_schema(table)
    return {
        "primary_key": list(schema.get("x-primary-key", [])),
        "partition_by": schema.get("x-partition-by"),
        "cluster_by": list(schema.get("x-cluster-by", [])),
    }


@functools.lru_cache(maxsize=None)
def query_sql(name: str, dialect: str = "bigquery") -> str:
    """An analyst query or view from ``queries/<name>.sql``, in BigQuery SQL or transpiled."""
    text = (QUERY_DIR / f"{name}.sql").read_text(encoding="utf-8")
    if dialect == "bigquery":
        return text
    import sqlglot  # imported here: only the embedded warehouse needs it

    statements = sqlglot.transpile(text, read="bigquery", write=dialect)
    if len(statements) != 1:
        raise ValueError(f"{name}.sql must hold exactly one statement, found {len(statements)}")
    return statements[0]
