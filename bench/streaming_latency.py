"""The streaming latency benchmark (issue 11, item 4): live events at a fixed rate into a topic while the
streaming pipeline runs on Prism with early firings; how long a reader comment takes from its publish
to its (pair, window) row in the warehouse, and whether that delay grows.

A broker is started on a free port (as bench/soak_streaming.py does), a topic with ``--partitions``,
then ``social-mentors run --streaming`` with ``--early-firing`` (default 1s) into a fresh DuckDB file.
Once a warm-up comment shows in the warehouse (start-up is not measured), the synthetic community
(``producers.synthetic_live``, generated before the clock starts, so the simulation's cost is not
the producer's) is published at ``--rate`` events per second for ``--seconds``, stamped "now" (nothing
is late); a producer that falls behind (a loaded machine) sends fewer, never later. Each reader
comment is kept with its publish wall time, its (site, author, reader, window) and its ordinal n in
that key. Meanwhile the warehouse is read every ``--poll-every`` seconds
(read-only; a writer's lock is waited out), and each key's count of reader_comments is kept when it
grows: a comment's delay = the first poll whose row showed >= n, minus its publish time (so it
includes up to one poll period). The consumer group's lag (end offsets - committed) is sampled too.
After the publishing, up to ``--grace`` seconds for the rest to show, then Ctrl-C (SIGINT to the
process group): the run drains and prints its summary.

The delays are computed by bench/latency_stats.py. Prints a table and writes
bench/results/streaming-latency-<date>-<rate>.txt and .json.

Usage: python bench/streaming_latency.py [--rate 2000] [--seconds 120] [--partitions 4] [--early-firing 1s]
       [--max-out-of-orderness 30s]
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.latency_stats import CommentLedger, RowWatch, buckets, delays, seconds_text, summarize  # noqa: E402
from bench.live_probes import ConsumerLag, WarehouseReader, loadavg, warm_up  # noqa: E402
from bench.soak_streaming import prism_rss_mb  # noqa: E402
from pipelines import live_stream  # noqa: E402
from producers.kafka_producer import EventPublisher  # noqa: E402
from producers.synthetic_live import live_events  # noqa: E402
from producers.synthetic_spec import CommunitySpec  # noqa: E402
from services.processes import rss_mb  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


class VirtualClock:
    """A clock for live_events that moves only when slept on: the community's records and offsets
    (seconds from the first) without waiting for them."""

    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def clock(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


def planned_events(rate: float, seconds: float, run_id: str) -> list[dict[str, Any]]:
    """The synthetic community played at ``rate`` for ``seconds``, created_at from 0 (ms)."""
    virtual = VirtualClock()
    records = list(itertools.islice(live_events(CommunitySpec(), rate, clock=virtual.clock, sleep=virtual.sleep,
                                                run_id=run_id), int(rate * seconds)))
    first = records[0]["created_at"]
    for record in records:
        record["created_at"] -= first
        if record["parent_created_at"] is not None:
            record["parent_created_at"] -= first
    return records


def publish_on_time(records: list[dict[str, Any]], seconds: float, publisher: EventPublisher, ledger: CommentLedger,
                    progress: list[int]) -> None:
    """Each record when its offset is due, stamped with the wall clock of that moment, until ``seconds``
    have passed: a producer that falls behind (a loaded machine) sends fewer, never later ones."""
    start_ms = int(time.time() * 1000)
    for record in records:
        due_s = (start_ms + record["created_at"]) / 1000
        now = time.time()
        if now - start_ms / 1000 >= seconds:
            break
        if due_s > now:
            time.sleep(due_s - now)
        live = dict(record, created_at=start_ms + record["created_at"])
        if record["parent_created_at"] is not None:
            live["parent_created_at"] = start_ms + record["parent_created_at"]
        publisher.publish(live)
        ledger.add(live, time.time())
        progress[0] += 1
    publisher.producer.flush()


class Report:
    """Lines printed as they come and kept for the results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="events per second (default 2000)")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to publish (default 120)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--early-firing", default="1s", help="the pipeline's --early-firing (default 1s)")
    parser.add_argument("--window", default="7d", help="the pipeline's --window (default 7d, its default)")
    parser.add_argument("--max-out-of-orderness", default=None,
                        help="the pipeline's --max-out-of-orderness (default: the pipeline's own, 30s)")
    parser.add_argument("--poll-every", type=float, default=0.5, help="seconds between warehouse reads")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds after publishing for the rest to show")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="seconds the Ctrl-C drain may take")
    parser.add_argument("--bootstrap-servers", default=None)
    args = parser.parse_args()
    from pipelines.settings import parse_duration

    logging.getLogger("kafka").setLevel(logging.ERROR)  # a loaded machine makes kafka-python chatty
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally below still cleans up
    say = Report()
    load_start = loadavg()
    run_id = f"lat{int(time.time())}"
    generating = time.monotonic()
    records = planned_events(args.rate, args.seconds, run_id)
    generated_s = time.monotonic() - generating
    work = Path(tempfile.mkdtemp(prefix="latency-"))
    broker, bootstrap = live_stream.given_or_private_broker(args.bootstrap_servers, work / "kafka")
    topic, group = f"latency-{int(time.time())}", "latency"
    pipeline = None
    try:
        live_stream.create_topic(bootstrap, topic, args.partitions)
        warehouse = work / "latency.duckdb"
        log = open(work / "pipeline.log", "w")
        command = live_stream.streaming_run_command(
            bootstrap, topic, group, str(warehouse),
            ("--window", args.window, "--early-firing", args.early_firing, "--idle-timeout", "5s",
             *(("--max-out-of-orderness", args.max_out_of_orderness) if args.max_out_of_orderness else ())))
        pipeline = live_stream.start_streaming_run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        say(f"streaming latency: {args.rate:,.0f} events/s for {args.seconds:.0f} s, {args.partitions} partitions, "
            f"--early-firing {args.early_firing}, --window {args.window}, "
            f"--max-out-of-orderness {args.max_out_of_orderness or 'default'}, polls every {args.poll_every} s")
        say(f"load average at start: {load_start} (2 cores, shared); {len(records):,} events generated in "
            f"{generated_s:.1f} s (not timed)")
        reader = WarehouseReader(warehouse)
        ready_s = warm_up(bootstrap, topic, reader, pipeline, args.startup_timeout)
        say(f"start-up: the warm-up comment showed {ready_s:.1f} s after it was published")
        rss_start = (rss_mb(pipeline.pid), prism_rss_mb(pipeline.pid))

        ledger = CommentLedger(int(parse_duration(args.window) * 1000))
        watch = RowWatch()
        lag = ConsumerLag(bootstrap, topic, group)
        lag_samples: list[tuple[float, int, int]] = []
        poll_costs: list[float] = []
        published = [0]
        publisher = EventPublisher(bootstrap, topic)
        producer = threading.Thread(target=publish_on_time, args=(records, args.seconds, publisher, ledger, published),
                                    daemon=True)
        origin = time.time()
        producer.start()
        say(f"\n{'t (s)':>6} {'published':>10} {'kafka lag':>10} {'rows':>7} {'poll (s)':>9}")
        last_sample = 0.0
        grace_ends = None
        while True:
            before = time.time()
            rows = reader.rows()
            after = time.time()
            if rows is not None:
                watch.update(after, rows)
                poll_costs.append(after - before)
            if after - last_sample >= 5:
                last_sample = after
                end, behind = lag.sample()
                lag_samples.append((after, end, behind))
                say(f"{after - origin:>6.0f} {published[0]:>10,} {behind:>10,} {len(watch.history):>7,} "
                    f"{(after - before):>9.2f}")
            if pipeline.poll() is not None:
                say(f"the pipeline exited (code {pipeline.returncode}) while publishing")
                break
            if not producer.is_alive():
                grace_ends = grace_ends or after + args.grace
                if after > grace_ends or watch.behind(dict(ledger.counts)) == 0:
                    break
            time.sleep(args.poll_every)  # after the read, not from its start: the writer's turn
        producer.join()
        publisher.close()
        stopped_at = time.time()
        publish_s = max((c.published_at for c in ledger.comments), default=origin) - origin
        rss_end = (rss_mb(pipeline.pid), prism_rss_mb(pipeline.pid))
        load_end = loadavg()
        end, behind = lag.sample()
        lag.close()
        live_stream.interrupt(pipeline)  # Ctrl-C: drain
        drain_started = time.time()
        try:
            code = pipeline.wait(timeout=args.drain_timeout)
        except subprocess.TimeoutExpired:
            live_stream.kill(pipeline)
            code = f"killed: no end {args.drain_timeout:.0f} s after Ctrl-C"
        drain_s = time.time() - drain_started
        output = (work / "pipeline.log").read_text()
        summary = output[output.find("Run summary"):] if "Run summary" in output else "(no summary)"

        found = delays(ledger.comments, watch)
        stats = summarize(found)
        after_drain = RowWatch()
        after_drain.update(time.time(), reader.rows() or [])
        still_missing = after_drain.behind(dict(ledger.counts))
        table = buckets(ledger.comments, found, origin, 10.0, lag_samples)
        say(f"\npublished {published[0]:,} events in {publish_s:.1f} s ({published[0] / max(publish_s, 1e-9):,.0f}/s "
            f"of {args.rate:,.0f}/s asked), "
            f"{stats['comments']:,} of them reader comments of {len(ledger.counts):,} (pair, window) rows")
        say(f"stopped {stopped_at - origin:.0f} s after the first publish; kafka lag then {behind:,} of {end:,} "
            "records (end offsets - committed)")
        say(f"\n{'publish t (s)':>13} {'comments':>9} {'never shown':>12} {'p50 delay':>10} {'kafka lag':>10}")
        for row in table:
            lag_text = f"{row['kafka_lag']:,}" if row["kafka_lag"] is not None else "-"
            say(f"{row['from_s']:>13.0f} {row['comments']:>9,} {row['never_shown']:>12,} "
                f"{seconds_text(row['p50_s']):>10} {lag_text:>10}")
        say("\ndelay from publish to the (pair, window) row showing it (never shown = slowest):")
        say(f"  p50 {seconds_text(stats['p50_s'])}, p90 {seconds_text(stats['p90_s'])}, "
            f"p99 {seconds_text(stats['p99_s'])}, max {seconds_text(stats['max_s'])}")
        say(f"  of those shown only: p50 {seconds_text(stats['p50_shown_s'])}, "
            f"p99 {seconds_text(stats['p99_shown_s'])}")
        say(f"  never shown before the stop: {stats['never_shown']:,} of {stats['comments']:,}; "
            f"after the drain still not in the warehouse: {still_missing:,}")
        say(f"  p50 of the first third {seconds_text(stats['p50_first_third_s'])}, "
            f"of the last third {seconds_text(stats['p50_last_third_s'])}")
        if poll_costs:
            say(f"  warehouse reads: {len(poll_costs):,}, median {sorted(poll_costs)[len(poll_costs) // 2]:.3f} s, "
                f"max {max(poll_costs):.2f} s")
        say(f"\nthe drain after Ctrl-C took {drain_s:.0f} s; pipeline exit code {code}")
        say(f"python RSS start {rss_start[0]:.1f} MB, end {rss_end[0]:.1f} MB; "
            f"prism RSS start {rss_start[1]:.1f} MB, end {rss_end[1]:.1f} MB")
        say(f"load average at start: {load_start}; at the end of publishing: {load_end}")
        say(summary.strip())
        say(f"(log: {work / 'pipeline.log'})")

        RESULTS.mkdir(exist_ok=True)
        ooo = f"-ooo{args.max_out_of_orderness}" if args.max_out_of_orderness else ""
        stem = RESULTS / f"streaming-latency-{dt.date.today().isoformat()}-{args.rate:.0f}{ooo}"
        stem.with_suffix(".txt").write_text("\n".join(say.lines) + "\n")
        stem.with_suffix(".json").write_text(json.dumps({
            "rate": args.rate, "seconds": args.seconds, "partitions": args.partitions,
            "early_firing": args.early_firing, "window": args.window, "poll_every_s": args.poll_every,
            "max_out_of_orderness": args.max_out_of_orderness or "default",
            "published": published[0], "publish_s": publish_s, "startup_s": ready_s, **stats,
            "still_missing_after_drain": still_missing, "kafka_lag_at_stop": behind, "kafka_end_at_stop": end,
            "buckets": table, "lag_samples": [(t - origin, e, n) for t, e, n in lag_samples],
            "python_rss_mb": rss_start[0:1] + rss_end[0:1], "prism_rss_mb": [rss_start[1], rss_end[1]],
            "loadavg_start": load_start, "loadavg_end": load_end, "exit_code": code, "drain_s": drain_s,
            "balanced": ("balanced: in =" in summary and "NOT balanced" not in summary) if "Run summary" in output
            else None,  # no summary: a drain killed at --drain-timeout tells nothing of the accounting
            "summary": summary.strip(),
        }, indent=2) + "\n")
        print(f"written: {stem}.txt and .json")
        return 0 if code == 0 else 1
    finally:
        if pipeline is not None and pipeline.poll() is None:
            live_stream.kill(pipeline)
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
