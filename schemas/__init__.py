"""The schemas: the single source of truth for events, warehouse tables and analyst queries.

* ``engagement_event.avsc`` is the wire and file format of every input event.
* ``pair_scores.avsc``, ``dead_letters.avsc``, ``run_ledger.avsc``, ``runs.avsc`` and ``actors.avsc`` describe the
  warehouse tables as Avro records; the DuckDB DDL and the BigQuery table schema are both derived
  from them here, never written twice. Table-level facts ride along as ``x-`` attributes (primary
  key, partitioning, clustering).
* ``queries/*.sql`` hold the analysts' queries, written once in BigQuery SQL with ``@named``
  parameters, typed on their ``-- Parameters:`` line. In BigQuery each becomes a table function
  (``bigquery_ddl``) that ``social-mentors query`` calls with query parameters (``bigquery_call``);
  the embedded warehouse runs the copy that sqlglot transpiles to DuckDB. ``VIEWS`` are created with
  the tables; ``RUN_QUERIES`` are the run summary's own reads (``run_accounting``) and the check of
  the newest run's status (``newest_run``), run as plain parameterized queries in both warehouses. Files whose name starts
  with ``_`` are fragments, not queries: a line ``-- include: NAME`` in a query is replaced by the
  fragment's CTEs (and a comma), so that a formula shared by several queries is written once.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parent
QUERY_DIR = SCHEMA_DIR / "queries"

WAREHOUSE_TABLES = ("pair_scores", "dead_letters", "run_ledger", "runs", "actors")
ANALYST_QUERIES = ("mentors", "regulars", "top", "pair", "history", "strengths", "exchanges", "span")
VIEWS = ("pair_scores_latest", "dead_letters_latest", "run_ledger_latest", "runs_latest", "actors_latest")
RUN_QUERIES = ("run_accounting", "newest_run")
REPORT_QUERIES = ("report_windows", "report_dead_letters")  # social-mentors report's, table functions in BigQuery too
STATUS_QUERIES = ("status_newest_window", "status_dead_letters")  # social-mentors status's, likewise
# What a warehouse defines besides its tables, views first (the rest read them): BigQuery creates
# each (the queries as table functions); schemas.versions fingerprints them all.
DEFINITIONS = (*VIEWS, *ANALYST_QUERIES, *REPORT_QUERIES, *STATUS_QUERIES)


def latest_view(table: str) -> str:
    """What commands read for ``table``: its ``<table>_latest`` view where there is one (one row per
    logical record, whatever the warehouse appended), else the table."""
    return f"{table}_latest" if f"{table}_latest" in VIEWS else table


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


def without_logical_types(schema: Any) -> Any:
    """An Avro schema (raw JSON) with every logicalType dropped, so that timestamps read as the longs
    they are: fastavro's timestamp-millis conversion raises on a value past year 9999, which lost the
    whole record where validation makes it one BAD_TIMESTAMP naming its event, and a long is what the
    pipeline keeps anyway (converting to datetime and back cost more than the rest of a record)."""
    if isinstance(schema, dict):
        return {k: v if k == "default" else without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(v) for v in schema]
    return schema


def event_kinds() -> tuple[str, ...]:
    field = next(f for f in avro_schema("engagement_event")["fields"] if f["name"] == "kind")
    return tuple(field["type"]["symbols"])


def optional_string_fields(name: str) -> list[str]:
    """Fields of type null or string: every one a decoder must check is text when present."""
    return [f["name"] for f in avro_schema(name)["fields"] if f["type"] == ["null", "string"]]


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


_INCLUDE = re.compile(r"^--\s*include:\s*(_\w+)\s*$", re.MULTILINE)


def _with_fragments(text: str) -> str:
    """The query text with each ``-- include: _NAME`` line replaced by ``queries/_NAME.sql`` and a comma."""
    return _INCLUDE.sub(lambda found: (QUERY_DIR / f"{found.group(1)}.sql").read_text(encoding="utf-8").rstrip() + ",",
                        text)


@functools.lru_cache(maxsize=None)
def query_sql(name: str, dialect: str = "bigquery") -> str:
    """An analyst query or view from ``queries/<name>.sql`` (fragments included), in BigQuery SQL or transpiled."""
    text = _with_fragments((QUERY_DIR / f"{name}.sql").read_text(encoding="utf-8"))
    if dialect == "bigquery":
        return text
    import sqlglot  # imported here: only the embedded warehouse needs it

    statements = sqlglot.transpile(text, read="bigquery", write=dialect)
    if len(statements) != 1:
        raise ValueError(f"{name}.sql must hold exactly one statement, found {len(statements)}")
    return statements[0]


TABLE_FUNCTION_ARGUMENT_PREFIX = "arg_"
_PARAMETERS_LINE = re.compile(r"^--\s*Parameters:(.*)$", re.MULTILINE)
_PARAMETER = re.compile(r"\b(\w+)\s+(STRING|INT64|FLOAT64|BOOL|TIMESTAMP|DATE)\b")


def query_parameters(name: str) -> list[tuple[str, str]]:
    """The (name, BigQuery type) of each parameter, in order, from the query's ``-- Parameters:`` line."""
    found = _PARAMETERS_LINE.search(query_sql(name))
    return _PARAMETER.findall(found.group(1)) if found else []


def _parsed_for_bigquery(name: str, project: str, dataset: str) -> Any:
    """The query's syntax tree, every table qualified with the project and dataset: BigQuery
    resolves a view's or table function's body without the default dataset."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.qualify_tables import qualify_tables

    tree = qualify_tables(sqlglot.parse_one(query_sql(name), read="bigquery"), db=dataset, catalog=project,
                          dialect="bigquery")
    for table in tree.find_all(exp.Table):
        if table.args.get("catalog") is not None:  # project ids may hold hyphens: quote the parts
            for part in ("catalog", "db", "this"):
                table.set(part, exp.to_identifier(table.args[part].name, quoted=True))
    return tree


def bigquery_ddl(name: str, project: str, dataset: str, replace: bool = True) -> str:
    """The statement that creates a view (``VIEWS``) or an analyst query's table function in BigQuery:
    ``CREATE OR REPLACE``, or with ``replace=False`` ``CREATE ... IF NOT EXISTS``.

    A table function takes the query's parameters as arguments, in order; its body is the query with
    each ``@name`` read as the argument ``arg_name``. The prefix keeps arguments apart from columns
    of the same name (``site``), which engines resolve differently or refuse as ambiguous.
    """
    tree = _parsed_for_bigquery(name, project, dataset)
    if name in VIEWS:
        tree.set("replace", replace)
        tree.set("exists", not replace)
        return tree.sql(dialect="bigquery", pretty=True)
    signature = ", ".join(f"{TABLE_FUNCTION_ARGUMENT_PREFIX}{param} {kind}" for param, kind in query_parameters(name))
    create = "CREATE OR REPLACE TABLE FUNCTION" if replace else "CREATE TABLE FUNCTION IF NOT EXISTS"
    return f"{create} `{project}.{dataset}.{name}`({signature}) AS (\n{bigquery_table_function_body(name, project, dataset)}\n)"


def bigquery_table_function_body(name: str, project: str, dataset: str) -> str:
    """The query of a table function as :func:`bigquery_ddl` defines it: each ``@name`` read as
    the argument ``arg_name``."""
    from sqlglot import exp

    tree = _parsed_for_bigquery(name, project, dataset)
    for parameter in list(tree.find_all(exp.Parameter)):
        parameter.replace(exp.column(TABLE_FUNCTION_ARGUMENT_PREFIX + parameter.name))
    return tree.sql(dialect="bigquery", pretty=True, comments=False)


def bigquery_view_query(view: str, project: str, dataset: str) -> str:
    """The query of a view as :func:`bigquery_ddl` defines it (BigQuery keeps it as the view's query)."""
    return _parsed_for_bigquery(view, project, dataset).expression.sql(dialect="bigquery", pretty=True)


def bigquery_sql(name: str, project: str, dataset: str) -> str:
    """A query of ``RUN_QUERIES`` in BigQuery SQL, every table qualified, ``@named`` parameters kept."""
    return _parsed_for_bigquery(name, project, dataset).sql(dialect="bigquery", pretty=True)


def bigquery_call(name: str, project: str, dataset: str) -> str:
    """The query that calls an analyst query's table function with ``@named`` query parameters, in the
    order of the query's own ORDER BY (a table function's result has none)."""
    from sqlglot import exp

    order = _parsed_for_bigquery(name, project, dataset).args.get("order")
    arguments = ", ".join(f"@{param}" for param, _ in query_parameters(name))
    call = f"SELECT * FROM `{project}.{dataset}.{name}`({arguments})"
    if order is None:
        return call
    for column in order.find_all(exp.Column):
        column.set("table", None)  # the body's table aliases are out of scope outside it
    return f"{call}\n{order.sql(dialect='bigquery')}"
