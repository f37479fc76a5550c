"""What the report shows, from the warehouse: every window of every pair in scope
(``report_windows.sql``) and the dead letters by reason (``report_dead_letters.sql``), aggregated
here into pairs, authors, readers, the mentor network and distributions.

In: a warehouse URL and the scope (site, since, as_of). Out: a :class:`ReportData`. The queries are
SQL files run by the warehouse (DuckDB or BigQuery alike); the aggregation is plain Python so that
the two warehouses cannot disagree on it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

import schemas

REGULAR_MIN_WINDOWS = 2  # a regular of an author comments on their items in at least two windows
RECIPROCAL_MIN_EACH_WAY = 3  # a pair among the most reciprocal has at least 3 comments and 3 replies


@dataclass
class Pair:
    site: str
    author_id: str
    reader_id: str
    reader_comments: int = 0
    author_replies: int = 0
    windows: int = 0
    reader_windows: int = 0
    active_days: int = 0
    mentor_score_sum: float = 0.0
    strength: Optional[float] = None  # from the strength query when the warehouse has one
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reciprocity(self) -> float:
        high = max(self.reader_comments, self.author_replies)
        return min(self.reader_comments, self.author_replies) / high if high else 0.0

    @property
    def weight(self) -> float:
        return self.strength if self.strength is not None else self.mentor_score_sum


@dataclass
class ReportData:
    scope: dict[str, Any]
    windows: int
    pairs: dict[tuple[str, str, str], Pair]
    dead_letters: list[tuple[str, int, str, str]]
    skipped: list[tuple[str, int]]
    first_interaction_at: Optional[dt.datetime]
    last_interaction_at: Optional[dt.datetime]
    first_window_start: Optional[dt.datetime]
    last_window_end: Optional[dt.datetime]
    weight_name: str = "sum of mentor_score"
    latencies: list[tuple[float, int]] = field(default_factory=list)  # (window median s, replies)

    @property
    def sites(self) -> list[str]:
        return sorted({site for site, _, _ in self.pairs})

    @property
    def reader_comments(self) -> int:
        return sum(p.reader_comments for p in self.pairs.values())

    @property
    def author_replies(self) -> int:
        return sum(p.author_replies for p in self.pairs.values())


def _params(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters the query declares: engines refuse values for parameters they do not have."""
    return {param: values.get(param) for param, _ in schemas.query_parameters(name)}


def load(warehouse_url: str, site: Optional[str] = None, since: Optional[dt.datetime] = None,
         as_of: Optional[dt.datetime] = None) -> ReportData:
    """Read and aggregate what the report shows for ``site`` (None: every site) between ``since``
    and ``as_of`` (None: no bound)."""
    from warehouse import open_warehouse

    warehouse = open_warehouse(warehouse_url, read_only=True)
    scope = {"site": site, "since": since, "as_of": as_of}
    columns, rows = warehouse.query("report_windows", _params("report_windows", scope))
    pairs: dict[tuple[str, str, str], Pair] = {}
    latencies: list[tuple[float, int]] = []
    firsts, lasts, starts, ends = [], [], [], []
    for values in rows:
        row = dict(zip(columns, values))
        key = (row["site"], row["author_id"], row["reader_id"])
        pair = pairs.get(key) or pairs.setdefault(key, Pair(*key))
        pair.reader_comments += row["reader_comments"]
        pair.author_replies += row["author_replies"]
        pair.windows += 1
        pair.reader_windows += 1 if row["reader_comments"] > 0 else 0
        pair.active_days += row["reader_active_days"] or 0
        pair.mentor_score_sum += row["mentor_score"] or 0.0
        pair.timeline.append(row)
        if row["reply_latency_p50_s"] is not None and row["author_replies"]:
            latencies.append((float(row["reply_latency_p50_s"]), row["author_replies"]))
        firsts.append(row["first_interaction_at"])
        lasts.append(row["last_interaction_at"])
        starts.append(row["window_start"])
        ends.append(row["window_end"])
    dl_columns, dl_rows = warehouse.query("report_dead_letters", {})
    return ReportData(
        scope=scope, windows=len(rows), pairs=pairs, dead_letters=[tuple(r) for r in dl_rows], skipped=[],
        first_interaction_at=min(filter(None, firsts), default=None),
        last_interaction_at=max(filter(None, lasts), default=None),
        first_window_start=min(starts, default=None), last_window_end=max(ends, default=None),
        latencies=latencies,
    )


def weighted_median(values: list[tuple[float, int]]) -> Optional[float]:
    """The median of values each repeated ``weight`` times (window medians weighted by their replies)."""
    values = sorted((v, w) for v, w in values if w > 0)
    total = sum(w for _, w in values)
    if not total:
        return None
    seen = 0
    for value, weight in values:
        seen += weight
        if seen * 2 >= total:
            return value
    return values[-1][0]


def top_edges(data: ReportData, top: int) -> list[Pair]:
    """The mentor network's edges: the ``top`` pairs with an author reply, strongest first."""
    answered = [p for p in data.pairs.values() if p.author_replies > 0 and p.weight > 0]
    return sorted(answered, key=lambda p: (-p.weight, p.site, p.author_id, p.reader_id))[:top]


def authors(data: ReportData) -> list[dict[str, Any]]:
    """Per author: reader comments, replies, reply rate, median latency and number of regulars."""
    by_author: dict[tuple[str, str], dict[str, Any]] = {}
    for pair in data.pairs.values():
        entry = by_author.setdefault((pair.site, pair.author_id), {
            "site": pair.site, "author_id": pair.author_id, "reader_comments": 0, "author_replies": 0,
            "regulars": 0, "latencies": []})
        entry["reader_comments"] += pair.reader_comments
        entry["author_replies"] += pair.author_replies
        entry["regulars"] += 1 if pair.reader_windows >= REGULAR_MIN_WINDOWS else 0
        entry["latencies"] += [(w["reply_latency_p50_s"], w["author_replies"]) for w in pair.timeline
                               if w["reply_latency_p50_s"] is not None]
    for entry in by_author.values():
        rc = entry["reader_comments"]
        entry["reply_rate"] = min(1.0, entry["author_replies"] / rc) if rc else None
        entry["median_latency_s"] = weighted_median(entry.pop("latencies"))
    return list(by_author.values())


def responsive_authors(data: ReportData, top: int) -> list[dict[str, Any]]:
    """Authors who answer: most replies at the highest rate, then the fastest."""
    answering = [a for a in authors(data) if a["author_replies"] > 0]
    return sorted(answering, key=lambda a: (-a["author_replies"] * (a["reply_rate"] or 0), -a["regulars"],
                                            a["median_latency_s"] or 0, a["author_id"]))[:top]


def regular_readers(data: ReportData, top: int) -> list[dict[str, Any]]:
    """Readers who come back: most active days over all their authors, then most authors."""
    by_reader: dict[tuple[str, str], dict[str, Any]] = {}
    for pair in data.pairs.values():
        if not pair.reader_comments:
            continue
        entry = by_reader.setdefault((pair.site, pair.reader_id), {
            "site": pair.site, "reader_id": pair.reader_id, "active_days": 0, "reader_comments": 0,
            "authors": 0, "regular_of": 0})
        entry["active_days"] += pair.active_days
        entry["reader_comments"] += pair.reader_comments
        entry["authors"] += 1
        entry["regular_of"] += 1 if pair.reader_windows >= REGULAR_MIN_WINDOWS else 0
    return sorted(by_reader.values(), key=lambda r: (-r["active_days"], -r["authors"], r["reader_id"]))[:top]


def reciprocal_pairs(data: ReportData, top: int) -> list[Pair]:
    """Pairs that talk both ways: at least 3 comments and 3 replies, most even first, then busiest."""
    both = [p for p in data.pairs.values()
            if p.reader_comments >= RECIPROCAL_MIN_EACH_WAY and p.author_replies >= RECIPROCAL_MIN_EACH_WAY]
    return sorted(both, key=lambda p: (-p.reciprocity, -(p.reader_comments + p.author_replies),
                                       p.author_id, p.reader_id))[:top]
