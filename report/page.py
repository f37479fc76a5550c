"""The report's HTML page: header, mentor network, timelines, leaderboards and distributions.

In: a :class:`report.data.ReportData`. Out: one HTML document, styles inline, charts as inline SVG,
no scripts and nothing fetched: it opens the same offline, in a mail attachment or on a slide.
"""
from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Any, Iterable, Optional, Sequence

from analysis.actors import NO_NAMES, ActorNames
from report import charts
from report.data import (REGULAR_MIN_WINDOWS, Edge, Pair, ReportData, authors, reciprocal_pairs, regular_readers,
                         responsive_authors, top_edges)

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates (as pipelines.commands.output)
_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")  # between two words: a space, not nothing
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
LATENCY_BINS = ((60, "<1m"), (600, "<10m"), (3600, "<1h"), (6 * 3600, "<6h"), (86400, "<1d"),
                (7 * 86400, "<1w"), (None, "≥1w"))

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd}h3{margin:16px 0 4px;font-size:15px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right}.meta{color:#555;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:16px}
text{fill:#333;font-family:inherit}
"""


def _when(value: Optional[dt.datetime]) -> str:
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M") + " UTC"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool]) -> str:
    head = "".join(f'<th class="{"n" if n else ""}">{escape(h)}</th>' for h, n in zip(headers, numeric))
    body = []
    for row in rows:
        cells = "".join(f'<td class="{"n" if n else ""}">{escape(_cell(v))}</td>' for v, n in zip(row, numeric))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">(none in scope)</td></tr>')
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _person(site: str, actor: str, many_sites: bool, names: ActorNames) -> str:
    """The actor's name beside its id when the actors file names them, with its site when the report
    has several and the id does not say it. Line breaks and tabs become a space; other control
    characters are dropped: in HTML they are
    nothing a reader could see, only a way to garble the page (the caller escapes the rest)."""
    label = _CONTROLS.sub("", _BREAKS.sub(" ", names.label(site, actor)))
    return f"{site}: {label}" if many_sites and not actor.startswith(site) else label


def _latency_bins(latencies: Sequence[tuple[float, int]]) -> list[tuple[str, float]]:
    counts = [0] * len(LATENCY_BINS)
    for seconds, replies in latencies:
        index = next(i for i, (limit, _) in enumerate(LATENCY_BINS) if limit is None or seconds < limit)
        counts[index] += replies
    return [(label, count) for (_, label), count in zip(LATENCY_BINS, counts)]


def _reciprocity_bins(data: ReportData) -> list[tuple[str, float]]:
    counts = [0] * 10
    for pair in data.pairs.values():
        if pair.reader_comments:
            counts[min(int(pair.reciprocity * 10), 9)] += 1
    return [(f"{i / 10:.1f}", c) for i, c in enumerate(counts)]


def _regulars_bins(author_rows: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    counts = [0] * 11
    for author in author_rows:
        if author["reader_comments"]:
            counts[min(author["regulars"], 10)] += 1
    return [(str(i) if i < 10 else "10+", c) for i, c in enumerate(counts)]


def timeline_slots(pair: Pair | Edge) -> list[tuple[dt.datetime, Optional[dict[str, Any]]]]:
    """Every window from the pair's first to its last, a quiet one as None: gaps show as gaps."""
    rows = {w["window_start"]: w for w in pair.timeline}
    first = pair.timeline[0]
    step = first["window_end"] - first["window_start"]
    slots, start = [], min(rows)
    while start <= max(rows):
        slots.append((start, rows.get(start)))
        start += step
    return slots


def _skips(data: ReportData) -> str:
    """The header's skips: counts of one run (the newest), since runs over the same input each count them."""
    if data.skipped_run is None:
        return "(no run recorded in this warehouse)"
    counts = ", ".join(f"{reason}: {count:,}" for reason, count in data.skipped) or "none"
    return f"by the newest run ({_when(data.skipped_run)}): {counts}"


def render(data: ReportData, top: int = 30, timelines: int = 6, leaders: int = 10,
           names: ActorNames = NO_NAMES) -> str:
    """The whole page for ``data``: ``top`` edges in the network, ``timelines`` pair timelines,
    ``leaders`` rows per leaderboard; people labelled ``name (id)`` when ``names`` has them."""
    many_sites = len(data.sites) > 1

    def person(site: str, actor: str) -> str:
        return _person(site, actor, many_sites, names)

    edges = top_edges(data, top)
    labels, graph = {}, []
    for edge in edges:
        mentor, mentee = f"{edge.site}\x00{edge.mentor_id}", f"{edge.site}\x00{edge.mentee_id}"
        labels[mentor] = person(edge.site, edge.mentor_id)
        labels[mentee] = person(edge.site, edge.mentee_id)
        graph.append((mentor, mentee, edge.strength))
    scope = data.scope
    title_site = scope.get("site") or (", ".join(data.sites) if data.sites else "every site")
    dead_total = sum(count for _, count, _, _ in data.dead_letters)
    skipped_total = sum(count for _, count in data.skipped)
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Social mentors: {escape(title_site)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Social mentors: {escape(title_site)}</h1>",
        '<p class="meta">'
        f"Interactions {escape(_when(data.first_interaction_at))} to {escape(_when(data.last_interaction_at))}; "
        f"windows {escape(_when(data.first_window_start))} to {escape(_when(data.last_window_end))}"
        f"{'; since ' + escape(_when(scope['since'])) if scope.get('since') else ''}"
        f"{'; as of ' + escape(_when(scope['as_of'])) if scope.get('as_of') else ''}.</p>",
        '<table class="summary"><tbody>'
        f'<tr><th>reader comments</th><td class="n">{data.reader_comments:,}</td></tr>'
        f'<tr><th>author replies</th><td class="n">{data.author_replies:,}</td></tr>'
        f'<tr><th>pairs (author, reader)</th><td class="n">{len(data.pairs):,}</td></tr>'
        f'<tr><th>pair windows</th><td class="n">{data.windows:,}</td></tr>'
        f'<tr><th>skipped</th><td class="n">{skipped_total:,}</td><td>'
        f'{escape(_skips(data))}</td></tr>'
        f'<tr><th>dead-lettered</th><td class="n">{dead_total:,}</td><td>'
        f'{escape(", ".join(f"{k}: {c:,}" for k, c, _, _ in data.dead_letters))}</td></tr>'
        "</tbody></table>",
        "<h2>Mentor network</h2>",
        f'<p class="meta">The {len(edges)} strongest relationships ({escape(data.weight_name)}); an arrow '
        "points from the mentor (the side with more partners, as `query top` says) to the mentee; its width is "
        "the relationship's strength, both directions of the pair together.</p>",
        charts.network(graph, labels),
        "<h2>Top relationships over time</h2>",
        '<p class="meta">Per window of each pair (legend in each chart).</p>',
    ]
    for edge in edges[:timelines]:
        windows = [(start.strftime("%Y-%m-%d"), w["reader_comments"] if w else 0, w["author_replies"] if w else 0,
                    w["reply_latency_p50_s"] if w else None) for start, w in timeline_slots(edge)]
        # The title and legend are drawn in the chart, so that its PNG stands alone on a slide.
        parts.append(charts.timeline(windows, title=f"{person(edge.site, edge.mentor_id)} → "
                                                    f"{person(edge.site, edge.mentee_id)}: {edge.comments:,} comments, "
                                                    f"{edge.replies:,} replies, strength {edge.strength:.3f}"))
    author_rows = authors(data)
    parts += [
        "<h2>Leaderboards</h2><div class=\"grid\"><div>",
        "<h3>Most responsive authors</h3>",
        _table(("author", "replies", "reply rate", "median latency", "regulars"),
               ((person(a["site"], a["author_id"]), a["author_replies"], a["reply_rate"],
                 charts.duration(a["median_latency_s"]) if a["median_latency_s"] is not None else None,
                 a["regulars"]) for a in responsive_authors(data, leaders)),
               (False, True, True, True, True)),
        "</div><div><h3>Most regular readers</h3>",
        _table(("reader", "active days", "comments", "authors", "regular of"),
               ((person(r["site"], r["reader_id"]), r["active_days"], r["reader_comments"],
                 r["authors"], r["regular_of"]) for r in regular_readers(data, leaders)),
               (False, True, True, True, True)),
        "</div><div><h3>Most reciprocal pairs</h3>",
        _table(("author", "reader", "comments", "replies", "reciprocity"),
               ((person(p.site, p.author_id), person(p.site, p.reader_id),
                 p.reader_comments, p.author_replies, p.reciprocity) for p in reciprocal_pairs(data, leaders)),
               (False, False, True, True, True)),
        "</div></div>",
        f'<p class="meta">A regular of an author comments on their items in at least {REGULAR_MIN_WINDOWS} '
        "windows. Reply rate = replies / reader comments (at most 1); latency = the median over windows' median "
        "reply latency, weighted by replies.</p>",
        "<h2>Distributions</h2><div class=\"grid\">",
        "<div><h3>Reply latency</h3>" + charts.histogram(_latency_bins(data.latencies), "window's median reply latency",
                                                         "author replies") + "</div>",
        "<div><h3>Reciprocity</h3>" + charts.histogram(_reciprocity_bins(data), "min(rc, ar) / max(rc, ar) per pair",
                                                       "pairs") + "</div>",
        "<div><h3>Regulars per author</h3>" + charts.histogram(_regulars_bins(author_rows), "regulars", "authors")
        + "</div>",
        "</div>",
        f'<p class="meta">Made by social-mentors report on {escape(_when(dt.datetime.now(dt.timezone.utc)))}.</p>',
        "</body></html>",
    ]
    return "\n".join(parts)
