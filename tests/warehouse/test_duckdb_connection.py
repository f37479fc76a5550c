"""Opening the embedded warehouse: a held connection serves a series of writes and is then closed."""
import subprocess
import sys
import threading

import pytest

from warehouse import open_warehouse
from warehouse.duckdb_connection import connect, held

OPEN_FOR_WRITING = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"


def _another_process_can_open(path: str) -> bool:
    # DuckDB lets one process at a time hold a file: another process's open is the real test of a close
    return subprocess.run([sys.executable, "-c", OPEN_FOR_WRITING, path], capture_output=True).returncode == 0


def test_inside_a_hold_every_connect_gets_the_one_open_connection_and_it_is_closed_after(warehouse_path):
    open_warehouse(warehouse_path)  # creates the tables
    with held(warehouse_path):
        with connect(warehouse_path) as first:
            first.execute("CREATE TABLE held_probe (n INTEGER)")
        with connect(warehouse_path) as second:  # not closed by the first one's exit
            second.execute("INSERT INTO held_probe VALUES (1)")
        assert second is first
        assert not _another_process_can_open(warehouse_path)
    assert _another_process_can_open(warehouse_path)
    with connect(warehouse_path, read_only=True) as reader:
        assert reader.execute("SELECT n FROM held_probe").fetchall() == [(1,)]


def test_another_thread_waits_for_the_hold_to_end(warehouse_path):
    open_warehouse(warehouse_path)
    opened = threading.Event()

    def open_it() -> None:
        with connect(warehouse_path):
            opened.set()

    with held(warehouse_path):
        other = threading.Thread(target=open_it, daemon=True)
        other.start()
        assert not opened.wait(0.5)
    other.join(10)
    assert opened.is_set()


def test_a_failure_inside_a_hold_closes_the_connection(warehouse_path):
    open_warehouse(warehouse_path)
    with pytest.raises(RuntimeError):
        with held(warehouse_path):
            raise RuntimeError("a write failed")
    assert _another_process_can_open(warehouse_path)
