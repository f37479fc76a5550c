"""One behaviour, two warehouses: the same events give the same output of every command on the
embedded DuckDB file and on BigQuery (the local emulator), a replayed run included."""
import json
import os
import re
from pathlib import Path

import pytest

from pipelines.cli import main
from producers.synthetic import CommunitySpec, generate_community, write_community

SPEC = CommunitySpec(seed=11, sites=2, authors_per_site=4, readers_per_site=12, planted_per_site=2, days=6,
                     invalid_rate=0.03)
# Columns that say when a row was computed or stored: they differ between any two runs.
WALL_CLOCK = ("computed_at", "run_started_at", "arrived_at")


def _mask(output: str, fmt: str) -> list[str]:
    """The output's lines, wall-clock values blanked, sorted."""
    lines = output.splitlines()
    if fmt == "jsonl":
        lines = [re.sub(r'"(%s)": "[^"]*"' % "|".join(WALL_CLOCK), r'"\1": "*"', line) for line in lines]
    elif fmt == "csv" and lines:
        header = lines[0].split(",")
        blank = [i for i, c in enumerate(header) if c in WALL_CLOCK]
        import csv
        import io

        rows = list(csv.reader(io.StringIO(output)))
        lines = [",".join("*" if i in blank and n else v for i, v in enumerate(r)) for n, r in enumerate(rows)]
    return sorted(lines)


def _outputs(url: str, truth: list[dict], capsys) -> dict[str, list[str]]:
    """Every reading command's output for the warehouse at ``url``."""
    commands = {}
    for table in ("pair_scores", "dead_letters"):
        for fmt in ("jsonl", "csv"):
            commands[f"export {table} {fmt}"] = (["export", table, "--format", fmt], fmt)
    for pair in truth[:3]:
        for fmt in ("table", "jsonl", "csv"):
            commands[f"mentors {pair['reader_id']} {fmt}"] = (
                ["query", "mentors", "--reader", pair["reader_id"], "--format", fmt], fmt)
            commands[f"regulars {pair['author_id']} {fmt}"] = (
                ["query", "regulars", "--author", pair["author_id"], "--site", pair["site"], "--format", fmt], fmt)
            commands[f"pair {pair['author_id']} {fmt}"] = (
                ["query", "pair", "--author", pair["author_id"], "--reader", pair["reader_id"], "--format", fmt], fmt)
    outputs = {}
    capsys.readouterr()
    for name, (argv, fmt) in commands.items():
        assert main([*argv, "--warehouse", url]) == 0, name
        captured = capsys.readouterr()
        outputs[name] = _mask(captured.out, fmt)
        if argv[0] == "export":
            outputs[name + " (count)"] = [captured.err.strip()]
    return outputs


@pytest.mark.slow
def test_every_command_prints_the_same_on_both_warehouses_after_a_replayed_run(
        bigquery_url, warehouse_path, tmp_path, capsys):
    community = generate_community(SPEC)
    events = tmp_path / "events.avro"
    write_community(community, events, tmp_path / "truth.jsonl")
    summaries = {}
    for url in (warehouse_path, bigquery_url):
        for _ in range(2):  # the second run replays the same input: nothing may double
            assert main(["run", "--input", str(events), "--warehouse", url]) == 0
        summaries[url] = capsys.readouterr().out
    truth = community.planted_pairs
    duck, bigquery = _outputs(warehouse_path, truth, capsys), _outputs(bigquery_url, truth, capsys)
    assert duck.keys() == bigquery.keys()
    for name in duck:
        assert duck[name] == bigquery[name], name
    dead = json.loads(duck["export dead_letters jsonl"][0])
    dead_lettered = int(re.search(r"dead-lettered\s+([\d,]+)", summaries[warehouse_path]).group(1).replace(",", ""))
    assert dead["origin"].startswith(str(events)) and len(duck["export dead_letters jsonl"]) == dead_lettered > 0
    assert len(duck["export pair_scores jsonl"]) > 20 and any(len(v) > 1 for k, v in duck.items() if "mentors" in k)


def test_query_pair_says_when_the_mentor_side_is_decided_by_the_tie_break(warehouse_path, capsys):
    """Two people who only talk to each other have one partner each: "more partners = mentor" does
    not decide it, the tie-break does, and the output says which."""
    from helpers import E, score_row
    from warehouse import open_warehouse

    open_warehouse(warehouse_path).write_scores([score_row("a", "b", E, 1.0, rc=3, ar=2),
                                                 score_row("b", "a", E, 1.0, rc=1, ar=1)])
    assert main(["query", "pair", "--author", "a", "--reader", "b", "--warehouse", warehouse_path]) == 0
    out = capsys.readouterr().out
    assert "1 partners against 1" not in out and "more partners = mentor" not in out
    assert "mentor side: 1 partner each, a tie: decided by more responses written on the site, then the smaller id" in out


HOSTILE_GOLDEN = Path(__file__).resolve().parent / "fixtures" / "export_hostile.json"


@pytest.fixture
def hostile_export_warehouse(warehouse_path):
    from hostile_rows import write_hostile_warehouse

    return write_hostile_warehouse(warehouse_path)


def test_export_writes_the_pinned_bytes_of_hostile_rows(hostile_export_warehouse, capsys):
    """Every table, both formats, byte for byte as export wrote them before it was made faster
    (fixtures/export_hostile.json was written by the row-by-row export of commit ef1f8f0 from
    tests/hostile_rows.py; the actors table, newer, by the same row-by-row write_rows): strangers' text, floats at every edge, NaN and the infinities, nulls,
    extreme integers and timestamps from year 1 to 9999."""
    import schemas

    golden = json.loads(HOSTILE_GOLDEN.read_text())
    for table in schemas.WAREHOUSE_TABLES:
        for fmt in ("jsonl", "csv"):
            assert main(["export", table, "--format", fmt, "--warehouse", hostile_export_warehouse]) == 0
            captured = capsys.readouterr()
            assert captured.out == golden[f"{table} {fmt}"], (table, fmt)
            rows = len(golden[f"{table} jsonl"].splitlines())
            assert f"exported {rows:,} rows of {table}" in captured.err


def test_export_writes_the_pinned_bytes_to_a_real_stdout(hostile_export_warehouse):
    """The same bytes through a pipe (no newline translation, UTF-8), as a shell redirect gets them."""
    import subprocess
    import sys

    golden = json.loads(HOSTILE_GOLDEN.read_text())
    for fmt in ("jsonl", "csv"):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", "export", "pair_scores", "--format", fmt,
                               "--warehouse", hostile_export_warehouse], capture_output=True,
                              cwd=Path(__file__).resolve().parents[3], env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        assert done.returncode == 0, done.stderr
        assert done.stdout == golden[f"pair_scores {fmt}"].encode("utf-8"), fmt
