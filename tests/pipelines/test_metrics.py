"""`run --metrics-port`: the run's counters (its ledger, the numbers of the run summary) in Prometheus
text format on 127.0.0.1, scraped over HTTP."""
import re
import threading
import urllib.error
import urllib.request

import pytest

from helpers import T0
from pipelines.cli import main
from pipelines.metrics import CONTENT_TYPE, MetricsServer, run_metrics
from pipelines.summary import summarize
from services.maven import free_port
from warehouse import open_warehouse

SAMPLE = re.compile(r'^(social_mentors_[a-z_]+)(?:\{(.*)\})? (\S+)$')


def scrape(port: int, path: str = "/metrics") -> tuple[str, dict[tuple[str, str], float]]:
    """The content type and the samples, by (name, labels) of a scrape."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        kind, text = response.headers["Content-Type"], response.read().decode("utf-8")
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP social_mentors_", "# TYPE social_mentors_")), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        samples[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return kind, samples


def ledger(outcome, reason, count):
    return {"run_started_at": T0, "outcome": outcome, "reason": reason, "count": count, "pane_index": 3,
            "recorded_at": T0}


def test_a_scrape_answers_the_run_s_ledger_as_the_summary_counts_it(warehouse_path):
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_ledger([ledger("records_in", "", 10), ledger("scored", "", 6), ledger("skipped", "post", 2),
                            ledger("duplicates", "", 1), ledger("dead_lettered", 'PARSE"ERROR', 1)])
    expected = summarize(warehouse_path, T0, 0.0)
    with MetricsServer(0, run_metrics(warehouse_path, T0)) as server:
        kind, samples = scrape(server.port)
        with pytest.raises(urllib.error.HTTPError):
            scrape(server.port, "/admin")
    assert kind == CONTENT_TYPE
    assert samples[("social_mentors_records_in_total", "")] == expected.records_in == 10
    assert samples[("social_mentors_scored_total", "")] == 6
    assert samples[("social_mentors_skipped_total", 'reason="post"')] == 2
    assert samples[("social_mentors_duplicates_total", "")] == 1
    assert samples[("social_mentors_dead_lettered_total", 'error_kind="PARSE\\"ERROR"')] == 1  # label escaped
    assert samples[("social_mentors_run_started_timestamp_seconds", "")] == T0 / 1000
    assert server.server.server_address[0] == "127.0.0.1"


def test_run_serves_its_counters_while_it_runs(tmp_path, capsys):
    events, warehouse = tmp_path / "events.avro", str(tmp_path / "w.duckdb")
    assert main(["generate", "--out", str(events), "--scale", "0.1"]) == 0
    port = free_port()
    scraped: list[dict] = []
    done = threading.Event()

    def scraper():
        while not done.is_set():
            try:
                scraped.append(scrape(port)[1])
            except (urllib.error.URLError, ConnectionError):
                pass
            done.wait(0.2)

    thread = threading.Thread(target=scraper, daemon=True)
    thread.start()
    try:
        assert main(["run", "--input", str(events), "--warehouse", warehouse, "--metrics-port", str(port)]) == 0
    finally:
        done.set()
        thread.join(10)
    assert f"http://127.0.0.1:{port}/metrics" in capsys.readouterr().err
    assert scraped and all(("social_mentors_records_in_total", "") in s for s in scraped)
    with pytest.raises(urllib.error.URLError):  # served while the run goes on, not after
        scrape(port)


def test_a_stream_s_heartbeat_prints_its_counters_so_far_with_an_iso_time(warehouse_path):
    import io
    import time

    from pipelines.metrics import Heartbeat, heartbeat_line
    from transforms.events import iso_utc

    open_warehouse(warehouse_path).write_ledger([ledger("records_in", "", 1234), ledger("scored", "", 1000),
                                                  ledger("dead_lettered", "TOO_LATE", 3)])
    line = heartbeat_line(summarize(warehouse_path, T0, 0.0), T0)
    assert line == (f"  {iso_utc(T0)}  records in 1,234, scored 1,000, skipped 0, duplicates 0, "
                    "dead-lettered 3, pair rows 0")
    out, beats = io.StringIO(), iter(range(100))
    with Heartbeat(0.05, lambda: f"beat {next(beats)}", out):
        time.sleep(0.5)
    printed = out.getvalue().splitlines()
    assert len(printed) >= 3 and printed[:3] == ["beat 0", "beat 1", "beat 2"]
    with Heartbeat(0, lambda: "never", out):  # --heartbeat 0
        time.sleep(0.1)
    assert "never" not in out.getvalue()
