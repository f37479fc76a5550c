"""The column-by-column export writes exactly what write_rows writes for the same rows: write_rows
(the row-by-row path, which BigQuery's export and every query keep) is the oracle here."""
import datetime as dt
import io
import random
import struct

import pyarrow as pa
import pytest

import schemas
from hostile_rows import hostile_table
from pipelines.commands.columnar_output import (FLOAT_PROBES, DuckDBFloatTexts, float_texts_function,
                                                python_float_texts, write_batches)
from pipelines.commands.output import write_rows


def _both(table: pa.Table, fmt: str, batch_rows: int = 7, **options) -> tuple[str, str]:
    """(write_batches' text, write_rows' text) of ``table``."""
    columnar, rows = io.StringIO(), io.StringIO()
    write_batches(table.column_names, table.to_batches(max_chunksize=batch_rows), fmt, columnar, **options)
    write_rows(table.column_names, zip(*(c.to_pylist() for c in table.columns)), fmt, rows)
    return columnar.getvalue(), rows.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("table", schemas.WAREHOUSE_TABLES)
def test_hostile_rows_are_written_as_write_rows_writes_them(table, fmt):
    columnar, rows = _both(hostile_table(table, rows=120), fmt)
    assert columnar == rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_floats_of_every_bit_pattern_are_written_as_repr_writes_them(fmt):
    """DuckDB's cast writes the floats (it agrees with repr); any double, NaN's many bit patterns, the
    infinities, subnormals and nulls included."""
    rng = random.Random(11)
    floats = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(20_000)]
    floats += [rng.random() * 10.0 ** rng.randint(-30, 30) for _ in range(20_000)]
    floats += [round(rng.random() * 1000, rng.randint(0, 16)) for _ in range(10_000)]
    floats += [10.0 ** e for e in range(-323, 309)] + FLOAT_PROBES + [-v for v in FLOAT_PROBES]
    floats += [float("nan"), float("inf"), float("-inf"), None, -0.0]
    table = pa.table({"x": pa.array(floats, pa.float64()), "y": pa.array(floats[::-1], pa.float64())})
    columnar, rows = _both(table, fmt, batch_rows=4096)
    assert columnar == rows
    assert isinstance(float_texts_function(), DuckDBFloatTexts)  # the fast way was the one tested


def test_repr_itself_is_the_way_when_duckdb_would_write_floats_otherwise():
    table = hostile_table("pair_scores", rows=60)
    for fmt in ("jsonl", "csv"):
        columnar, rows = _both(table, fmt, float_texts=python_float_texts)
        assert columnar == rows


def test_a_duckdb_that_writes_floats_otherwise_is_not_used(monkeypatch):
    monkeypatch.setattr(DuckDBFloatTexts, "__call__", lambda self, floats: [
        pa.array([format(v, ".17g") for v in c.fill_null(0.0).to_pylist()]) for c in floats.columns])
    assert float_texts_function() is python_float_texts


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_timestamps_with_a_zone_float32_and_unknown_types_are_written_as_write_rows_writes_them(fmt):
    stamps = [dt.datetime(2026, 3, 2, 1, 2, 3, 4, tzinfo=dt.timezone.utc), None,
              dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)]
    table = pa.table({
        "paris": pa.array(stamps, pa.timestamp("us", tz="Europe/Paris")),
        "millis": pa.array([s.replace(tzinfo=None) if s else None for s in stamps], pa.timestamp("ms")),
        "day": pa.array([dt.date(2026, 3, 2), None, dt.date(1, 1, 1)]),
        "single": pa.array([0.1, None, float("nan")], pa.float32()),
        "small": pa.array([1, None, -128], pa.int8()),
        "amount": pa.array(["0.30", None, "-1E+2"]).cast(pa.decimal128(10, 2)),
        "tags": pa.array([["a", "=b"], None, []]),
    })
    columnar, rows = _both(table, fmt)
    assert columnar == rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_few_distinct_timestamps_are_formatted_once_each_and_written_the_same(fmt):
    starts = [dt.datetime(2026, 1, 5) + dt.timedelta(weeks=n % 3) for n in range(3000)]
    table = pa.table({"window_start": pa.array(starts, pa.timestamp("us")),
                      "at": pa.array([s + dt.timedelta(microseconds=n) for n, s in enumerate(starts)],
                                     pa.timestamp("us"))})
    columnar, rows = _both(table, fmt, batch_rows=2000)
    assert columnar == rows


def test_a_timestamp_python_cannot_hold_fails_as_the_rows_did():
    micros = pa.array([0, 253_402_300_800_000_000], pa.int64()).view(pa.timestamp("us"))  # year 10000
    table = pa.table({"at": micros})
    with pytest.raises((OverflowError, ValueError)) as columnar:
        write_batches(["at"], table.to_batches(), "jsonl", io.StringIO())
    with pytest.raises((OverflowError, ValueError)) as rows:
        write_rows(["at"], zip(table.column(0).to_pylist()), "jsonl", io.StringIO())
    assert type(columnar.value) is type(rows.value)


def test_bytes_go_to_the_binary_buffer_of_a_utf8_stream_and_str_to_others():
    table = hostile_table("dead_letters", rows=40)
    for fmt in ("jsonl", "csv"):
        expected = _both(table, fmt)[1]
        binary = io.BytesIO()
        stream = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        write_batches(table.column_names, table.to_batches(max_chunksize=9), fmt, stream)
        stream.flush()
        assert binary.getvalue() == expected.encode("utf-8")
        latin = io.BytesIO()
        stream = io.TextIOWrapper(latin, encoding="utf-16", newline="")
        write_batches(table.column_names, table.to_batches(max_chunksize=9), fmt, stream)
        stream.flush()
        assert latin.getvalue().decode("utf-16") == expected
