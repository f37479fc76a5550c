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
def connect(path: str, retry_s: float = LOCK_RETRY_S, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """An open connection to the warehouse file, its tables and views in place; closed afterwards.
    ``read_only`` opens it for reading only (a read-only file or mount, a shared lock) and creates nothing."""
    deadline = time.monotonic() + retry_s
    with _LOCK:
        while True:
            try:
                connection = duckdb.connect(path, read_only=read_only)
                break
            except duckdb.IOException as error:
                locked = "lock" in str(error).lower()
                if not locked or time.monotonic() > deadline:
                    mode = "for reading" if read_only else "for writing"
                    advice = ("another process holds it: wait for it, or pass a different --warehouse PATH" if locked
                              else "check that the folder exists and is writable, or pass a different --warehouse PATH"
                              if not read_only else "check the path and its permissions")
                    raise RuntimeError(f"cannot open the warehouse {path} {mode}: {advice} ({error})") from error
                time.sleep(0.05)
        try:
            if not read_only and path not in _INITIALIZED:
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
    """``read_only`` for analysts (``query``, ``export``): the file is never written, so it may sit
    on a read-only mount, and readers share it. Otherwise the tables are created now, so a
    warehouse that cannot be written (locked, read-only, no such folder) fails here, before a run."""

    def __init__(self, path: str, read_only: bool = False, lock_retry_s: float = LOCK_RETRY_S):
        if not path or path.startswith(":memory:"):
            raise ValueError(f"{path or 'an empty path'!r} is not a warehouse: an in-memory database vanishes "
                             "with each connection; pass --warehouse PATH of a file")
        self.url = path
        self.path = path
        self.read_only = read_only
        with connect(path, lock_retry_s, read_only=read_only):
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
        with connect(self.path, read_only=self.read_only) as connection:
            result = connection.execute(sql, params)
            return [d[0] for d in result.description], result.fetchall()

    def export(self, table: str) -> tuple[list[str], Iterator[tuple]]:
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}; choose one of {', '.join(schemas.WAREHOUSE_TABLES)}")
        order = ", ".join(schemas.table_layout(table)["primary_key"])
        columns = schemas.field_names(table)

        def rows() -> Iterator[tuple]:
            # Pages by primary key order, closing the file between pages, so a long export does
            # not hold the warehouse away from a running pipeline.
            offset = 0
            while True:
                with connect(self.path, read_only=self.read_only) as connection:
                    page = connection.execute(
                        f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order} LIMIT 10000 OFFSET {offset}"
                    ).fetchall()
                if not page:
                    return
                yield from page
                offset += len(page)

        return columns, rows()

    def count(self, table: str) -> int:
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        with connect(self.path, read_only=self.read_only) as connection:
            return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
