"""`generate` and `demo` from the command line, as a user runs them."""
import json
import re
import time

import pytest

from pipelines.cli import main
from producers.synthetic import DAY_MS


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


def test_the_demo_keeps_its_warehouse_in_its_out_folder_unless_told(tmp_path, monkeypatch, capsys):
    # `demo --out X` used to write its events to X and then fail scoring them: its warehouse stayed
    # ./social-mentors-demo/warehouse.duckdb (an error when that folder is missing; and when it is
    # there, an earlier demo's warehouse gets this one's runs too). `demo --live` already used X.
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "elsewhere"
    assert main(["demo", "--out", str(folder), "--scale", "0.1"]) == 0
    out = capsys.readouterr().out
    assert (folder / "warehouse.duckdb").is_file() and f"in {folder / 'warehouse.duckdb'}" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]  # nothing in the working folder


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
