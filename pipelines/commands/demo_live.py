"""``demo --live``: the synthetic community played live through a broker and the streaming pipeline,
with rows appearing in the warehouse while it runs, until Ctrl-C (or ``--seconds``).

In: the demo's options (``--out``, ``--warehouse``, the community's ``--seed``/``--scale``/``--days``)
and ``--rate``/``--seconds``. Out: a status line every few seconds (events sent, pair rows in the
warehouse, the stream's counters from its ledger), the strongest relationships so far now and then
(``query top``'s code path), and at the end the stream's run summary. Why: streaming cannot be seen
working otherwise; this needs no server started by hand.

The parts are the product's own (``pipelines.live_stream``): a broker of the demo's own under
``--out``/kafka, the live producer (``producers.synthetic_live``) in a thread, and ``social-mentors run
--source kafka --streaming`` in a process of its own. The first Ctrl-C (or SIGTERM) stops the producer
and passes one Ctrl-C to the stream, which drains; a second one aborts the stream too.
"""
from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from pipelines import live_stream
from pipelines.commands.options import positive_float

# The stream's options: short windows so rows turn final within minutes, early panes every few
# seconds so rows appear at once, and ids remembered for an hour (the live producer re-delivers
# records of its current round, minutes old at the default rate). The demo prints the counters itself.
DEMO_STREAM_OPTIONS = ("--window", "1m", "--allowed-lateness", "2m", "--dedupe-horizon", "1h",
                       "--early-firing", "5s", "--idle-timeout", "5s", "--heartbeat", "0")
BEAT_S = 5.0
TOP_EVERY_BEATS = 6  # the strongest relationships every 30 s
TOP_ROWS = 5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
LOCK_WAIT = "is locked by another process"  # the warehouse's progress line while a reader waits for a writer


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The live demo is ``demo --live``: its options go on the demo's parser (the community group's,
    registered before this group in cli.COMMAND_GROUPS), and ``demo`` dispatches here."""
    demo = commands.choices["demo"]
    demo.add_argument("--live", action="store_true",
                      help="play the community live instead: a Kafka broker of the demo's own (under --out), events "
                           "stamped now at --rate per second, the streaming pipeline writing rows as they come, "
                           "until Ctrl-C or --seconds (needs Java; the stream runs on Prism)")
    demo.add_argument("--rate", type=positive_float, default=50.0, help="--live: events per second (default 50)")
    demo.add_argument("--seconds", type=positive_float, default=None, metavar="N",
                      help="--live: stop by itself after N seconds of streaming, as Ctrl-C does (default: until Ctrl-C)")
    return {"demo": cmd_demo}


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.commands.community import cmd_demo as file_demo

    if not args.live:
        stray = [f"--{dest}" for dest in getattr(args, "given", []) if dest in ("rate", "seconds")]
        if stray:
            raise ValueError(f"{', '.join(stray)} {'belongs' if len(stray) == 1 else 'belong'} to the live demo: add --live")
        return file_demo(args)
    if args.start is not None:
        raise ValueError("--live stamps every event with the current time: leave out --start")
    if args.warehouse.startswith("bigquery://"):
        raise ValueError("the live demo writes a local DuckDB warehouse: give --warehouse a file path")
    live_stream.check_tools("the live demo")
    return LiveDemo(args).run()


class Aborted(Exception):
    """A second Ctrl-C: stop everything now, the pending windows unwritten."""


class LiveDemo:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.state_dir = self.out / "kafka"
        # A warehouse of its own unless told: `demo`'s holds weekly windows, and a run refuses to add
        # windows of another length (the stream's are a minute) to a warehouse.
        self.warehouse = args.warehouse if "warehouse" in getattr(args, "given", []) else str(self.out / "live.duckdb")
        self.topic = f"live-demo-{int(time.time())}"
        self.signals = 0
        self.stopping = False  # read by the producer thread; a flag, not an Event: set by a signal handler
        self.finishing = False
        self.stream: Optional[subprocess.Popen] = None
        self.sent = 0
        self.report: Any = None
        self.producer_error: Optional[str] = None
        self.producer: Optional[threading.Thread] = None
        self.stream_lines: list[str] = []
        self.reader: Any = None  # the warehouse, open read-only once it exists
        self.run_id: Optional[int] = None  # the stream's run in the warehouse, once recorded
        self.started = time.monotonic()

    # --- signals ---------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        if self.finishing:  # the stream is over: the broker stops in a moment either way
            return
        if self.stream is None:  # nothing streams yet: stop where we are (main() says "interrupted")
            raise KeyboardInterrupt
        if self.signals == 1:
            self.stopping = True
            return
        raise Aborted(signal.Signals(signum).name)

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        progress = logging.getLogger("social_mentors.progress")
        level = progress.level
        progress.setLevel(logging.WARNING)  # the demo's reads waiting for the stream's writes: the status line says enough
        try:
            return self._run()
        except Aborted as why:
            print(f"{why} again: aborting; the stream's pending windows are not written", file=sys.stderr, flush=True)
            return 130
        finally:
            self._clean_up()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            progress.setLevel(level)

    def _clean_up(self) -> None:
        self.finishing = True
        self.stopping = True
        if self.producer is not None:
            self.producer.join(30)
        if self.stream is not None and self.stream.poll() is None:
            live_stream.interrupt(self.stream)  # the stream's second Ctrl-C: it aborts
            try:
                self.stream.wait(15)
            except subprocess.TimeoutExpired:
                live_stream.kill(self.stream)
        from services.kafka_broker import KafkaBroker

        if self.state_dir.is_dir():  # the broker is the demo's own, emptied on the next run: no need to wait for it
            KafkaBroker(state_dir=self.state_dir).stop(hard=True)

    # --- the demo --------------------------------------------------------------------------------

    def _run(self) -> int:
        from pipelines.commands.options import community_spec

        live_stream.empty_broker_folder(self.state_dir, keep=Path(self.warehouse))
        print(f"Starting a Kafka broker (its state and log in {self.state_dir}) ...", file=sys.stderr)
        bootstrap = live_stream.start_private_broker(self.state_dir).bootstrap
        live_stream.create_topic(bootstrap, self.topic)
        self.producer = threading.Thread(target=self._produce, args=(bootstrap, community_spec(self.args)),
                                         name="live-producer", daemon=True)
        self.producer.start()
        command = live_stream.streaming_run_command(bootstrap, self.topic, "live-demo", self.warehouse,
                                                    DEMO_STREAM_OPTIONS)
        print(f"Producing live events at {self.args.rate:g}/s to {self.topic} on {bootstrap}; the stream:\n"
              f"  social-mentors {' '.join(command[3:])}\n"
              f"Rows appear in {self.warehouse} once the stream has started (a minute or so). "
              f"{'Stopping after %gs' % self.args.seconds if self.args.seconds else 'Press Ctrl-C to stop'} "
              "(the stream then drains: every pending window is written).", file=sys.stderr, flush=True)
        self.stream = live_stream.start_streaming_run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._relay_stream_messages, name="stream-messages", daemon=True).start()
        self.started = time.monotonic()
        self._watch(until_stopped=True)
        if self.stream.poll() is not None:
            raise RuntimeError(f"the stream ended by itself (exit {self.stream.returncode}): "
                               + " / ".join(line.strip() for line in self.stream_lines[-5:]))
        self._stop_producer()
        self._pass_on_ctrl_c()
        self._watch(until_stopped=False)  # the drain: rows keep coming
        self.finishing = True
        summary = self.stream.stdout.read() if self.stream.stdout else ""
        print(summary.rstrip())
        self._show_top("The strongest relationships found")
        print(f"\nWarehouse: {self.warehouse}. Try:\n"
              f"  social-mentors query top --warehouse {self.warehouse}\n"
              f"  social-mentors export runs --warehouse {self.warehouse}")
        return 0 if self.stream.returncode == 0 else self.stream.returncode

    def _produce(self, bootstrap: str, spec: Any) -> None:
        from producers.kafka_producer import EventPublisher
        from producers.synthetic_live import live_events

        def until_stopped():
            for record in live_events(spec, self.args.rate):
                if self.stopping:
                    return
                yield record
                self.sent += 1

        try:
            with EventPublisher(bootstrap, self.topic) as publisher:
                self.report = publisher.publish_all(until_stopped(), progress=None)
        except Exception as error:  # shown on the status line; the stream goes on with what it has
            self.producer_error = f"{type(error).__name__}: {error}"

    def _stop_producer(self) -> None:
        self.stopping = True
        if self.producer is not None:
            self.producer.join(60)
        report = self.report.render() if self.report is not None else f"producer failed: {self.producer_error}"
        print(f"Stopping: the producer {report}; the stream drains (pending windows fire and are written) ...",
              file=sys.stderr, flush=True)

    def _relay_stream_messages(self) -> None:
        for line in self.stream.stderr:
            # the stream waiting out the demo's own reads of the warehouse (_status) is no news here
            if line.strip() and LOCK_WAIT not in line:
                self.stream_lines = (self.stream_lines + [line])[-20:]
                print(f"  [stream] {line.rstrip()}", file=sys.stderr, flush=True)

    def _pass_on_ctrl_c(self) -> None:
        """One Ctrl-C to the stream, once it listens for one (it ignores SIGINT while Prism starts,
        and one that came before its read began would end it without a summary)."""
        asked = time.monotonic()
        while self.stream.poll() is None:
            listening = not live_stream.ignores_ctrl_c(self.stream.pid)
            if listening and (self._status()[1] is not None or time.monotonic() - asked > 60):
                live_stream.interrupt(self.stream)
                return
            time.sleep(0.5)

    # --- what the newcomer sees ------------------------------------------------------------------

    def _watch(self, until_stopped: bool) -> None:
        """A status line every BEAT_S (the strongest relationships every TOP_EVERY_BEATS) until the
        stream exits, or (``until_stopped``) until Ctrl-C or ``--seconds``."""
        beat, shown_top = 0, False
        next_beat = time.monotonic() + BEAT_S
        while self.stream.poll() is None and not (until_stopped and self.stopping):
            if time.monotonic() < next_beat:
                time.sleep(0.2)
                continue
            next_beat += BEAT_S
            beat += 1
            rows, counters = self._status()
            print(self._status_line(rows, counters), flush=True)
            if rows and (beat % TOP_EVERY_BEATS == 0 or not shown_top):
                shown_top = self._show_top("The strongest relationships so far")
            seconds = self.args.seconds
            if until_stopped and seconds and time.monotonic() - self.started >= seconds and counters is not None:
                print(f"--seconds {seconds:g}: stopping as Ctrl-C does", file=sys.stderr, flush=True)
                self.stopping = True

    def _status(self) -> tuple[Optional[int], Any]:
        """(pair rows in the warehouse, the stream's RunSummary so far), each None until it can be read;
        read-only, as ``query`` reads, waiting out the stream's writes. Two reads a beat: each read
        opens the file, and the stream waits for it meanwhile."""
        from pipelines.summary import read_accounting, summary_of
        from transforms.events import to_millis
        from warehouse import open_warehouse

        try:
            self.reader = self.reader or open_warehouse(self.warehouse, read_only=True)
            rows = self.reader.count("pair_scores")
            if self.run_id is None:  # the stream's run: the newest, once it is recorded
                columns, newest = self.reader.query("newest_run", {})
                run = dict(zip(columns, newest[0])) if newest else {}
                if self.topic in (run.get("source") or ""):
                    self.run_id = to_millis(run["run_started_at"], "run_started_at")
        except Exception:  # not created yet, or busy beyond the wait: the next beat tries again
            return None, None
        if self.run_id is None:
            return rows, None
        try:
            accounting = read_accounting(self.warehouse, self.run_id, reader=self.reader)
        except Exception:
            return rows, None
        return rows, (summary_of(accounting, self.warehouse, self.run_id, 0.0) if accounting else None)

    def _status_line(self, rows: Optional[int], counters: Any) -> str:
        elapsed = time.monotonic() - self.started
        warehouse = f"{rows:,} pair rows in the warehouse" if rows is not None else "warehouse not readable yet"
        stream = (f"stream: records in {counters.records_in:,}, scored {counters.scored:,}, duplicates "
                  f"{counters.duplicates:,}, skipped {counters.skipped_total:,}, dead-lettered "
                  f"{counters.dead_letters_total:,}, its pair rows {counters.pair_score_rows:,}"
                  if counters is not None else "stream: starting (no counters yet)")
        failed = f" (producer failed: {self.producer_error})" if self.producer_error else ""
        return f"[{elapsed:5.0f}s] sent {self.sent:,} events{failed} | {warehouse} | {stream}"

    def _show_top(self, title: str) -> bool:
        """``query top``'s rows, as it prints them; False when they cannot be read now."""
        from pipelines.commands.output import QUERY_FLOAT_DIGITS, write_rows
        from pipelines.commands.query import run_query

        try:
            columns, rows = run_query(self.warehouse, "top", {"top": TOP_ROWS})
        except Exception:
            return False
        print(f"{title} (social-mentors query top --top {TOP_ROWS}):")
        write_rows(columns, rows, "table", float_digits=QUERY_FLOAT_DIGITS)
        sys.stdout.flush()
        return True
