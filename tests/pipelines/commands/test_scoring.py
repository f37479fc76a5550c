"""The scoring commands from the command line: `run`'s input handling (files named twice, per-record
limits), `generate` and `demo` as a user runs them."""
import json
import re
import time

import pytest

from helpers import record
from pipelines.cli import main
from producers.synthetic import DAY_MS
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


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_generate_start_places_the_community_at_an_iso_time_or_now(tmp_path, capsys):
    out = tmp_path / "events.jsonl"
    assert main(["generate", "--out", str(out), "--start", "2026-11-20T00:00:00Z", "--scale", "0.3"]) == 0
    posts = [e["created_at"] for e in read_jsonl(out) if e["kind"] == "POST"]
    assert min(posts) >= 1_795_132_800_000 > max(posts) - 28 * DAY_MS

    for start in ("now", "now-28d"):  # the 28 days up to now; nothing yet to come
        assert main(["generate", "--out", str(out), "--start", start, "--scale", "0.3", "--force"]) == 0
        now = time.time() * 1000
        events = read_jsonl(out)
        posts = [e["created_at"] for e in events if e["kind"] == "POST"]
        assert now - 28 * DAY_MS - 60_000 <= min(posts) and max(posts) > now - DAY_MS
        assert max(e["created_at"] for e in events) <= now
    assert "crossing a UTC midnight" in capsys.readouterr().out  # the community's statistics

    with pytest.raises(SystemExit):
        main(["generate", "--out", str(out), "--start", "yesterday"])
    assert "--start" in capsys.readouterr().err


def test_generate_days_sets_how_long_the_community_posts(tmp_path, capsys):
    # Issue 10's evaluate needs months of history: the community spanned a fixed 28 days.
    out = tmp_path / "events.jsonl"
    start = 1_735_689_600_000  # 2025-01-01T00:00:00Z: in the past, so no day is cut at now
    assert main(["generate", "--out", str(out), "--start", "2025-01-01T00:00:00Z", "--days", "90", "--scale", "0.2"]) == 0
    posts = [e["created_at"] for e in read_jsonl(out) if e["kind"] == "POST"]
    assert start <= min(posts) < start + 7 * DAY_MS and start + 83 * DAY_MS <= max(posts) < start + 90 * DAY_MS
    truth = read_jsonl(out.with_name("events.truth.jsonl"))
    assert main(["generate", "--out", str(out), "--start", "2025-01-01T00:00:00Z", "--scale", "0.2", "--force"]) == 0
    posts = [e["created_at"] for e in read_jsonl(out) if e["kind"] == "POST"]
    assert start + 21 * DAY_MS <= max(posts) < start + 28 * DAY_MS  # the default is still 28 days
    assert read_jsonl(out.with_name("events.truth.jsonl")) == truth  # the same planted pairs, whatever the days
    for bad in ("0", "-5", "two"):
        with pytest.raises(SystemExit):
            main(["generate", "--out", str(out), "--days", bad, "--force"])
    assert "--days" in capsys.readouterr().err


def test_generate_replaces_an_existing_events_or_truth_file_only_with_force(tmp_path, capsys):
    out, truth = tmp_path / "existing.jsonl", tmp_path / "existing.truth.jsonl"
    for precious in (out, truth):
        precious.write_text("precious\n")
        assert main(["generate", "--out", str(out), "--scale", "0.1"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{precious} exists; pass --force" in err and len(err.splitlines()) == 1
        assert precious.read_text() == "precious\n"
        precious.unlink()
    out.write_text("precious\n")
    assert main(["generate", "--out", str(out), "--scale", "0.1", "--force"]) == 0
    assert read_jsonl(out) and read_jsonl(truth)


def test_generate_never_writes_through_a_symlink(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    link = tmp_path / "link.avro"
    link.symlink_to(victim)
    assert main(["generate", "--out", str(link), "--scale", "0.1"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert main(["generate", "--out", str(link), "--scale", "0.1", "--force"]) == 0
    assert victim.read_text() == "do not touch\n"
    assert not link.is_symlink() and link.read_bytes()[:4] == b"Obj\x01"


def test_generate_events_and_truth_must_be_different_files(tmp_path, capsys):
    same = tmp_path / "same.jsonl"
    assert main(["generate", "--out", str(same), "--truth", str(same), "--force", "--scale", "0.1"]) == 2
    assert "another output" in capsys.readouterr().err and not same.exists()


def test_the_demo_never_writes_its_events_over_its_warehouse(tmp_path, capsys):
    folder = tmp_path / "demo"
    folder.mkdir()
    warehouse = folder / "events.avro"  # a real warehouse where the demo writes its events
    from warehouse import open_warehouse

    open_warehouse(str(warehouse)).prepare()
    before = warehouse.read_bytes()
    assert main(["demo", "--out", str(folder), "--warehouse", str(warehouse)]) == 2
    assert "is one of the inputs" in capsys.readouterr().err and warehouse.read_bytes() == before


@pytest.mark.slow
def test_the_demo_shows_the_top_mentor_of_every_planted_reader(tmp_path, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    assert main(["demo", "--out", str(tmp_path / "demo"), "--scale", "0.25", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    truth = read_jsonl(tmp_path / "demo" / "planted_pairs.jsonl")
    assert len(truth) == 10
    shown = {}  # site -> the demo's lines for it
    for line in out.split("Top mentor of each planted reader")[1].splitlines():
        site = line.split()[0] if line.strip() else None
        if site and site.startswith("blog-"):
            shown[site] = shown.get(site, "") + line + "\n"
    for pair in truth:  # "reader-3 -> author-2" per planted reader, in its site's line
        reader, top = pair["reader_id"].split("/")[-1], r"[\w-]+"
        assert re.search(rf"\s{reader} -> {top}", shown[pair["site"]]), pair
    assert "The planted mentor ranks first for " in out and f" of {len(truth)} planted readers" in out
