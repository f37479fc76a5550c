"""Reproduce issue 9's divergence: a drained stream of the synthetic community, read from a 3-partition
topic on Prism, against the batch run of the same events; loops until a row differs (or --runs ends).

Each run: a fresh topic, the events published (as the drain test does), the CLI streaming with nothing
late (--allowed-lateness 30d --dedupe-horizon 40d, --early-firing 1s, no idle timeout), Ctrl-C once
every record is committed, then the rows compared. ``--parallel N`` runs N streams at once (load).
For a differing row it prints the batch's author-reply credits of that row (the reply, the comment it
answers, their times and partitions), so the missing one can be named.

Usage: python bench/diverge_streaming.py [--runs 20] [--parallel 2] [--sorted] [--bootstrap-servers H:P]
(other arguments go to the CLI run, e.g. --experiments=...).

Measured 2026-11-26 on the shared 2-core machine, 2 streams at once: before the fix (Prism splitting
bundles of stateful stages) 5 of 8 runs differed from the batch run (one of them exit 0 and balanced
with 4 rows differing, e.g. a row 1 author reply short); with ``prism_disable_sdf_split`` 0 of 12.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from pipelines.scoring import run_scoring  # noqa: E402
from pipelines.settings import RunSettings  # noqa: E402
from producers.event_files import write_events  # noqa: E402
from producers.kafka_producer import EventPublisher, message_key  # noqa: E402
from producers.synthetic import CommunitySpec, generate_community  # noqa: E402
from transforms.thread_ledger import ThreadLedger, thread_key  # noqa: E402
from transforms.kafka_lag import consumer_lag  # noqa: E402
from transforms.decode import ReadEventFiles  # noqa: E402
from transforms.events import Event  # noqa: E402
from transforms.windowing import window_bounds  # noqa: E402
from warehouse import open_warehouse  # noqa: E402

# tests/kafka_helpers.py's SMALL and SCORE_COLUMNS
SMALL = CommunitySpec(seed=21, sites=1, authors_per_site=6, readers_per_site=50, planted_per_site=8, days=40,
                      max_delay_s=2 * 86_400)
SCORE_COLUMNS = ("site", "author_id", "reader_id", "window_start", "reader_comments", "author_replies",
                 "reader_active_days", "reply_latency_p50_s", "reply_rate", "reciprocity", "mentor_score",
                 "first_interaction_at", "last_interaction_at")
WEEK_MS = 7 * 86_400_000


def scores_of(warehouse_url: str) -> list[tuple]:
    columns, rows = open_warehouse(warehouse_url).export("pair_scores")
    picked = [columns.index(c) for c in SCORE_COLUMNS]
    return sorted(tuple(r[i] for i in picked) for r in rows)


def batch_scores(events: list[dict], work: Path) -> list[tuple]:
    path = work / "events.avro"
    write_events(path, events)
    warehouse = str(work / "batch.duckdb")
    run_scoring(ReadEventFiles([str(path)]), RunSettings(warehouse=warehouse))
    return scores_of(warehouse)


def expected_credits(events: list[dict]) -> dict[tuple, list[tuple]]:
    """(site, author, reader, window_start) -> [(reply, answered comment)] as the batch resolver credits."""
    threads: dict[str, list[Event]] = {}
    for record in events:
        event = Event(**{f: record.get(f) for f in Event._fields if f != "origin"}, origin="x")
        threads.setdefault(thread_key(event), []).append(event)
    credits: dict[tuple, list[tuple]] = {}
    for events_of_thread in threads.values():
        ledger = ThreadLedger()
        for event in sorted(events_of_thread, key=lambda e: (e.created_at, e.event_id)):
            ledger.index(event)
        for event in events_of_thread:
            credit = ledger.author_reply(event)
            if credit is not None:
                start, _ = window_bounds(credit.anchor_at, WEEK_MS)
                key = (credit.site, credit.author_id, credit.reader_id, start)
                credits.setdefault(key, []).append((event, ledger.items[event.parent_id]))
    return credits


def committed(bootstrap: str, topic: str, group: str) -> int:
    return sum(p.committed or 0 for p in consumer_lag(bootstrap, topic, group))


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%a %Y-%m-%d %H:%M:%S")


def partition_of(event: Event, partitions: int = 3) -> str:
    from kafka.partitioner import murmur2

    return str((murmur2(message_key(event.to_record())) & 0x7FFFFFFF) % partitions)


def one_run(n: int, bootstrap: str, events: list[dict], work: Path, extra: list[str]) -> tuple[str, Path]:
    topic = f"diverge-{n}-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    with EventPublisher(bootstrap, topic) as publisher:
        sent = publisher.publish_all(events, progress=None).sent
    warehouse = work / f"stream-{n}.duckdb"
    log_path = work / f"stream-{n}.log"
    command = [sys.executable, "-m", "pipelines.cli", "run", "--source", "kafka", "--streaming",
               "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", "drain",
               "--warehouse", str(warehouse), "--idle-timeout", "3600s", "--early-firing", "1s",
               "--allowed-lateness", "30d", "--dedupe-horizon", "40d", *extra]
    # the libraries' log of each run (Prism's warnings among them: "Unexpected split on a bundle with timers")
    env = dict(os.environ, SOCIAL_MENTORS_LOG=str(work / f"libraries-{n}.log"))
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=ROOT, env=env)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if committed(bootstrap, topic, "drain") == sent:
                    break
            except Exception:
                pass
            time.sleep(1)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=600)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return f"exit {process.returncode}", warehouse


def report(n: int, streamed: list[tuple], batch: list[tuple], credits: dict, log_path: Path) -> int:
    if [r[:4] for r in streamed] != [r[:4] for r in batch]:
        print(f"run {n}: the KEYS differ: stream {len(streamed)} rows, batch {len(batch)}")
        return 1
    differing = [(s, b) for s, b in zip(streamed, batch) if s != b]
    for s, b in differing:
        print(f"run {n}: row {s[:4]}: stream rc/ar {s[4]}/{s[5]}, batch {b[4]}/{b[5]}")
        start = int(s[3].replace(tzinfo=dt.timezone.utc).timestamp() * 1000) if hasattr(s[3], "timestamp") else s[3]
        for reply, answered in credits.get((s[0], s[1], s[2], start), []):
            print(f"    reply {reply.event_id} at {iso(reply.created_at)} (partition {partition_of(reply)}) answers "
                  f"{answered.event_id} at {iso(answered.created_at)} (partition {partition_of(answered)})")
    return len(differing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--sorted", action="store_true", help="publish in created_at order")
    parser.add_argument("--bootstrap-servers", default=None)
    parser.add_argument("--stop-at-first", action="store_true")
    args, extra = parser.parse_known_args()
    work = Path(tempfile.mkdtemp(prefix="diverge-"))
    print(f"work folder {work}", flush=True)
    events = generate_community(SMALL).events
    if args.sorted:
        events = sorted(events, key=lambda e: e["created_at"])
    batch = batch_scores(events, work)
    credits = expected_credits(events)
    broker = None
    bootstrap = args.bootstrap_servers
    if bootstrap is None:
        from services.kafka_broker import KafkaBroker
        from services.maven import free_port

        broker = KafkaBroker(state_dir=work / "kafka", port=free_port())
        bootstrap = broker.start()
    diverged = 0
    try:
        n = 0
        while n < args.runs:
            results = {}

            def run(i: int) -> None:
                results[i] = one_run(i, bootstrap, events, work, extra)

            threads = [threading.Thread(target=run, args=(n + k,)) for k in range(min(args.parallel, args.runs - n))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for i, (status, warehouse) in sorted(results.items()):
                streamed = scores_of(str(warehouse))
                bad = report(i, streamed, batch, credits, work / f"stream-{i}.log")
                libraries = work / f"libraries-{i}.log"
                splits = libraries.read_text(errors="replace").count("Unexpected split") if libraries.exists() else 0
                print(f"run {i}: {status}, {len(streamed)} rows, {bad} differing, Prism split warnings {splits}",
                      flush=True)
                diverged += bool(bad)
            n += len(threads)
            if diverged and args.stop_at_first:
                break
    finally:
        if broker is not None:
            broker.stop()
    print(f"{diverged} of {n} runs diverged; work folder {work}")
    return 1 if diverged else 0


if __name__ == "__main__":
    sys.exit(main())
