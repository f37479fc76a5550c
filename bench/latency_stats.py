"""What the streaming latency benchmark (bench/streaming_latency.py) computes, without any I/O.

In: the records as published (with their publish wall times) and the warehouse's reader_comments per
(pair, window) as each poll saw them. Out: each reader comment's delay from its publish to the first
poll whose row counted it, and percentiles of those delays (overall, by thirds, by time bucket). Kept
apart from the run so it can be tested without a broker or a pipeline.
"""
from __future__ import annotations

import bisect
import dataclasses
from typing import Any, Iterable, Optional

from transforms.windowing import window_bounds

@dataclasses.dataclass(frozen=True)
class Comment:
    published_at: float  # wall seconds, when the producer had taken it
    key: tuple  # (site, author, reader, window_start_ms)
    ordinal: int  # the row shows it once its reader_comments >= ordinal


class CommentLedger:
    """Which published records are reader comments, of which (pair, window), and their ordinal in it.

    The pipeline's rules (README "Scores"): a reader comment of (A, R) is R's response whose parent
    item is A's (the producer's parent_actor_id wins); a re-delivered event_id counts once; POSTs,
    self-responses and orphans (a parent never published) are no reader comment."""

    def __init__(self, window_ms: int):
        self.window_ms = window_ms
        self.actor_of: dict[tuple, str] = {}  # (site, thread, item) -> actor
        self.event_ids: set[str] = set()
        self.counts: dict[tuple, int] = {}
        self.comments: list[Comment] = []

    def add(self, record: dict[str, Any], published_at: float) -> Optional[Comment]:
        if record["event_id"] in self.event_ids:
            return None
        self.event_ids.add(record["event_id"])
        site, thread = record["site"], record["thread_id"]
        self.actor_of.setdefault((site, thread, record["item_id"]), record["actor_id"])
        if record["kind"] == "POST":
            return None
        author = record.get("parent_actor_id") or self.actor_of.get((site, thread, record["parent_id"]))
        if author is None or author == record["actor_id"]:
            return None
        key = (site, author, record["actor_id"], window_bounds(record["created_at"], self.window_ms)[0])
        self.counts[key] = self.counts.get(key, 0) + 1
        comment = Comment(published_at, key, self.counts[key])
        self.comments.append(comment)
        return comment


class RowWatch:
    """Each key's reader_comments as the polls saw it grow: key -> ([poll times], [counts])."""

    def __init__(self) -> None:
        self.history: dict[tuple, tuple[list[float], list[int]]] = {}

    def update(self, seen_at: float, rows: Iterable[tuple]) -> None:
        for site, author, reader, window_start, count in rows:
            times, counts = self.history.setdefault((site, author, reader, int(window_start)), ([], []))
            if not counts or count > counts[-1]:
                times.append(seen_at)
                counts.append(count)

    def current(self, key: tuple) -> int:
        counts = self.history.get(key, ([], []))[1]
        return counts[-1] if counts else 0

    def behind(self, expected: dict[tuple, int]) -> int:
        """How many comments of ``expected`` (key -> count) no row shows yet."""
        return sum(max(0, n - self.current(key)) for key, n in expected.items())


def delays(comments: Iterable[Comment], watch: RowWatch) -> list[Optional[float]]:
    """Each comment's delay in seconds (first poll showing >= its ordinal, minus its publish), in the
    comments' order; None for a comment no poll showed."""
    found: list[Optional[float]] = []
    for comment in comments:
        times, counts = watch.history.get(comment.key, ([], []))
        at = bisect.bisect_left(counts, comment.ordinal)
        found.append(times[at] - comment.published_at if at < len(counts) else None)
    return found


def percentile(values: list[Optional[float]], q: float) -> Optional[float]:
    """Nearest-rank percentile, a missing value (None: never shown) counted as the slowest; None when
    the rank falls among those (or there are no values)."""
    if not values:
        return None
    ranked = sorted(values, key=lambda v: (v is None, v or 0.0))
    return ranked[max(0, min(len(ranked) - 1, int(-(-q * len(ranked) // 100)) - 1))]


def summarize(found: list[Optional[float]]) -> dict[str, Any]:
    """p50/p90/p99/max over all comments (never shown = slowest), and p50 of the first and last thirds
    (by publish order): the lag grows when the last third's is well above the first's."""
    third = len(found) // 3
    shown = [d for d in found if d is not None]
    return {
        "comments": len(found), "never_shown": len(found) - len(shown),
        "p50_s": percentile(found, 50), "p90_s": percentile(found, 90), "p99_s": percentile(found, 99),
        "max_s": percentile(found, 100),
        "p50_first_third_s": percentile(found[:third], 50) if third else None,
        "p50_last_third_s": percentile(found[-third:], 50) if third else None,
        # of the comments that did show: what the few that make it through see
        "p50_shown_s": percentile(shown, 50), "p99_shown_s": percentile(shown, 99),
    }


def seconds_text(value: Optional[float]) -> str:
    return "never" if value is None else f"{value:.2f} s"


def buckets(comments: list[Comment], found: list[Optional[float]], origin: float, width_s: float,
            lag: list[tuple[float, int, int]]) -> list[dict[str, Any]]:
    """Per ``width_s`` of publish time: comments published, never shown, p50 of their delay, and the
    consumer lag sampled last in that bucket."""
    rows = []
    count = int(max((c.published_at - origin for c in comments), default=0) // width_s) + 1
    for b in range(count):
        lo, hi = origin + b * width_s, origin + (b + 1) * width_s
        picked = [d for c, d in zip(comments, found) if lo <= c.published_at < hi]
        lags = [(e, n) for t, e, n in lag if lo <= t < hi]
        rows.append({"from_s": b * width_s, "comments": len(picked), "never_shown": sum(d is None for d in picked),
                     "p50_s": percentile(picked, 50), "kafka_end": lags[-1][0] if lags else None,
                     "kafka_lag": lags[-1][1] if lags else None})
    return rows
