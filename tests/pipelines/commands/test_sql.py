"""`social-mentors sql`: one read-only statement on the warehouse, in query's output formats."""
import json

import pytest

from helpers import T0, score_row
from pipelines.cli import main
from warehouse import open_warehouse


@pytest.fixture
def filled(warehouse_path):
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores([score_row("a", "r1", T0 + 7 * 86400_000, 0.5), score_row("a", "r2", T0 + 7 * 86400_000, 0.25)])
    return warehouse_path


def test_select_prints_rows_in_every_format(filled, capsys):
    assert main(["sql", "SELECT reader_id, mentor_score FROM pair_scores_latest ORDER BY reader_id",
                 "--warehouse", filled, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"reader_id": "r1", "mentor_score": 0.5}, {"reader_id": "r2", "mentor_score": 0.25}]
    assert main(["sql", "SELECT COUNT(*) AS n FROM pair_scores", "--warehouse", filled, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "2"]
    assert main(["sql", "WITH x AS (SELECT reader_id FROM pair_scores) SELECT * FROM x ORDER BY 1",
                 "--warehouse", filled]) == 0
    assert capsys.readouterr().out.split() == ["reader_id", "r1", "r2"]


@pytest.mark.parametrize("statement", [
    "DELETE FROM pair_scores",
    "DROP TABLE pair_scores",
    "INSERT INTO dead_letters (origin, error_kind, message, arrived_at) VALUES ('x', 'y', 'z', now())",
    "COPY pair_scores TO 'stolen.csv'",
    "SELECT 1; DELETE FROM pair_scores",
    "UPDATE pair_scores SET mentor_score = 0",
])
def test_anything_that_writes_is_refused_and_changes_nothing(filled, statement, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sql", statement, "--warehouse", filled]) == 2
    assert "error:" in capsys.readouterr().err
    assert open_warehouse(filled).count("pair_scores") == 2 and open_warehouse(filled).count("dead_letters") == 0
    assert not (tmp_path / "stolen.csv").exists()


def test_a_sql_error_is_one_line(filled, capsys):
    assert main(["sql", "SELECT no_such_column FROM pair_scores", "--warehouse", filled]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no_such_column" in err and "Traceback" not in err


def test_sql_changes_nothing_in_the_file_it_reads(tmp_path, capsys):
    # It opened the file for writing first: a DuckDB file that is not a warehouse got the warehouse's
    # tables and views, and a warehouse's bytes changed.
    import hashlib

    import duckdb

    path = tmp_path / "other.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE TABLE x (a INTEGER)")
    connection.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert main(["sql", "SELECT count(*) AS n FROM x", "--warehouse", str(path), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "0"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    connection = duckdb.connect(str(path), read_only=True)
    assert connection.execute("SHOW TABLES").fetchall() == [("x",)]
    connection.close()


def test_a_reader_waiting_for_a_writers_lock_says_so(filled, capsys):
    # export, query, report and sql said nothing for a minute while another process held the file
    import subprocess
    import sys
    import time

    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(4)", filled], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        assert main(["sql", "SELECT count(*) AS n FROM pair_scores", "--warehouse", filled, "--format", "csv"]) == 0
        assert time.monotonic() - started > 2  # it did wait for the writer
    finally:
        holder.wait()
    err = capsys.readouterr().err
    assert "is locked by another process" in err and "waiting up to" in err


def test_jsonl_is_strict_json_and_keeps_every_value_exact(filled, capsys):
    # an outside probe: bare NaN/Infinity (not JSON), timestamps cut to milliseconds, DECIMAL through a double
    statement = ("SELECT 'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, '-inf'::DOUBLE AS ninf, "
                 "TIMESTAMP '2026-03-02 12:00:00.123456' AS at, DATE '2026-03-02' AS day, "
                 "12345678901234567.891::DECIMAL(38, 3) AS big, 1.10::DECIMAL(10, 2) AS cents")
    assert main(["sql", statement, "--warehouse", filled, "--format", "jsonl"]) == 0
    line = capsys.readouterr().out.strip()
    row = json.loads(line, parse_constant=lambda name: pytest.fail(f"not JSON: {name} in {line}"),
                     parse_float=lambda text: text)  # the number's text, as written
    assert row == {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "at": "2026-03-02T12:00:00.123456Z",
                   "day": "2026-03-02", "big": "12345678901234567.891", "cents": "1.10"}
    assert main(["sql", statement, "--warehouse", filled, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "nan,inf,ninf,at,day,big,cents",
        "NaN,Infinity,-Infinity,2026-03-02T12:00:00.123456Z,2026-03-02,12345678901234567.891,1.10"]
