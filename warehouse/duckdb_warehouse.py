"""The embedded warehouse: one DuckDB file, tables derived from ``schemas/``.

``pair_scores`` keeps the newest pane of every (site, author, reader, window): writes are upserts
keyed by the table's primary key, so replaying the same input is idempotent and a late pane replaces
the on-time one. ``dead_letters`` is keyed by (origin, error_kind): a replayed bad record is stored
once.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator

import duckdb
import pyarrow as pa

import schemas

# One database handle per file and process: DuckDB lets a single process hold a file open for
# writing, and Beam's in-process runners call the sink from several threads.
_DATABASES: dict[str, duckdb.DuckDBPyConnection] = {}
_LOCK = threading.RLock()

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BLOB": pa.binary(),
    "TIMESTAMP": pa.int64(),  # epoch millis on the way in; epoch_ms() converts in SQL
}


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    with _LOCK:
        if path not in _DATABASES:
            try:
                connection = duckdb.connect(path)
            except duckdb.IOException as error:
                raise RuntimeError(
                    f"cannot open the warehouse {path}: {error}. Is another social-mentors process "
                    "using it? Stop it, or pass a different --warehouse PATH."
                ) from error
            for table in schemas.WAREHOUSE_TABLES:
                connection.execute(schemas.duckdb_ddl(table))
            for view in schemas.VIEWS:
                connection.execute(schemas.query_sql(view, "duckdb"))
            _DATABASES[path] = connection
        return _DATABASES[path]


def close_all() -> None:
    """Close every open database (tests, and the CLI before it exits)."""
    with _LOCK:
        for connection in _DATABASES.values():
            connection.close()
        _DATABASES.clear()


class DuckDBWarehouse:
    def __init__(self, path: str):
        self.url = path
        self.path = path
        self._connection = _connect(path)

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
        with _LOCK:
            cursor = self._connection.cursor()
            try:
                cursor.register("incoming_rows", batch)
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM incoming_rows {conflict}"
                )
                cursor.unregister("incoming_rows")
            finally:
                cursor.close()
        return len(rows)

    def write_scores(self, rows: list[dict[str, Any]]) -> int:
        """Upsert rows, keeping the newest pane of each (site, author, reader, window)."""
        key = schemas.table_layout("pair_scores")["primary_key"]
        newest: dict[tuple, dict[str, Any]] = {}
        for row in rows:  # one command may not update a row twice: keep the newest pane per key
            k = tuple(row[c] for c in key)
            if k not in newest or row["pane_index"] >= newest[k]["pane_index"]:
                newest[k] = row
        updates = ", ".join(f"{c} = excluded.{c}" for c in schemas.field_names("pair_scores") if c not in key)
        conflict = (
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
            "WHERE excluded.pane_index >= pair_scores.pane_index"
        )
        return self._insert("pair_scores", list(newest.values()), conflict)

    def write_dead_letters(self, rows: list[dict[str, Any]]) -> int:
        """Append dead letters; one already stored for the same origin and error is kept as it was."""
        key = schemas.table_layout("dead_letters")["primary_key"]
        unique = {tuple(row[c] for c in key): row for row in rows}
        return self._insert("dead_letters", list(unique.values()), "ON CONFLICT DO NOTHING")

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
        """Run an analyst query from ``schemas/queries`` with named parameters (never formatted in)."""
        sql = schemas.query_sql(name, "duckdb")
        with _LOCK:
            cursor = self._connection.cursor()
            try:
                result = cursor.execute(sql, params)
                columns = [d[0] for d in result.description]
                return columns, result.fetchall()
            finally:
                cursor.close()

    def export(self, table: str) -> tuple[list[str], Iterator[tuple]]:
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}; choose one of {', '.join(schemas.WAREHOUSE_TABLES)}")
        order = ", ".join(schemas.table_layout(table)["primary_key"])
        with _LOCK:
            cursor = self._connection.cursor()
            result = cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
            columns = [d[0] for d in result.description]

        def rows() -> Iterator[tuple]:
            try:
                while True:
                    batch = result.fetchmany(10_000)
                    if not batch:
                        return
                    yield from batch
            finally:
                cursor.close()

        return columns, rows()

    def count(self, table: str) -> int:
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        with _LOCK:
            return self._connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
