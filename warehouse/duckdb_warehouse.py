"""The embedded warehouse: one DuckDB file, tables derived from ``schemas/``.

``pair_scores`` keeps the newest pane of every (site, author, reader, window): writes are upserts
keyed by the table's primary key, so replaying the same input is idempotent and a late pane replaces
the on-time one. ``dead_letters`` is keyed by (origin, error_kind): a replayed bad record is stored
once. Writers and readers may be different processes: see :func:`connect`.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import duckdb
import pyarrow as pa

import schemas
from warehouse import RefusedRow

# DuckDB lets one process at a time hold a file. Every operation opens the file, works and closes
# it again, so a streaming pipeline (the writer) and an analyst's query (a reader in another
# process) take turns instead of one locking the other out for hours; a busy file is retried.
_LOCK = threading.RLock()
_INITIALIZED: set[str] = set()
LOCK_RETRY_S = 60.0
EXPORT_BATCH_ROWS = 10_000

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BLOB": pa.binary(),
    "TIMESTAMP": pa.int64(),  # epoch millis on the way in; epoch_ms() converts in SQL
}


@contextlib.contextmanager
def connect(path: str, retry_s: float = LOCK_RETRY_S) -> Iterator[duckdb.DuckDBPyConnection]:
    """An open connection to the warehouse file, its tables and views in place; closed afterwards."""
    deadline = time.monotonic() + retry_s
    with _LOCK:
        while True:
            try:
                connection = duckdb.connect(path)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"cannot open the warehouse {path}: {error}. If another process holds it, wait for "
                        "it or pass a different --warehouse PATH."
                    ) from error
                time.sleep(0.05)
        try:
            if path not in _INITIALIZED:
                for table in schemas.WAREHOUSE_TABLES:
                    connection.execute(schemas.duckdb_ddl(table))
                for view in schemas.VIEWS:
                    connection.execute(schemas.query_sql(view, "duckdb"))
                _INITIALIZED.add(path)
            yield connection
        finally:
            connection.close()


def _recency(row: dict[str, Any]) -> tuple[int, int]:
    """Which of two rows of one pair and window is newer: the later run's, then the higher pane."""
    return row["run_started_at"], row["pane_index"]


class DuckDBWarehouse:
    def __init__(self, path: str):
        self.url = path
        self.path = path
        with connect(path):  # create the tables now, so that a bad path fails here
            pass

    def _arrow(self, table: str, rows: list[dict[str, Any]]) -> pa.Table:
        columns = schemas.field_names(table)
        types = {}
        for field in schemas.avro_schema(table)["fields"]:
            duck, _, _ = schemas.column_types(field["type"])
            types[field["name"]] = _ARROW_TYPES[duck]
        return pa.table({c: pa.array([row.get(c) for row in rows], type=types[c]) for c in columns})

    def _insert(self, table: str, rows: list[dict[str, Any]], conflict: str) -> int:
        if not rows:
            return 0
        columns = schemas.field_names(table)
        stamps = set(schemas.timestamp_fields(table))
        select = ", ".join(f"epoch_ms({c})" if c in stamps else c for c in columns)
        batch = self._arrow(table, rows)
        with connect(self.path) as connection:
            connection.register("incoming_rows", batch)
            connection.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM incoming_rows {conflict}"
            )
        return len(rows)

    def write_scores(self, rows: list[dict[str, Any]], bulk: bool = False) -> list[RefusedRow]:
        """Upsert rows, keeping the newest row of each (site, author, reader, window): the latest run's,
        then the highest pane (a retried, older pane of the same run never replaces a newer one).
        ``bulk`` changes nothing here: every write is one statement."""
        key = schemas.table_layout("pair_scores")["primary_key"]
        newest: dict[tuple, dict[str, Any]] = {}
        for row in rows:  # one command may not update a row twice: keep the newest pane per key
            k = tuple(row[c] for c in key)
            if k not in newest or _recency(row) >= _recency(newest[k]):
                newest[k] = row
        updates = ", ".join(f"{c} = excluded.{c}" for c in schemas.field_names("pair_scores") if c not in key)
        conflict = (
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
            "WHERE excluded.run_started_at > pair_scores.run_started_at OR "
            "(excluded.run_started_at = pair_scores.run_started_at AND excluded.pane_index >= pair_scores.pane_index)"
        )
        self._insert("pair_scores", list(newest.values()), conflict)
        return []  # typed from the same schema as the table: DuckDB refuses none, or fails the write

    def write_dead_letters(self, rows: list[dict[str, Any]], bulk: bool = False) -> list[RefusedRow]:
        """Append dead letters; one already stored for the same origin and error is kept as it was."""
        key = schemas.table_layout("dead_letters")["primary_key"]
        unique = {tuple(row[c] for c in key): row for row in rows}
        self._insert("dead_letters", list(unique.values()), "ON CONFLICT DO NOTHING")
        return []

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
        """Run an analyst query from ``schemas/queries`` with named parameters (never formatted in)."""
        sql = schemas.query_sql(name, "duckdb")
        with connect(self.path) as connection:
            result = connection.execute(sql, params)
            return [d[0] for d in result.description], result.fetchall()

    def export(self, table: str) -> tuple[list[str], Iterator[tuple]]:
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}; choose one of {', '.join(schemas.WAREHOUSE_TABLES)}")
        order = ", ".join(schemas.table_layout(table)["primary_key"])
        columns = schemas.field_names(table)

        def rows() -> Iterator[tuple]:
            # One cursor, read in Arrow record batches: one snapshot of the table (paging with
            # LIMIT/OFFSET repeated or skipped rows written between pages, and re-sorted the table per
            # page), in memory of one batch. The file stays open until the export is read.
            with connect(self.path) as connection:
                result = connection.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                # DuckDB 2 names it to_arrow_reader; 1.x fetch_record_batch
                arrow_reader = getattr(result, "to_arrow_reader", None) or result.fetch_record_batch
                reader = arrow_reader(EXPORT_BATCH_ROWS)
                for batch in reader:
                    yield from zip(*(column.to_pylist() for column in batch.columns))

        return columns, rows()

    def count(self, table: str) -> int:
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        with connect(self.path) as connection:
            return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
