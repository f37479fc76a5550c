"""The generate and demo commands as a user runs them."""
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
        assert main(["generate", "--out", str(out), "--start", start, "--scale", "0.3"]) == 0
        now = time.time() * 1000
        events = read_jsonl(out)
        posts = [e["created_at"] for e in events if e["kind"] == "POST"]
        assert now - 28 * DAY_MS - 60_000 <= min(posts) and max(posts) > now - DAY_MS
        assert max(e["created_at"] for e in events) <= now
    assert "crossing a UTC midnight" in capsys.readouterr().out  # the community's statistics

    with pytest.raises(SystemExit):
        main(["generate", "--out", str(out), "--start", "yesterday"])
    assert "--start" in capsys.readouterr().err


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
