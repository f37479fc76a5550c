"""--warehouse that names no DuckDB database (a text file, a folder, a zip) fails first, in one line,
for every command that takes --warehouse (an outside probe: some failed late, after generating
events or asking Kafka, and all blamed the folder's permissions)."""
import argparse
import hashlib
import zipfile

import pytest

from pipelines.cli import build_parser, main

# The least each command needs besides --warehouse; status's broker is a closed port: asked first, it fails otherwise.
ARGV = {
    "demo": ["demo"],
    "run": ["run", "--input", "EVENTS"],
    "warehouse": ["warehouse", "init"],
    "warehouse migrate": ["warehouse", "migrate"],
    "query": ["query", "top"],
    "export": ["export", "pair_scores"],
    "sql": ["sql", "SELECT 1"],
    "evaluate": ["evaluate"],
    "report": ["report", "--out", "report.html"],
    "status": ["status", "--bootstrap-servers", "127.0.0.1:1"],
}


def _commands_taking_warehouse() -> set[str]:
    parser, _ = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    found = set()
    for name, command in commands.choices.items():
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        parsers = nested[0].choices.values() if nested else [command]
        if any("--warehouse" in a.option_strings for p in parsers for a in p._actions):
            found.add(name)
    return found


def test_every_command_that_takes_a_warehouse_is_covered():
    assert _commands_taking_warehouse() == {name.split()[0] for name in ARGV}


def _not_duckdb(kind: str, tmp_path):
    path = tmp_path / f"not-a-warehouse-{kind}"
    if kind == "text":
        path.write_text("site,author\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("warehouse.duckdb", b"\0" * 64)
    else:
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize("kind", ["text", "folder", "zip", "empty"])
@pytest.mark.parametrize("command", sorted(ARGV))
def test_a_path_that_is_not_a_duckdb_file_fails_first_in_one_line(command, kind, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    events = tmp_path / "events.avro"
    events.write_bytes(b"")
    path = _not_duckdb(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    argv = [str(events) if a == "EVENTS" else a for a in ARGV[command]]
    assert main([*argv, "--warehouse", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing done before the refusal (demo generated its events first)
    (line,) = captured.err.splitlines()
    what = {"text": "a file of another kind", "folder": "a folder", "zip": "a zip archive", "empty": "an empty file"}[kind]
    assert line == (f"error: --warehouse {path} is {what}, not a DuckDB database: pass the warehouse's DuckDB file "
                    "(a new path is created by `social-mentors run` or `warehouse init`) or bigquery://PROJECT/DATASET")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created (no demo folder, no report)
    if content:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == content
