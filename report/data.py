"""What the report shows, from the warehouse: every window of every pair in scope
(``report_windows.sql``), the relationship strength of every pair (``strengths.sql``, the measure
`query mentors/top/pair` rank by), the dead letters by reason (``report_dead_letters.sql``) and the
newest run's skips (``newest_run.sql``, ``run_accounting.sql``),
aggregated here into pairs, authors, readers, the mentor network and distributions.

In: a warehouse URL and the scope (site, since, as_of). Out: a :class:`ReportData`. The queries are
SQL files run by the warehouse (DuckDB or BigQuery alike); the aggregation is plain Python so that
the two warehouses cannot disagree on it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

import schemas

# run_ledger's outcome of skipped records (schemas/run_ledger.avsc; transforms.ledger.SKIPPED, not
# imported: that module loads Beam, which the report does not need)
SKIPPED = "skipped"

REGULAR_MIN_WINDOWS = 2  # a regular of an author comments on their items in at least two windows
RECIPROCAL_MIN_EACH_WAY = 3  # a pair among the most reciprocal has at least 3 comments and 3 replies
DEFAULT_HALF_LIFE_DAYS = 14.0  # as `query` decays (transforms.score.ScoringConfig), read without importing upward


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
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reciprocity(self) -> float:
        high = max(self.reader_comments, self.author_replies)
        return min(self.reader_comments, self.author_replies) / high if high else 0.0


@dataclass
class Edge:
    """A relationship of the mentor network, mentor -> mentee as ``_pair_strength.sql`` orients it
    (the side with more partners), weighted by its strength. A relationship is both directions of
    a pair, so its counts and its timeline add up the two."""

    site: str
    mentor_id: str
    mentee_id: str
    strength: float
    comments: int = 0
    replies: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)


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
    strengths: list[dict[str, Any]] = field(default_factory=list)  # strengths.sql rows of two-way pairs
    skipped_run: Optional[dt.datetime] = None  # the run whose ledger ``skipped`` comes from
    weight_name: str = "relationship strength"
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


def _two_way_strengths(warehouse: Any, site: Optional[str], as_of: Optional[dt.datetime],
                       half_life_days: float) -> list[dict[str, Any]]:
    """Every pair that answered back, with its strength as of ``as_of`` (None: the newest data):
    the pairs `query top` ranks, measured the same way."""
    params = {"site": site, "as_of": as_of, "half_life_days": half_life_days}
    columns, rows = warehouse.query("strengths", _params("strengths", params))
    return [row for row in (dict(zip(columns, values)) for values in rows) if row["two_way"]]


def _newest_run_skips(warehouse: Any) -> tuple[Optional[dt.datetime], list[tuple[str, int]]]:
    """The skips (reason, count) the newest run counted in its ledger, and that run's start. Skips
    are counts per run, not stored records (as dead letters are), so they cannot be merged across
    runs: a second run over the same input would count each post twice."""
    columns, rows = warehouse.query("newest_run", {})
    if not rows:
        return None, []
    run = dict(zip(columns, rows[0]))["run_started_at"]
    _, accounting = warehouse.query("run_accounting", {"run": run})
    skips = [(reason, int(n)) for side, outcome, reason, n in accounting if side == "ledger" and outcome == SKIPPED]
    return run, sorted(skips, key=lambda skip: (-skip[1], skip[0]))


def load(warehouse_url: str, site: Optional[str] = None, since: Optional[dt.datetime] = None,
         as_of: Optional[dt.datetime] = None, half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> ReportData:
    """Read and aggregate what the report shows for ``site`` (None: every site) between ``since``
    and ``as_of`` (None: no bound). Strengths decay from ``as_of`` (None: the newest data) with
    ``half_life_days``, as `query top` does."""
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
        pair.timeline.append(row)
        if row["reply_latency_p50_s"] is not None and row["author_replies"]:
            latencies.append((float(row["reply_latency_p50_s"]), row["author_replies"]))
        firsts.append(row["first_interaction_at"])
        lasts.append(row["last_interaction_at"])
        starts.append(row["window_start"])
        ends.append(row["window_end"])
    dl_columns, dl_rows = warehouse.query("report_dead_letters", {})
    skipped_run, skipped = _newest_run_skips(warehouse)
    return ReportData(
        scope=scope, windows=len(rows), pairs=pairs, dead_letters=[tuple(r) for r in dl_rows], skipped=skipped,
        skipped_run=skipped_run,
        first_interaction_at=min(filter(None, firsts), default=None),
        last_interaction_at=max(filter(None, lasts), default=None),
        first_window_start=min(starts, default=None), last_window_end=max(ends, default=None),
        strengths=_two_way_strengths(warehouse, site, as_of, half_life_days), latencies=latencies,
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


def _merged_timeline(directions: list[Pair]) -> list[dict[str, Any]]:
    """The windows of both directions of a pair, one row per window: comments and replies added,
    the median reply latency as the replies-weighted median of the directions' medians."""
    by_start: dict[Any, list[dict[str, Any]]] = {}
    for pair in directions:
        for window in pair.timeline:
            by_start.setdefault(window["window_start"], []).append(window)
    merged = []
    for start in sorted(by_start):
        rows = by_start[start]
        merged.append({
            "window_start": start, "window_end": rows[0]["window_end"],
            "reader_comments": sum(r["reader_comments"] for r in rows),
            "author_replies": sum(r["author_replies"] for r in rows),
            "reply_latency_p50_s": weighted_median([(r["reply_latency_p50_s"], r["author_replies"]) for r in rows
                                                    if r["reply_latency_p50_s"] is not None]),
        })
    return merged


def _edge(data: ReportData, strength: dict[str, Any]) -> Optional[Edge]:
    """The relationship of a strengths row, from its windows in scope (None: it has none)."""
    site, mentor, mentee = strength["site"], strength["mentor_id"], strength["mentee_id"]
    directions = [p for p in (data.pairs.get((site, mentor, mentee)), data.pairs.get((site, mentee, mentor))) if p]
    if not directions:
        return None
    return Edge(site, mentor, mentee, float(strength["strength"]),
                comments=sum(p.reader_comments for p in directions), replies=sum(p.author_replies for p in directions),
                timeline=_merged_timeline(directions))


def top_edges(data: ReportData, top: int) -> list[Edge]:
    """The mentor network's edges: the ``top`` relationships that answered back and have a window in
    scope, strongest first, as `query top` ranks them."""
    ranked = sorted(data.strengths, key=lambda s: (-s["strength"], s["site"], s["mentor_id"], s["mentee_id"]))
    edges = []
    for strength in ranked:
        edge = _edge(data, strength)
        if edge is not None and edge.strength > 0:
            edges.append(edge)
        if len(edges) == top:
            break
    return edges


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
