"""The warehouse behind one small interface: write scores and dead letters, run analyst queries.

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


class Warehouse(Protocol):
    """``write_*`` store every row but those they return as refused; a failure of the whole write
    (the warehouse unreachable, say) raises, and the runner retries the bundle. ``bulk`` asks for
    the warehouse's bulk path where it has one (BigQuery load jobs)."""

    url: str

    def write_scores(self, rows: list[dict[str, Any]], bulk: bool = False) -> list[RefusedRow]: ...

    def write_dead_letters(self, rows: list[dict[str, Any]], bulk: bool = False) -> list[RefusedRow]: ...

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]: ...

    def export(self, table: str) -> tuple[list[str], Iterator[tuple]]: ...

    def count(self, table: str) -> int: ...


def open_warehouse(url: str, read_only: bool = False) -> Warehouse:
    """The warehouse at ``url``: ``bigquery://PROJECT/DATASET``, or a DuckDB file path (``duckdb://``
    optional). ``read_only`` (query, export) opens a DuckDB file for reading only."""
    if url.startswith("bigquery://"):
        from warehouse.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(url)
    from warehouse.duckdb_warehouse import DuckDBWarehouse

    path = url[len("duckdb://"):] if url.startswith("duckdb://") else url
    return DuckDBWarehouse(str(Path(path).expanduser()), read_only=read_only)
