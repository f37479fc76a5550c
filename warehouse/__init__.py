"""The warehouse behind one small interface: write scores, dead letters, the run ledger and run
statuses; run analyst queries and the run summary's reads.

``open_warehouse(url)`` returns the implementation for a URL: a path (or ``duckdb://PATH``) is the
embedded DuckDB file; ``bigquery://PROJECT/DATASET`` is BigQuery. Tables come from ``schemas/*.avsc``
and queries from ``schemas/queries``; this module holds no schema and no analyst SQL of its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, NamedTuple, Protocol

DEFAULT_WAREHOUSE = "social_mentors.duckdb"


class RefusedRow(NamedTuple):
    """A row the warehouse would not store, and its reason (BigQuery's per-row error)."""

    row: dict[str, Any]
    reason: str


class Written(NamedTuple):
    """What a write did besides storing rows: the rows the warehouse refused, and (pair_scores) how
    many rows it did not store because it keeps a row of another run computed from more data."""

    refused: list[RefusedRow]
    kept: int = 0


class Warehouse(Protocol):
    """``write_*`` store every row but those they return as refused or kept; a failure of the whole
    write (the warehouse unreachable, say) raises, and the runner retries the bundle. ``bulk`` asks
    for the warehouse's bulk path where it has one (BigQuery load jobs). ``query`` runs an analyst
    query or one of ``schemas.RUN_QUERIES``.

    Opening a warehouse is cheap (every worker does it): no DDL. ``prepare`` runs once at launch
    (``run``, ``warehouse init``): it creates a new warehouse, and stops on one written by another
    schema version (schemas.versions.WarehouseOutdated) naming ``migrate``. ``export`` and ``count``
    read the latest views (``schemas.latest_view``), so both warehouses give the same logical rows."""

    url: str

    def write_scores(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written: ...

    def write_dead_letters(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written: ...

    def write_ledger(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written: ...

    def record_run(self, row: dict[str, Any]) -> None: ...

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]: ...

    def export(self, table: str, all_rows: bool = False) -> tuple[list[str], Iterator[tuple]]: ...

    def count(self, table: str, all_rows: bool = False) -> int: ...

    def prepare(self, update_definitions: bool = False) -> None: ...

    def migrate(self) -> list[str]: ...

    def sql(self, text: str) -> tuple[list[str], list[tuple]]: ...


class NotInitialised(LookupError):
    """A reading command found no warehouse where it looked: nothing was created (readers never create)."""


READ_ONLY_STATEMENTS = ("Select", "Union", "Intersect", "Except", "Describe", "Show")


def check_read_only(sql: str, dialect: str) -> None:
    """Refuse anything but one reading statement (SELECT, WITH ... SELECT, set operations, DESCRIBE,
    SHOW) before it reaches the warehouse: ``social-mentors sql`` is for looking, never for changing."""
    import sqlglot

    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as error:
        raise ValueError(f"cannot read the SQL: {str(error).splitlines()[0]}") from error
    if len(statements) != 1:
        raise ValueError(f"give exactly one statement, found {len(statements)}")
    kind = type(statements[0]).__name__
    if kind not in READ_ONLY_STATEMENTS:
        raise ValueError(f"read-only: {kind.upper()} statements are refused; use SELECT (or WITH ... SELECT, DESCRIBE)")


def open_warehouse(url: str, read_only: bool = False) -> Warehouse:
    """The warehouse at ``url``: ``bigquery://PROJECT/DATASET``, or a DuckDB file path (``duckdb://``
    optional). ``read_only`` (query, export, sql, status, report) opens a DuckDB file for reading only
    and creates nothing in BigQuery: a dataset without the tables is :class:`NotInitialised`."""
    if url.startswith("bigquery://"):
        from warehouse.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(url, read_only=read_only)
    from warehouse.duckdb_warehouse import DuckDBWarehouse

    path = url[len("duckdb://"):] if url.startswith("duckdb://") else url
    return DuckDBWarehouse(str(Path(path).expanduser()), read_only=read_only)
