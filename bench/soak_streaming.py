"""Soak the streaming pipeline: a steady rate of live events for a while, then Ctrl-C; prints the
memory of the pipeline (Python, with its in-process SDK worker) and of Prism (which holds the window
and dedupe state) over time, and whether the stream drained completely.

Events are stamped "now", with short horizons (1-minute windows, 1 minute of lateness, a 2-minute
dedupe horizon), so state turns over many times during the soak: memory should stay flat, state
bounded by those horizons.

After the stream is drained, the same topic is read again by a bounded run into a second warehouse
(what one uninterrupted batch run makes of it) and the two are compared row for row: a soak that
balances but whose rows differ from the batch run has lost something.

Usage: python bench/soak_streaming.py [--minutes 10] [--rate 20] [--bootstrap-servers HOST:PORT]
(without --bootstrap-servers it starts a broker of its own under a temporary folder).
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines import live_stream  # noqa: E402
from producers.kafka_producer import EventPublisher  # noqa: E402
from services.processes import rss_mb  # noqa: E402


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(proc.name))
        except (OSError, IndexError):
            continue
    return found


def prism_rss_mb(pid: int) -> float:
    """The resident memory of the Prism among ``pid``'s children (the pipeline's job server), in MB."""
    prism = [c for c in children(pid) if "prism" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]
    return sum(rss_mb(c) for c in prism)


def live_events(rate: float, seconds: float, publisher: EventPublisher, sent: list[int]) -> None:
    """A community at a steady rate: posts, comments on recent posts, replies by the post's author."""
    rng = random.Random(5)
    authors = [f"author-{i}" for i in range(8)]
    readers = [f"reader-{i}" for i in range(60)]
    posts: list[tuple[str, str]] = []
    comments: list[tuple[str, str, str]] = []
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        now = int(time.time() * 1000)
        roll = rng.random()
        if roll < 0.1 or not posts:
            author = rng.choice(authors)
            record = {"event_id": f"p{n}", "kind": "POST", "site": "soak", "thread_id": f"p{n}", "item_id": f"p{n}",
                      "parent_id": None, "actor_id": author, "parent_actor_id": None, "created_at": now,
                      "parent_created_at": None}
            posts = (posts + [(f"p{n}", author)])[-50:]
        elif roll < 0.7 or not comments:
            post, author = rng.choice(posts)
            reader = rng.choice(readers)
            record = {"event_id": f"c{n}", "kind": "COMMENT", "site": "soak", "thread_id": post, "item_id": f"c{n}",
                      "parent_id": post, "actor_id": reader, "parent_actor_id": None, "created_at": now,
                      "parent_created_at": None}
            comments = (comments + [(f"c{n}", post, reader)])[-200:]
        else:
            comment, post, reader = rng.choice(comments)
            author = next(a for p, a in posts if p == post) if any(p == post for p, _ in posts) else rng.choice(authors)
            record = {"event_id": f"r{n}", "kind": "REPLY", "site": "soak", "thread_id": post, "item_id": f"r{n}",
                      "parent_id": comment, "actor_id": author, "parent_actor_id": None, "created_at": now,
                      "parent_created_at": None}
        publisher.publish(record)
        sent[0] += 1
        time.sleep(max(0.0, 1.0 / rate))
    publisher.producer.flush()


SCORE_COLUMNS = ("site", "author_id", "reader_id", "window_start", "reader_comments", "author_replies")


def scores_of(warehouse: Path) -> dict[tuple, tuple]:
    """(site, author, reader, window_start) -> (reader_comments, author_replies) of the newest rows."""
    from warehouse import open_warehouse

    columns, rows = open_warehouse(str(warehouse)).export("pair_scores")
    picked = [columns.index(c) for c in SCORE_COLUMNS]
    return {tuple(r[i] for i in picked[:4]): tuple(r[i] for i in picked[4:]) for r in rows}


def compare_with_a_bounded_run(bootstrap: str, topic: str, streamed: Path, work: Path) -> int:
    """Read the topic again, bounded, into its own warehouse; print how the stream's rows differ."""
    batch = work / "batch.duckdb"
    command = [sys.executable, "-m", "pipelines.cli", "run", "--source", "kafka", "--bootstrap-servers", bootstrap,
               "--topic", topic, "--until-end", "--group-id", "soak-batch", "--warehouse", str(batch),
               *live_stream.LIVE_OPTIONS[:6]]  # the stream's window, lateness and dedupe horizon
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        print(f"the bounded run failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return 1
    stream_rows, batch_rows = scores_of(streamed), scores_of(batch)
    differing = sorted(k for k in stream_rows.keys() | batch_rows.keys() if stream_rows.get(k) != batch_rows.get(k))
    print(f"\nrows: stream {len(stream_rows):,}, bounded run {len(batch_rows):,}, differing {len(differing):,} "
          "(reader_comments, author_replies)")
    for key in differing[:10]:
        print(f"  {key}: stream {stream_rows.get(key)}, bounded {batch_rows.get(key)}")
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--bootstrap-servers", default=None)
    parser.add_argument("--sample-every", type=float, default=30.0, help="seconds between memory samples")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    broker, bootstrap = live_stream.given_or_private_broker(args.bootstrap_servers, work / "kafka")
    topic = f"soak-{int(time.time())}"
    try:
        live_stream.create_topic(bootstrap, topic)  # the topic exists before the pipeline plans
        warehouse = work / "soak.duckdb"
        log = open(work / "pipeline.log", "w")
        command = live_stream.streaming_run_command(bootstrap, topic, "soak", str(warehouse))
        pipeline = live_stream.start_streaming_run(command, stdout=log, stderr=subprocess.STDOUT,
                                                   cwd=Path(__file__).resolve().parents[1])
        time.sleep(20)  # start-up: Prism, the job, the first bundles
        sent = [0]
        publisher = EventPublisher(bootstrap, topic)
        producer = threading.Thread(target=live_events, args=(args.rate, args.minutes * 60, publisher, sent))
        started = time.monotonic()
        producer.start()
        samples = []
        print(f"{'t (s)':>7} {'sent':>8} {'python RSS MB':>14} {'prism RSS MB':>13}")
        while producer.is_alive():
            sample = (time.monotonic() - started, sent[0], rss_mb(pipeline.pid), prism_rss_mb(pipeline.pid))
            samples.append(sample)
            print(f"{sample[0]:>7.0f} {sample[1]:>8,} {sample[2]:>14.1f} {sample[3]:>13.1f}", flush=True)
            producer.join(timeout=args.sample_every)
        publisher.close()
        time.sleep(10)
        live_stream.interrupt(pipeline)  # Ctrl-C: drain
        code = pipeline.wait(timeout=600)
        output = (work / "pipeline.log").read_text()
        summary = output[output.find("Run summary"):] if "Run summary" in output else "(no summary)"
        first, last = samples[0], samples[-1]
        print(f"\nsent {sent[0]:,} events in {last[0]:.0f} s; pipeline exit code {code}")
        print(f"python RSS start {first[2]:.1f} MB, end {last[2]:.1f} MB; "
              f"prism RSS start {first[3]:.1f} MB, end {last[3]:.1f} MB")
        print(summary.strip())
        print(f"(log: {work / 'pipeline.log'})")
        # Late data is not expected at this rate (replies answer comments of the last ~10 s, lateness
        # is 1 minute), so every row should match; a difference is printed with its counts.
        differs = compare_with_a_bounded_run(bootstrap, topic, warehouse, work)
        return 0 if code == 0 and not differs else 1
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
