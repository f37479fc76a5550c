"""JSON Lines and CSV of Arrow record batches, column by column: the exact bytes of
:func:`pipelines.commands.output.write_rows` for the same rows, at a few microseconds a row instead of
about 170 (``export`` of the embedded warehouse; the BigQuery warehouse's export and every query still
go through ``write_rows``, and the parity tests compare the two warehouses byte for byte).

In: the column names and record batches (DuckDB reads them from one cursor). Out: text written to a
stream, batch by batch, so memory holds one batch whatever the table's size. How: each column becomes
an Arrow string array of its cells' texts in a few vectorized steps (integers cast, booleans chosen,
timestamps cast and given their T and Z, floats cast by DuckDB, which writes Python's repr, plain
strings quoted or kept), and each row's line is joined from those arrays by Arrow. A cell the
vectorized step is not sure of (a string with a character JSON escapes or CSV quotes, a formula
start, a float that is not finite, a timestamp outside Python's years 1 to 9999, a type this module
does not know) is formatted by output.py's own functions, one cell at a time, so its text is theirs
by construction.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import os
import sys
from typing import Any, Callable, Iterable, Optional, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.commands.output import _json_text, _json_value, csv_cell

# Strings written as they are between two quotes by json.dumps: printable ASCII but " and \.
_JSON_PLAIN = r'^[ !#-\[\]-~]*$'
# CSV cells the csv module writes unquoted and csv_cell leaves alone: no formula start (= + - @ tab
# CR), no delimiter, quote or line break, and (to be safe) no control character at all.
_CSV_PLAIN = r'^([^=+\-@\t\r\n,"\x00-\x1f\x7f][^\r\n,"\x00-\x1f\x7f]*)?$'
# Python's datetime holds years 1 to 9999: as microseconds since 1970
_FIRST_US, _LAST_US = -62_135_596_800_000_000, 253_402_300_799_999_999
# Floats that repr writes in each of its ways: fixed and exponent notation on both sides of its
# switches (1e16, 1e-4), 17-digit values, subnormals, the extremes, signed zero.
FLOAT_PROBES = [0.0, 1.0, 2.5, 0.1, 0.1 + 0.2, 1 / 3, 2 / 3, 100.0, 1e15, 1e16, 9999999999999998.0, 1e16 + 2,
                123456789012345680.0, 1e21, 1e22, 1e23, 1e-4, 1e-5, 0.00012345, 9.999999999999999e-05, 5e-324,
                2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 9007199254740993.0,
                2.0 ** 63, 0.12345678901234567, 1234.5678901234567, 4.35, 0.3, 1.5e-7, 123.456, 6.02214076e23,
                1.602176634e-19]


def _csv_text(value: Any) -> str:
    """One CSV cell's text, as csv.writer writes it in a row of several cells."""
    cell = csv_cell(value)
    if cell == "":
        return ""  # (csv.writer quotes an empty cell only when it is a row's one cell)
    line = io.StringIO()
    csv.writer(line).writerow([cell])
    return line.getvalue()[:-2]  # without the writer's \r\n


def _json_cell(value: Any) -> str:
    return _json_text(_json_value(value))


def _patched(text: pa.Array, odd: pa.Array, column: pa.Array, cell: Callable[[Any], str]) -> pa.Array:
    """``text`` with its ``odd`` cells formatted by ``cell`` from the column's Python values."""
    if not pc.any(odd).as_py():
        return text
    values = column.filter(odd).to_pylist()
    return pc.replace_with_mask(text, odd, pa.array([cell(v) for v in values], pa.string()))


def python_float_texts(floats: pa.Table) -> list[pa.Array]:
    """Each float column's values as repr writes them (nulls as 0.0: they are replaced)."""
    texts = []
    for column in floats.columns:
        values = column.combine_chunks().fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        texts.append(pa.array(list(map(float.__repr__, values.tolist())), pa.string()))
    return texts


class DuckDBFloatTexts:
    """DuckDB's CAST(DOUBLE AS VARCHAR), in C++: Python's repr (the shortest digits that read back as
    the same double, in repr's notation), checked on 4.4 million floats of every bit pattern with
    DuckDB 1.1.3 and 2.0.1, about seven times faster than repr. One in-memory connection."""

    def __init__(self) -> None:
        import duckdb

        self.connection = duckdb.connect()

    def __call__(self, floats: pa.Table) -> list[pa.Array]:
        casts = ", ".join(f'CAST("{name}" AS VARCHAR)' for name in floats.column_names)
        self.connection.register("floats", floats)
        try:
            texts = self.connection.sql(f"SELECT {casts} FROM floats").to_arrow_table()
        finally:
            self.connection.unregister("floats")
        return [column.combine_chunks() for column in texts.columns]

    def agrees_with_repr(self) -> bool:
        probes = pa.array(FLOAT_PROBES + [-v for v in FLOAT_PROBES])
        return self(pa.table({"x": probes}))[0].to_pylist() == [repr(v) for v in probes.to_pylist()]

    def close(self) -> None:
        self.connection.close()


def float_texts_function() -> Callable[[pa.Table], list[pa.Array]]:
    """DuckDB's cast where it writes the probes as repr does (an engine that wrote them otherwise, or
    failed, is not used); else repr itself, exact and slower."""
    try:
        duck = DuckDBFloatTexts()
        if duck.agrees_with_repr():
            return duck
        duck.close()
    except Exception:  # noqa: BLE001 (any failure: the exact, slower way)
        pass
    return python_float_texts


class _Lines:
    """Formats record batches of one export into its text: one line per row, line ending included."""

    def __init__(self, columns: list[str], fmt: str, float_texts: Callable[[pa.Table], list[pa.Array]]):
        self.columns, self.fmt, self.float_texts = columns, fmt, float_texts
        self.jsonl = fmt == "jsonl"
        self.cell = _json_cell if self.jsonl else _csv_text
        self.null = "null" if self.jsonl else ""

    def __call__(self, batch: pa.RecordBatch) -> pa.Array:
        """JSON objects as output.json_line writes them, or CSV rows as csv.writer does (cells joined
        by commas, \r\n): a string array of one line per row."""
        floats = [i for i, column in enumerate(batch.columns) if column.type in (pa.float64(), pa.float32())]
        float_texts = dict(zip(floats, self.float_texts(pa.table(
            {f"c{i}": batch.column(i).cast(pa.float64()) for i in floats})))) if floats else {}
        parts: list[Any] = []
        for i, name in enumerate(self.columns):
            if self.jsonl:
                parts.append(("{" if i == 0 else ", ") + json.dumps(name) + ": ")
            elif i:
                parts.append(",")
            parts.extend(self.cells(batch.column(i), float_texts.get(i)))
        parts.append("}\n" if self.jsonl else "\r\n")
        merged: list[Any] = []  # adjacent constants as one: each part costs Arrow a step per row
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif not (isinstance(part, str) and not part):
                merged.append(part)
        return pc.binary_join_element_wise(*merged, "")

    def cells(self, column: pa.Array, float_text: Optional[pa.Array] = None) -> list[Any]:
        """The column's cells as text, as write_rows writes them: a string array without nulls,
        between constant texts (the quotes every cell of the column has) where there are any."""
        kind, jsonl = column.type, self.jsonl
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            plain = pc.match_substring_regex(column, _JSON_PLAIN if jsonl else _CSV_PLAIN)
            if not column.null_count and pc.all(plain).as_py():
                return ['"', column, '"'] if jsonl else [column]
            text = pc.binary_join_element_wise('"', column, '"', "") if jsonl else column
            return [self._finish(column, text.cast(pa.string()), pc.invert(plain))]
        if pa.types.is_integer(kind):
            return [self._finish(column, pc.cast(column, pa.string()))]
        if pa.types.is_boolean(kind):
            return [self._finish(column, pc.if_else(column, "true", "false"))]
        if float_text is not None:
            return [self._finish(column, float_text, pc.invert(pc.is_finite(column)))]  # NaN, Infinity
        if pa.types.is_timestamp(kind) and kind.unit == "us":
            return self._timestamps(column)
        # dates, decimals, lists...: output.py's functions, cell by cell
        return [pa.array([self.cell(v) for v in column.to_pylist()], pa.string())]

    def _timestamps(self, column: pa.Array) -> list[Any]:
        micros = column.view(pa.int64())  # UTC whatever the zone: a zone's datetimes are written in UTC too
        low, high = pc.min_max(micros).values()
        odd = None
        if low.is_valid and (low.as_py() < _FIRST_US or high.as_py() > _LAST_US):
            odd = pc.or_(pc.less(micros, _FIRST_US), pc.greater(micros, _LAST_US))
            micros = pc.if_else(odd, pa.scalar(None, pa.int64()), micros)
        sample = micros.slice(0, 1000)
        if odd is None and pc.count_distinct(sample).as_py() * 10 < len(sample):  # a window's bounds, a run's start
            encoded = pc.dictionary_encode(micros)
            text = pc.take(self._iso(encoded.dictionary), encoded.indices)
        else:
            text = self._iso(micros)
        if odd is None and not column.null_count:
            return ['"', text, 'Z"'] if self.jsonl else [text, "Z"]
        text = pc.binary_join_element_wise(*(('"', text, 'Z"') if self.jsonl else (text, "Z")), "")
        return [self._finish(column, text, odd)]  # (Python cannot hold the odd ones: the error the rows gave)

    @staticmethod
    def _iso(micros: pa.Array) -> pa.Array:
        """2026-03-02T00:00:00.000005 (Arrow casts to four-digit years, six decimals, and a space)."""
        return pc.binary_replace_slice(pc.cast(micros.view(pa.timestamp("us")), pa.string()), 10, 11, "T")

    def _finish(self, column: pa.Array, text: pa.Array, odd: Optional[pa.Array] = None) -> pa.Array:
        """``text`` with its ``odd`` cells formatted by output.py's functions, its nulls as null cells."""
        valid = column.is_valid()
        if odd is not None:
            text = _patched(text, pc.and_kleene(valid, odd), column, self.cell)
        return pc.if_else(valid, text, self.null) if column.null_count else text


def _write(out: TextIO, lines: pa.Array) -> None:
    """The lines of a string array, read from its data buffer in one piece: as bytes to the stream's
    binary buffer when it encodes UTF-8 (stdout), else as one str."""
    lines = lines.cast(pa.large_string())  # 64-bit offsets: a batch's text may pass 2 GiB
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64, count=len(lines) + 1, offset=8 * lines.offset)
    text = data[int(bounds[0]):int(bounds[-1])]
    binary = getattr(out, "buffer", None)
    if binary is not None and os.linesep == "\n" and codecs.lookup(getattr(out, "encoding", None) or "ascii").name == "utf-8" \
            and getattr(out, "errors", "strict") in ("strict", "surrogateescape"):
        out.flush()
        binary.write(text)
    else:
        out.write(text.to_pybytes().decode("utf-8"))


def write_batches(columns: list[str], batches: Iterable[pa.RecordBatch], fmt: str, out: Optional[TextIO] = None,
                  float_texts: Optional[Callable[[pa.Table], list[pa.Array]]] = None) -> int:
    """Record batches to ``out`` (stdout) as JSON Lines or CSV, exactly as write_rows writes their
    rows (floats at full precision, timestamps in ISO 8601 UTC, CSV formulas defused); the row count.
    ``float_texts`` turns a table of float columns into their repr texts (default: DuckDB's cast
    where it agrees with repr, see :func:`float_texts_function`)."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"write_batches writes jsonl or csv, not {fmt!r}")
    out = out or sys.stdout
    if fmt == "csv":
        csv.writer(out).writerow(columns)
    lines = _Lines(columns, fmt, float_texts or float_texts_function())
    count = 0
    try:
        for batch in batches:
            if batch.num_rows:
                _write(out, lines(batch))
                count += batch.num_rows
    finally:
        if isinstance(lines.float_texts, DuckDBFloatTexts) and float_texts is None:
            lines.float_texts.close()
    return count
