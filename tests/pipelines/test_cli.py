import csv
import io
import json

import pytest

from pipelines.cli import main
from pipelines.settings import parse_duration


@pytest.fixture
def scored(tmp_path, warehouse_path, capsys):
    events = tmp_path / "events.jsonl"
    assert main(["generate", "--out", str(events), "--seed", "3", "--invalid-rate", "0.01"]) == 0
    assert main(["run", "--input", str(events), "--warehouse", warehouse_path]) == 0
    out = capsys.readouterr().out
    truth = [json.loads(line) for line in (tmp_path / "events.truth.jsonl").read_text().splitlines()]
    return warehouse_path, out, truth


def test_run_prints_a_summary_that_balances(scored):
    _, out, _ = scored
    for label in ("records in", "scored", "skipped", "duplicates", "dead-lettered", "time taken"):
        assert label in out
    assert "accounting      balanced" in out


def test_query_mentors_names_the_planted_mentor(scored, capsys):
    warehouse, _, truth = scored
    pair = truth[0]
    assert main(["query", "mentors", "--reader", pair["reader_id"], "--warehouse", warehouse, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["author_id"] == pair["author_id"]
    assert rows[0]["last_interaction_at"].endswith("Z")


def test_query_regulars_and_pair_print_tables(scored, capsys):
    warehouse, _, truth = scored
    pair = truth[0]
    assert main(["query", "regulars", "--author", pair["author_id"], "--top", "3", "--warehouse", warehouse]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["site", "reader_id", "regularity"] and 1 < len(table) <= 4
    assert main(["query", "pair", "--author", pair["author_id"], "--reader", pair["reader_id"],
                 "--warehouse", warehouse]) == 0
    assert "mentor_score" in capsys.readouterr().out


def test_export_writes_whole_tables_as_csv_or_jsonl(scored, capsys):
    warehouse, _, _ = scored
    assert main(["export", "dead_letters", "--format", "csv", "--warehouse", warehouse]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(r["origin"].rsplit(":", 1)[1].isdigit() for r in rows)
    assert main(["export", "pair_scores", "--warehouse", warehouse]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["window_start"].endswith("T00:00:00.000Z")


def test_errors_say_what_to_do(tmp_path, capsys):
    assert main(["run", "--input", str(tmp_path / "nothing-*.avro"), "--warehouse", str(tmp_path / "w.duckdb")]) != 0
    with pytest.raises(SystemExit, match="no warehouse at"):
        main(["query", "mentors", "--reader", "r", "--warehouse", str(tmp_path / "absent.duckdb")])
    assert main(["run", "--input", "x", "--window", "soon", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "not a duration" in capsys.readouterr().err


def test_durations():
    assert [parse_duration(t) for t in ("90", "45s", "30m", "6h", "1d", "2w", "1.5h")] == [
        90, 45, 1800, 21600, 86400, 1209600, 5400]


def test_import_prints_what_was_read_converted_and_skipped(tmp_path, capsys):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "Posts.xml").write_text(
        '<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" />'
        '<row Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000" /></posts>', encoding="utf-8")
    out = tmp_path / "events.jsonl"
    assert main(["import", "stackexchange", str(folder), "--to", f"jsonl:{out}", "--pseudonymize", "secret"]) == 0
    printed = capsys.readouterr().out
    assert "records read               2" in printed and "deleted_user" in printed and "Posts.xml:row 2" in printed
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["actor_id"].startswith("u:") and record["site"] == "tiny"


def test_a_killed_run_is_visible_as_partial_to_query_and_export(scored, tmp_path, capsys):
    # Issue 9, item 8: a killed run left a partial warehouse indistinguishable from a complete one.
    import os
    import signal
    import subprocess
    import sys
    import time

    import duckdb

    warehouse, out, truth = scored
    assert main(["query", "mentors", "--reader", truth[0]["reader_id"], "--warehouse", warehouse]) == 0
    assert "did not finish" not in capsys.readouterr().err  # the run before finished
    events = tmp_path / "big.avro"
    assert main(["generate", "--out", str(events), "--scale", "3"]) == 0
    run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--input", str(events), "--warehouse", warehouse],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # until the run has recorded itself as RUNNING
            assert run.poll() is None and time.monotonic() < deadline
            try:
                with duckdb.connect(warehouse, read_only=True) as connection:
                    if connection.execute("SELECT COUNT(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0]:
                        break
            except duckdb.IOException:
                pass  # the run holds the file for a moment
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    capsys.readouterr()
    assert main(["query", "mentors", "--reader", truth[0]["reader_id"], "--warehouse", warehouse]) == 0
    err = capsys.readouterr().err
    assert "warning: the newest run" in err and "did not finish (status RUNNING" in err and "may be partial" in err
    assert main(["export", "pair_scores", "--warehouse", warehouse]) == 0
    assert "did not finish" in capsys.readouterr().err
