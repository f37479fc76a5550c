"""`run` from the command line: its input handling (files named twice, per-record limits)."""
import json
import re

import pytest

from helpers import record
from pipelines.cli import main
from warehouse import open_warehouse


def dead_letters(warehouse_path):
    columns, rows = open_warehouse(warehouse_path).export("dead_letters")
    return [dict(zip(columns, row)) for row in rows]


def test_a_file_named_twice_is_read_once_and_the_run_says_so(tmp_path, warehouse_path, capsys):
    # Issue 9, item 8: `--input f --input f` counted 10 dead letters while the table held 5.
    events = tmp_path / "events.jsonl"
    lines = [record(event_id=f"p{n}", kind="POST", item_id=f"p{n}", parent_id=None) for n in range(5)]
    lines += [record(event_id=f"bad{n}", actor_id=None) for n in range(5)]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["run", "--input", str(events), "--input", str(tmp_path / "*.jsonl"), "--input", str(events),
                 "--warehouse", warehouse_path]) == 0
    captured = capsys.readouterr()
    assert f"note: {events} is named by 3 --input patterns" in captured.err and "it is read once" in captured.err
    assert re.search(r"records in\s+10\b", captured.out) and re.search(r"dead-lettered\s+5\b", captured.out), captured.out
    assert "balanced" in captured.out and "NOT balanced" not in captured.out
    assert len(dead_letters(warehouse_path)) == 5


def test_record_and_id_limits_are_options_of_run(tmp_path, warehouse_path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(record(event_id="long-line", note="x" * 300)) + "\n"
                      + json.dumps(record(event_id="long-id", actor_id="a" * 40)) + "\n"
                      + json.dumps(record(event_id="p", kind="POST", item_id="p", parent_id=None)) + "\n")
    assert main(["run", "--input", str(events), "--max-record-bytes", "300", "--max-id-length", "32",
                 "--warehouse", warehouse_path]) == 0
    kinds = {(d["origin"], d["error_kind"]) for d in dead_letters(warehouse_path)}
    assert kinds == {(f"{events}:1", "RECORD_TOO_LARGE"), (f"{events}:2", "FIELD_TOO_LONG")}
    for bad in (["--max-record-bytes", "0"], ["--max-record-bytes", "1MB"], ["--max-id-length", "-3"]):
        with pytest.raises(SystemExit):
            main(["run", "--input", str(events), *bad, "--warehouse", warehouse_path])
    assert "is not a size" in capsys.readouterr().err
