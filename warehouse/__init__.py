"""The warehouse behind one small interface: write scores, dead letters, the run ledger and run
statuses; run analyst queries and the run summary's reads.

``open_warehouse(url)`` returns the implementation for a URL: a path (or ``duckdb://PATH``) is the
embedded DuckDB file; ``bigquery://PROJECT/DATASET`` is BigQuery. Tables come from ``schemas/*.avsc``
and queries from ``schemas/queries``; this module holds no schema and no analyst SQL of its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, NamedTuple, Protocol

if TYPE_CHECKING:
    from warehouse import migration

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
    schema version (schemas.versions.WarehouseOutdated) naming ``migrate``. ``check_current`` is the
    readers' check: the same version check, and that the views are this release's (reading only).
    ``export`` and ``count``
    read the latest views (``schemas.latest_view``), so both warehouses give the same logical rows."""

    url: str

    def held_open(self) -> ContextManager[None]: ...  # inside: the writes share one connection

    def write_scores(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written: ...

    def write_dead_letters(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written: ...

    def write_ledger(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written: ...

    def write_actors(self, rows: list[dict[str, Any]]) -> None: ...

    def record_run(self, row: dict[str, Any]) -> None: ...

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]: ...

    def export(self, table: str, all_rows: bool = False) -> tuple[list[str], Iterator[tuple]]: ...

    def count(self, table: str, all_rows: bool = False) -> int: ...

    def prepare(self, update_definitions: bool = False) -> None: ...

    def check_current(self) -> None: ...

    def migrate(self) -> "migration.Migrated": ...

    def sql(self, text: str) -> tuple[list[str], list[tuple]]: ...


class NotInitialised(LookupError):
    """A reading command found no warehouse where it looked: nothing was created (readers never create)."""


class NotAWarehouse(ValueError):
    """--warehouse names something that is not a warehouse (a folder, a text file, a zip, a DuckDB
    file without the warehouse's tables): refused before anything is read or written."""


# A DuckDB database file holds its magic bytes after an 8-byte checksum.
DUCKDB_MAGIC = (8, b"DUCK")
_LOOKS_LIKE = ((b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "a gzip file"), (b"SQLite format 3", "an SQLite database"),
               (b"Obj\x01", "an Avro file"), (b"PAR1", "a Parquet file"))


def duckdb_path(url: str) -> str:
    """The file of a DuckDB warehouse URL (``duckdb://`` optional, ``~`` expanded)."""
    return str(Path(url.removeprefix("duckdb://")).expanduser())


def check_location(url: str) -> None:
    """Raise :class:`NotAWarehouse` when ``url`` names a folder or a file that is not a DuckDB
    database: every command that takes --warehouse calls it first, so such a path fails in one line
    before any work (DuckDB said "check that the folder exists and is writable", mid-command). A
    path that does not exist passes: a run creates it, and a reader says there is none."""
    if url.startswith("bigquery://"):
        return
    path = Path(duckdb_path(url))
    if path.is_dir():
        what = "a folder"
    elif not path.exists():
        return
    else:
        try:
            with open(path, "rb") as file:
                head = file.read(16)
        except OSError as error:
            raise NotAWarehouse(f"--warehouse {url}: cannot read it ({error.strerror})") from None
        offset, magic = DUCKDB_MAGIC
        if head[offset:offset + len(magic)] == magic:
            return
        what = "an empty file" if not head else next(
            (name for start, name in _LOOKS_LIKE if head.startswith(start)), "a file of another kind")
    raise NotAWarehouse(f"--warehouse {url} is {what}, not a DuckDB database: pass the warehouse's DuckDB file "
                        "(a new path is created by `social-mentors run` or `warehouse init`) or bigquery://PROJECT/DATASET")


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


def open_warehouse(url: str, read_only: bool = False, create: bool = True) -> Warehouse:
    """The warehouse at ``url``: ``bigquery://PROJECT/DATASET``, or a DuckDB file path (``duckdb://``
    optional). ``read_only`` (query, export, sql, status, report) opens a DuckDB file for reading only
    and creates nothing in BigQuery: a dataset without the tables is :class:`NotInitialised`.
    ``create=False`` (``warehouse migrate``) opens for writing but creates no new file or tables."""
    if url.startswith("bigquery://"):
        from warehouse.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(url, read_only=read_only)
    from warehouse.duckdb_warehouse import DuckDBWarehouse

    return DuckDBWarehouse(duckdb_path(url), read_only=read_only, create=create)
