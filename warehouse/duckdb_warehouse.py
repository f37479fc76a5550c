"""The embedded warehouse: one DuckDB file, tables derived from ``schemas/``.

``pair_scores`` keeps one row per (site, author, reader, window): writes are upserts keyed by the
table's primary key, so replaying the same input is idempotent. A later pane of the same run replaces
the earlier one; a row of another run replaces the stored row only when computed from at least as
much data (reader_comments + author_replies; on a tie the newer run wins), so a restart that replays
a topic whose retention dropped the oldest events never overwrites a complete row with a truncated
one. Such refusals are counted (``Written.kept``). ``pair_scores_latest`` chooses the same row where
rows are appended (BigQuery). ``dead_letters`` is keyed by (run, origin, error_kind): a bad record
read twice by one run is stored once. ``run_ledger`` keeps the newest count per run, outcome and
reason; ``runs`` the newest status per run. Writers and readers may be different processes: see
:func:`warehouse.duckdb_connection.connect`.
"""
from __future__ import annotations

import datetime as dt
import decimal
import logging
import tempfile
from pathlib import Path
from typing import Any, ContextManager, Iterator, Optional

import duckdb
import pyarrow as pa

import schemas
from schemas import versions
from warehouse import NotInitialised, Written, duckdb_schema, migration
from warehouse.duckdb_connection import LOCK_RETRY_S, connect, held

EXPORT_BATCH_ROWS = 10_000
# An export sorts the whole table (and its latest view partitions it): DuckDB holds it in memory up
# to its limit (80% of RAM by default), so an export's peak grew with the table (875 MB at 2.5
# million rows). Past this bound DuckDB spills to a private temporary folder (never beside the
# warehouse, which may be read-only), so the peak stays about this plus one batch.
EXPORT_MEMORY_LIMIT = "512MB"
# Tables whose upsert keeps one row per the key their latest view keeps one of, the row the view
# would choose (see _replaces): reading the table skips the view's two window functions (at a
# million rows 1.2 CPU-seconds of 2.4). dead_letters is not one: its view keeps one per origin.
UPSERTED_AS_ITS_VIEW = frozenset({"pair_scores"})

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BLOB": pa.binary(),
    "TIMESTAMP": pa.int64(),  # epoch millis on the way in; epoch_ms() converts in SQL
}


def _replaces(new: str, old: str) -> str:
    """SQL: whether row ``new`` replaces the stored row ``old`` of the same pair and window."""
    contributions = "{t}.reader_comments + {t}.author_replies"
    more, less = contributions.format(t=new), contributions.format(t=old)
    # NULL-safe: rows an older release wrote may have no run (migrate adds the column); they are the
    # oldest run, so a recompute from as much data replaces them
    return (
        f"({new}.run_started_at IS NOT DISTINCT FROM {old}.run_started_at AND {new}.pane_index >= {old}.pane_index) OR "
        f"({new}.run_started_at IS DISTINCT FROM {old}.run_started_at AND ({more} > {less} OR "
        f"({more} = {less} AND coalesce({new}.run_started_at > {old}.run_started_at, {old}.run_started_at IS NULL))))"
    )


def replaces(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """:func:`_replaces` for two rows in hand (the rows of one write, before the upsert)."""
    if new["run_started_at"] == old["run_started_at"]:
        return new["pane_index"] >= old["pane_index"]
    contributions = [row["reader_comments"] + row["author_replies"] for row in (new, old)]
    runs = [-1 if row["run_started_at"] is None else row["run_started_at"] for row in (new, old)]
    return (contributions[0], runs[0]) > (contributions[1], runs[1])


def _naive_row(row: tuple) -> tuple:
    """A row as BigQuery's client gives it: UTC datetimes without tzinfo, whichever timestamp type
    the query returned, and DECIMALs as floats (DuckDB types a literal like 1.0 DECIMAL where BigQuery
    says FLOAT64, and `query pair` printed "weight 1.0" here and "weight 1" there)."""
    return tuple(v.astimezone(dt.timezone.utc).replace(tzinfo=None) if isinstance(v, dt.datetime) and v.tzinfo
                 else float(v) if isinstance(v, decimal.Decimal) else v
                 for v in row)


class DuckDBWarehouse:
    """``read_only`` for analysts (``query``, ``export``): the file is never written, so it may sit
    on a read-only mount, and readers share it. Otherwise the tables are created now, so a
    warehouse that cannot be written (locked, read-only, no such folder) fails here, before a run."""

    def __init__(self, path: str, read_only: bool = False, lock_retry_s: float = LOCK_RETRY_S, create: bool = True):
        if not path or path.startswith(":memory:"):
            raise ValueError(f"{path or 'an empty path'!r} is not a warehouse: an in-memory database vanishes "
                             "with each connection; pass --warehouse PATH of a file")
        self.url = path
        self.path = path
        self.read_only = read_only
        if not create and not Path(path).exists():  # migrate: never a new file
            raise NotInitialised(f"no warehouse at {path}: nothing was created; `social-mentors warehouse init "
                                 f"--warehouse {path}` creates one")
        with connect(path, lock_retry_s, read_only=read_only or not create) as connection:
            if not read_only and create:  # a new file gets its tables now; a bad path fails here, before a run
                self._create_if_new(connection)

    def _create_if_new(self, connection: duckdb.DuckDBPyConnection) -> bool:
        """Create tables, views and the version record in a file that has none of them. A file
        written before is left as it is: :meth:`prepare` checks it, :meth:`migrate` changes it."""
        existing = duckdb_schema.tables(connection)
        if versions.VERSION_TABLE in existing or any(t in existing for t in schemas.WAREHOUSE_TABLES):
            return False
        for table in schemas.WAREHOUSE_TABLES:
            connection.execute(schemas.duckdb_ddl(table))
        duckdb_schema.create_views(connection)
        duckdb_schema.record_version(connection, "created")
        return True

    def prepare(self, update_definitions: bool = False) -> None:
        """At launch (``run``, ``warehouse init``): a new file is created; one written by another
        schema version stops the run with the migrate command (schemas.versions.WarehouseOutdated).
        The views are DuckDB's own copies, so they are always rebuilt."""
        with connect(self.path) as connection:
            if self._create_if_new(connection):
                return
            versions.check(self.url, duckdb_schema.recorded_version(connection))
            migration.check_columns(self.url, duckdb_schema.column_types(connection), "duckdb")
            changed = duckdb_schema.changed_views(connection)
            duckdb_schema.create_views(connection)
        for view in changed:
            logging.getLogger("social_mentors.warehouse").warning(
                "%s: rebuilt the view %s, which differed from this release's definition", self.url, view)

    def check_current(self) -> None:
        """The readers' check (``query``, ``export``, ``report``...), reading only: raise
        NotAWarehouse for a DuckDB file without the warehouse's tables, WarehouseOutdated for one of
        another schema version and DefinitionsChanged for a view that is not this release's; each
        names the command that fixes it."""
        with connect(self.path, read_only=True) as connection:
            duckdb_schema.require_warehouse(connection, self.url)
            versions.check(self.url, duckdb_schema.recorded_version(connection))
            migration.check_columns(self.url, duckdb_schema.column_types(connection), "duckdb")
            versions.check_definitions(self.url, duckdb_schema.changed_views(connection))

    def recorded_version(self) -> Optional[tuple[int, str]]:
        with connect(self.path) as connection:
            return duckdb_schema.recorded_version(connection)

    def migrate(self) -> migration.Migrated:
        """Bring the file to this release's schema (warehouse.duckdb_schema). Open it with
        ``create=False``: a missing file is not created. A file that is not a warehouse is refused
        before it is opened for writing, so it is left as it was."""
        with connect(self.path, read_only=True) as connection:
            duckdb_schema.require_warehouse(connection, self.url)
        with connect(self.path) as connection:
            return duckdb_schema.migrate(connection, self.url)

    def held_open(self) -> ContextManager[None]:
        """One connection for the writes inside (``duckdb_connection.held``): a bounded run's batches."""
        return held(self.path)

    def _arrow(self, table: str, rows: list[dict[str, Any]]) -> pa.Table:
        # Arrow converts the row dicts in C++ (a missing key is a null), where a list per column
        # cost a Python loop per value: 1.4 s of a 1M-event run's pair_scores write.
        rows_type = pa.struct([(field["name"], _ARROW_TYPES[schemas.column_types(field["type"])[0]])
                               for field in schemas.avro_schema(table)["fields"]])
        return pa.Table.from_struct_array(pa.array(rows, type=rows_type))

    def _insert(self, table: str, rows: list[dict[str, Any]], conflict: str, count_kept: str = "") -> int:
        """Insert ``rows`` with an ON CONFLICT clause; returns what ``count_kept`` (a query over
        ``incoming_rows``, in the same connection, before the insert) counts, else 0."""
        if not rows:
            return 0
        columns = schemas.field_names(table)
        stamps = set(schemas.timestamp_fields(table))
        select = ", ".join(f"epoch_ms({c}) AS {c}" if c in stamps else c for c in columns)
        batch = self._arrow(table, rows)
        with connect(self.path) as connection:
            connection.register("raw_rows", batch)
            connection.execute(f"CREATE OR REPLACE TEMP VIEW incoming_rows AS SELECT {select} FROM raw_rows")
            kept = connection.execute(count_kept).fetchone()[0] if count_kept else 0
            connection.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM incoming_rows {conflict}"
            )
        return kept

    def _upsert(self, table: str, condition: str) -> str:
        key = schemas.table_layout(table)["primary_key"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in schemas.field_names(table) if c not in key)
        return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {condition}"

    def write_scores(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written:
        """Upsert rows: one per (site, author, reader, window), chosen as the module says; returns how
        many rows were not stored because a row of another run with more data was kept. ``bulk``
        changes nothing here: every write is one statement."""
        key = schemas.table_layout("pair_scores")["primary_key"]
        chosen: dict[tuple, dict[str, Any]] = {}
        kept = 0
        for row in rows:  # one command may not update a row twice: choose per key first
            k = tuple(row[c] for c in key)
            current = chosen.get(k)
            if current is None or replaces(row, current):
                chosen[k], loser = row, current
            else:
                loser = row
            if loser is not None and loser["run_started_at"] != chosen[k]["run_started_at"]:
                kept += 1
        on_key = " AND ".join(f"new.{c} = pair_scores.{c}" for c in key)
        count_kept = (  # stored rows of another run that the incoming row does not replace
            f"SELECT COUNT(*) FROM incoming_rows AS new JOIN pair_scores ON {on_key} "
            f"WHERE new.run_started_at <> pair_scores.run_started_at AND NOT ({_replaces('new', 'pair_scores')})"
        )
        kept += self._insert("pair_scores", list(chosen.values()),
                             self._upsert("pair_scores", _replaces("excluded", "pair_scores")), count_kept)
        return Written([], kept)  # typed from the same schema as the table: DuckDB refuses none, or fails the write

    def write_dead_letters(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written:
        """Append dead letters; one already stored for the same run, origin and error is kept as it was."""
        key = schemas.table_layout("dead_letters")["primary_key"]
        unique = {tuple(row[c] for c in key): row for row in rows}
        self._insert("dead_letters", list(unique.values()), "ON CONFLICT DO NOTHING")
        return Written([])

    def write_ledger(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written:
        """Upsert ledger counts: the highest pane of each run, outcome and reason is kept."""
        key = schemas.table_layout("run_ledger")["primary_key"]
        newest: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            k = tuple(row[c] for c in key)
            if k not in newest or row["pane_index"] >= newest[k]["pane_index"]:
                newest[k] = row
        self._insert("run_ledger", list(newest.values()),
                     self._upsert("run_ledger", "excluded.pane_index >= run_ledger.pane_index"))
        return Written([])

    def write_actors(self, rows: list[dict[str, Any]]) -> None:
        """Upsert people: a later load of a (site, actor_id) replaces its name and signal."""
        key = schemas.table_layout("actors")["primary_key"]
        self._insert("actors", list({tuple(row[c] for c in key): row for row in rows}.values()),
                     self._upsert("actors", "TRUE"))

    def record_run(self, row: dict[str, Any]) -> None:
        """Store a run's status (a run has one row: its newest status)."""
        self._insert("runs", [row], self._upsert("runs", "TRUE"))

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
        """Run an analyst query from ``schemas/queries`` with named parameters (never formatted in)."""
        sql = schemas.query_sql(name, "duckdb")
        with connect(self.path, read_only=self.read_only) as connection:
            # BigQuery's TIMESTAMP parameters arrive as DuckDB's TIMESTAMPTZ: compare and print them in UTC.
            connection.execute("SET TimeZone = 'UTC'")
            result = connection.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
            return [d[0] for d in result.description], [_naive_row(row) for row in result.fetchall()]

    def export(self, table: str, all_rows: bool = False) -> tuple[list[str], Iterator[tuple]]:
        """The logical rows of ``table`` (its latest view), or with ``all_rows`` the table's."""
        columns, batches = self.export_batches(table, all_rows)
        rows = (row for batch in batches for row in zip(*(column.to_pylist() for column in batch.columns)))
        return columns, rows

    def export_batches(self, table: str, all_rows: bool = False,
                       batch_rows: int = EXPORT_BATCH_ROWS) -> tuple[list[str], Iterator[pa.RecordBatch]]:
        """:meth:`export`'s rows as Arrow record batches of ``batch_rows``, in the same order (``export``
        formats them column by column: pipelines.commands.columnar_output)."""
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}; choose one of {', '.join(schemas.WAREHOUSE_TABLES)}")
        order = ", ".join(schemas.table_layout(table)["primary_key"])
        columns = schemas.field_names(table)
        # the same logical rows as BigQuery's view
        source = table if all_rows or table in UPSERTED_AS_ITS_VIEW else schemas.latest_view(table)

        def batches() -> Iterator[pa.RecordBatch]:
            # One cursor, read in Arrow record batches: one snapshot of the table (paging with
            # LIMIT/OFFSET repeated or skipped rows written between pages, and re-sorted the table per
            # page), in memory of one batch. The file stays open until the export is read.
            with connect(self.path, read_only=self.read_only) as connection, \
                    tempfile.TemporaryDirectory(prefix="social-mentors-export-") as spill:
                connection.execute(f"SET memory_limit = '{EXPORT_MEMORY_LIMIT}'")
                connection.execute("SET temp_directory = '%s'" % spill.replace("'", "''"))
                # A relation, not a DB-API result: DuckDB 2 warns that Arrow from the latter makes an
                # extra copy of the rows. DuckDB 2 names it to_arrow_reader; 1.x fetch_record_batch.
                result = connection.sql(f"SELECT {', '.join(columns)} FROM {source} ORDER BY {order}")
                arrow_reader = getattr(result, "to_arrow_reader", None) or result.fetch_record_batch
                yield from arrow_reader(batch_rows)

        return columns, batches()

    def count(self, table: str, all_rows: bool = False) -> int:
        """Rows of the table's latest view (the logical rows), or with ``all_rows`` of the table."""
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        with connect(self.path, read_only=self.read_only) as connection:
            source = table if all_rows or table in UPSERTED_AS_ITS_VIEW else schemas.latest_view(table)
            return connection.execute(f"SELECT COUNT(*) FROM {source}").fetchone()[0]

    def sql(self, text: str) -> tuple[list[str], list[tuple]]:
        """One analyst's read-only statement (``social-mentors sql``), on a read-only connection."""
        from warehouse import check_read_only

        check_read_only(text, "duckdb")
        # connect() waits out a writer's lock (a streaming run holds it while it writes), as queries do
        with connect(self.path, read_only=True) as connection:
            try:
                result = connection.execute(text)
                return [d[0] for d in result.description], result.fetchall()
            except duckdb.Error as error:
                raise ValueError(str(error).splitlines()[0]) from error
