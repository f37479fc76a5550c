"""A run's counters while it runs: `run --metrics-port PORT` serves them in Prometheus text format on
127.0.0.1 for scraping, and a stream prints them every `--heartbeat` seconds.

In: the warehouse and the run's id. Out: ``GET /metrics`` answered with the counts of the run's
ledger (records in, scored, skipped and dead-lettered by reason, duplicates, pair rows, late author
replies), read from the warehouse at each scrape through ``pipelines.summary.summarize``: the numbers
the run summary prints. Not Beam's metrics, which are best-effort (see ``transforms/ledger.py``); a
stream rewrites each count of its ledger every ``LEDGER_EARLY_COUNT`` (50) entries of that outcome, so
a live count moves in steps of 50 and the last fewer than 50 of a quiet stream show only when more
arrive or at the drain (measured: records in 550 of 582 read, for minutes). The warehouse is read at
most once a second, however often it is scraped.

Bound to 127.0.0.1 only: the counters name dead-letter reasons and the warehouse, and nothing here
authenticates a scraper; put a proxy in front to expose it.
"""
from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from contextlib import nullcontext
from typing import Callable, ContextManager, Optional, TextIO

from pipelines.summary import RunSummary, read_accounting, summary_of

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "social_mentors"
READ_AT_MOST_EVERY_S = 1.0


def _label_value(text: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Whole counts as integers, anything else at full precision (``g`` would round a timestamp)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _family(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {PREFIX}_{name} {help_text}", f"# TYPE {PREFIX}_{name} {kind}"]
    for labels, value in samples:
        shown = ",".join(f'{key}="{_label_value(val)}"' for key, val in sorted(labels.items()))
        lines.append(f"{PREFIX}_{name}{{{shown}}} {_number(value)}" if shown else f"{PREFIX}_{name} {_number(value)}")
    return lines


def prometheus_text(summary: RunSummary) -> str:
    """The run's counters, one family per outcome, reasons as labels."""
    families = [
        ("records_in_total", "counter", "Events and undecodable records that entered the pipeline.",
         [({}, summary.records_in)]),
        ("scored_total", "counter", "Records that count toward a pair (less those dead-lettered TOO_LATE).",
         [({}, summary.scored)]),
        ("skipped_total", "counter", "Records skipped, by reason (posts, self-responses).",
         [({"reason": r}, n) for r, n in sorted(summary.skipped.items())] or [({"reason": ""}, 0)]),
        ("duplicates_total", "counter", "Later copies of an event_id.", [({}, summary.duplicates)]),
        ("dead_lettered_total", "counter", "Records dead-lettered, by error_kind.",
         [({"error_kind": k}, n) for k, n in sorted(summary.dead_letters.items())] or [({"error_kind": ""}, 0)]),
        ("late_author_replies_total", "counter", "Author replies that reached a window already closed.",
         [({}, summary.late_author_replies)]),
        ("pair_rows", "gauge", "Rows of this run that pair_scores_latest shows.", [({}, summary.pair_score_rows)]),
        ("refused_rows_total", "counter", "Pair rows the warehouse refused.", [({}, summary.refused_rows)]),
        ("run_started_timestamp_seconds", "gauge", "When the run started (its id).",
         [({}, (summary.run_started_at or 0) / 1000.0)]),
    ]
    lines = [line for name, kind, help_text, samples in families for line in _family(name, kind, help_text, samples)]
    return "\n".join(lines) + "\n"


class _CachedText:
    """The text of the newest read, re-read when older than ``max_age_s``: scrapers may be many."""

    def __init__(self, read: Callable[[], str], max_age_s: float = READ_AT_MOST_EVERY_S):
        self.read, self.max_age_s = read, max_age_s
        self.lock = threading.Lock()
        self.text, self.read_at = "", float("-inf")

    def __call__(self) -> str:
        with self.lock:
            if time.monotonic() - self.read_at >= self.max_age_s:
                self.text, self.read_at = self.read(), time.monotonic()
            return self.text


def _handler(text: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404, "only /metrics")
                return
            try:
                body = text().encode("utf-8")
            except Exception as error:  # the warehouse busy or away: the scrape fails, the run goes on
                self.send_error(503, f"cannot read the run's ledger: {type(error).__name__}")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # a scrape every 15 s is no news
            pass

    return MetricsHandler


class MetricsServer:
    """Serves ``text()`` at http://127.0.0.1:PORT/metrics from a daemon thread until closed."""

    def __init__(self, port: int, text: Callable[[], str]):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(_CachedText(text)))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> "MetricsServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_metrics(warehouse_url: str, run_started_at: int) -> Callable[[], str]:
    """What a scrape answers for the run: its ledger as the warehouse holds it now. A failed read
    raises (the scrape fails) rather than answer zeros, which a scraper would take for a reset."""
    started = time.monotonic()
    return lambda: prometheus_text(summary_of(read_accounting(warehouse_url, run_started_at), warehouse_url,
                                              run_started_at, time.monotonic() - started))


def serving_metrics(port: Optional[int], warehouse_url: str, run_started_at: int) -> ContextManager[object]:
    """A server for ``run --metrics-port`` (None: no server)."""
    return MetricsServer(port, run_metrics(warehouse_url, run_started_at)) if port is not None else nullcontext()


def heartbeat_line(summary: RunSummary, now_ms: int) -> str:
    """One line of a stream's counters so far, stamped in ISO 8601 UTC."""
    from transforms.events import iso_utc

    return (f"  {iso_utc(now_ms)}  records in {summary.records_in:,}, scored {summary.scored:,}, "
            f"skipped {summary.skipped_total:,}, duplicates {summary.duplicates:,}, "
            f"dead-lettered {summary.dead_letters_total:,}, pair rows {summary.pair_score_rows:,}")


class Heartbeat:
    """Prints ``line()`` to ``out`` every ``every_s`` seconds from a daemon thread until closed: a
    stream's counters while it runs (``run --streaming --heartbeat``). A failed read prints nothing."""

    def __init__(self, every_s: Optional[float], line: Callable[[], str], out: Optional[TextIO] = None):
        self.every_s, self.line, self.out = every_s, line, out
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                text = self.line()
            except Exception:  # the warehouse busy: the next beat tries again
                continue
            print(text, file=self.out or sys.stderr, flush=True)

    def __enter__(self) -> "Heartbeat":
        if self.every_s:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)


def run_heartbeat(every_s: Optional[float], warehouse_url: str, run_started_at: int) -> Heartbeat:
    """The heartbeat of a stream (None or 0: none): its ledger as the warehouse holds it, each beat."""
    def line() -> str:
        summary = summary_of(read_accounting(warehouse_url, run_started_at), warehouse_url, run_started_at, 0.0)
        return heartbeat_line(summary, int(time.time() * 1000))

    return Heartbeat(every_s, line)
