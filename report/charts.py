"""Charts as inline SVG, drawn in Python: the mentor network, a pair's timeline, and histograms.

In: plain numbers and labels. Out: an ``<svg>`` string with one mark per datum, each with a class
the tests count (``node`` circles, ``edge`` paths, ``bar`` rects, ``rc``/``ar`` rects and
``latency`` circles). Every text is escaped; no scripts, fonts or images from elsewhere.
"""
from __future__ import annotations

import math
import random
from html import escape
from typing import Optional, Sequence

MENTOR_COLOR = "#1f77b4"
READER_COLOR = "#ff7f0e"
LATENCY_COLOR = "#2ca02c"
LABEL_LINE_CHARS = 24  # a node's name is wrapped at this many characters a line ...
LABEL_LINES = 3  # ... over at most this many lines, the rest elided (the <title> holds it whole)
LABEL_LINE_HEIGHT = 11


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11, cls: str = "label") -> str:
    return (f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}">'
            f"{escape(text)}</text>")


def wrap_label(label: str, width: int = LABEL_LINE_CHARS, lines: int = LABEL_LINES) -> list[str]:
    """``label`` broken at spaces into at most ``lines`` lines of about ``width`` characters (a
    longer word is split); what does not fit is elided with "…" on the last line."""
    wrapped: list[str] = []
    for word in label.split():
        while len(word) > width:
            wrapped.append(word[:width])
            word = word[width:]
        if wrapped and len(wrapped[-1]) + 1 + len(word) <= width:
            wrapped[-1] += " " + word
        else:
            wrapped.append(word)
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][:width - 1] + "…"
    return wrapped or [""]


def _node_label(x: float, y: float, radius: float, label: str) -> str:
    """The node's name over as many lines as it needs (elided past :data:`LABEL_LINES`), above the
    node, or below it where the lines would leave the picture; its <title> holds it whole."""
    lines = wrap_label(label)
    first = y - radius - 3 - LABEL_LINE_HEIGHT * (len(lines) - 1)
    if first - LABEL_LINE_HEIGHT < 0:
        first = y + radius + LABEL_LINE_HEIGHT
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else LABEL_LINE_HEIGHT}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text class="label" x="{x:.1f}" y="{first:.1f}" text-anchor="middle" font-size="10">{spans}'
            f"<title>{escape(label)}</title></text>")


def _layout(nodes: Sequence[str], edges: Sequence[tuple[str, str, float]], seed: int = 7,
            iterations: int = 200) -> dict[str, tuple[float, float]]:
    """Positions in the unit square by Fruchterman-Reingold, from a seeded start: the same data
    draws the same picture."""
    rng = random.Random(seed)
    count = len(nodes)
    pos = {n: [0.5 + 0.4 * math.cos(2 * math.pi * i / max(count, 1)) + rng.uniform(-0.01, 0.01),
               0.5 + 0.4 * math.sin(2 * math.pi * i / max(count, 1)) + rng.uniform(-0.01, 0.01)]
           for i, n in enumerate(nodes)}
    k = 0.6 * math.sqrt(1.0 / max(count, 1))
    temperature = 0.1
    gravity = 5.0 * count * k * k  # pulls every node toward the middle, so that unlinked groups do not drift to the edges
    for _ in range(iterations):
        shift = {n: [0.0, 0.0] for n in nodes}
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                dx, dy = pos[a][0] - pos[b][0], pos[a][1] - pos[b][1]
                dist = max(math.hypot(dx, dy), 1e-4)
                force = k * k / dist
                shift[a][0] += dx / dist * force
                shift[a][1] += dy / dist * force
                shift[b][0] -= dx / dist * force
                shift[b][1] -= dy / dist * force
        for a, b, _ in edges:
            dx, dy = pos[a][0] - pos[b][0], pos[a][1] - pos[b][1]
            dist = max(math.hypot(dx, dy), 1e-4)
            force = dist * dist / k
            shift[a][0] -= dx / dist * force
            shift[a][1] -= dy / dist * force
            shift[b][0] += dx / dist * force
            shift[b][1] += dy / dist * force
        for n in nodes:
            shift[n][0] -= gravity * (pos[n][0] - 0.5)
            shift[n][1] -= gravity * (pos[n][1] - 0.5)
            length = max(math.hypot(*shift[n]), 1e-9)
            step = min(length, temperature)
            pos[n][0] = min(0.97, max(0.03, pos[n][0] + shift[n][0] / length * step))
            pos[n][1] = min(0.97, max(0.03, pos[n][1] + shift[n][1] / length * step))
        temperature *= 0.98
    return {n: (x, y) for n, (x, y) in pos.items()}


def network(edges: Sequence[tuple[str, str, float]], labels: dict[str, str], width: int = 900,
            height: int = 600) -> str:
    """A directed graph, mentor -> mentee: one ``node`` circle per person, one ``edge`` path per
    edge, its width by weight; a pair linked both ways gets two curves, bent apart."""
    nodes = sorted({a for a, _, _ in edges} | {b for _, b, _ in edges})
    if not nodes:
        return f'<svg class="chart network" width="{width}" height="80" xmlns="http://www.w3.org/2000/svg">' \
               + _text(width / 2, 40, "no pair with an author reply in scope") + "</svg>"
    pos = {n: (x * width, y * height) for n, (x, y) in _layout(nodes, edges).items()}
    heaviest = max(w for _, _, w in edges) or 1.0
    degree = {n: 0 for n in nodes}
    for a, b, _ in edges:
        degree[a] += 1
        degree[b] += 1
    radius = {n: 5 + 2.5 * math.sqrt(degree[n]) for n in nodes}
    out = [f'<svg class="chart network" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'xmlns="http://www.w3.org/2000/svg" role="img">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
           'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for a, b, weight in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        dx, dy = x2 - x1, y2 - y1
        dist = max(math.hypot(dx, dy), 1e-6)
        # stop at the circles' rims; bend to the right of the direction of travel
        sx, sy = x1 + dx / dist * radius[a], y1 + dy / dist * radius[a]
        ex, ey = x2 - dx / dist * (radius[b] + 2), y2 - dy / dist * (radius[b] + 2)
        bend = 0.15 * dist
        cx, cy = (sx + ex) / 2 - dy / dist * bend, (sy + ey) / 2 + dx / dist * bend
        stroke = 0.8 + 5.0 * weight / heaviest
        out.append(f'<path class="edge" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" '
                   f'stroke="#555" stroke-opacity="0.6" stroke-width="{stroke:.2f}" marker-end="url(#arrow)">'
                   f"<title>{escape(labels[a])} mentors {escape(labels[b])}: {weight:.3f}</title></path>")
    for n in nodes:
        x, y = pos[n]
        out.append(f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="{radius[n]:.1f}" fill="{MENTOR_COLOR}" '
                   f'stroke="#fff"><title>{escape(labels[n])}</title></circle>')
    for n in nodes:
        x, y = pos[n]
        out.append(_node_label(x, y, radius[n], labels[n]))
    out.append("</svg>")
    return "".join(out)


def histogram(bins: Sequence[tuple[str, float]], x_title: str, y_title: str, width: int = 420,
              height: int = 220) -> str:
    """Bars, one ``bar`` rect per bin (an empty bin draws a rect of height 0)."""
    left, bottom, top = 46, 40, 12
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((v for _, v in bins), default=0) or 1
    step = plot_w / max(len(bins), 1)
    out = [f'<svg class="chart histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'xmlns="http://www.w3.org/2000/svg" role="img">',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
           _text(left - 4, top + 8, f"{peak:,.0f}", anchor="end", size=9), _text(left - 4, top + plot_h, "0", "end", 9)]
    for i, (label, value) in enumerate(bins):
        h = plot_h * value / peak
        x = left + i * step
        out.append(f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - 2, 1):.1f}" '
                   f'height="{h:.1f}" fill="{MENTOR_COLOR}"><title>{escape(label)}: {value:,.0f}</title></rect>')
        out.append(_text(x + step / 2, top + plot_h + 12, label, size=9))
    out.append(_text(left + plot_w / 2, height - 6, x_title, size=10))
    out.append(f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
               f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{escape(y_title)}</text>')
    out.append("</svg>")
    return "".join(out)


def timeline(windows: Sequence[tuple[str, int, int, Optional[float]]], width: int = 900, height: int = 170,
             title: Optional[str] = None) -> str:
    """A pair's windows in time order: reader comments (``rc`` rect) and author replies (``ar`` rect)
    side by side per window, and the window's median reply latency (``latency`` circle, its own
    scale on the right) where there was a reply. With ``title``, the chart opens with it and a legend
    (keys of class ``key``, not marks), so that its PNG (`report --png`) stands alone on a slide."""
    left, right, bottom, top = 40, 60, 34, 12
    head = []
    if title is not None:
        height += 36
        head = [_text(left, 14, title, "start", 12, "title")]
        x = left
        for key, color in (("reader comments", READER_COLOR), ("author replies", MENTOR_COLOR),
                           ("median reply latency (right scale)", LATENCY_COLOR)):
            head.append(f'<rect class="key" x="{x}" y="22" width="10" height="10" fill="{color}"/>')
            head.append(_text(x + 14, 31, key, "start", 10))
            x += 24 + 6 * len(key)
        top += 36
    plot_w, plot_h = width - left - right, height - bottom - top
    peak = max([max(rc, ar) for _, rc, ar, _ in windows] + [1])
    slowest = max([lat for *_, lat in windows if lat is not None] + [1.0])
    step = plot_w / max(len(windows), 1)
    bar = max(min(step / 2 - 1, 14), 1)
    out = [f'<svg class="chart timeline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'xmlns="http://www.w3.org/2000/svg" role="img">', *head,
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
           _text(left - 4, top + 8, str(peak), "end", 9), _text(width - right + 4, top + 8, _duration(slowest), "start", 9)]
    points = []
    for i, (label, rc, ar, latency) in enumerate(windows):
        cx = left + (i + 0.5) * step
        for cls, value, x, color in (("rc", rc, cx - bar, READER_COLOR), ("ar", ar, cx, MENTOR_COLOR)):
            h = plot_h * value / peak
            out.append(f'<rect class="{cls}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                       f'height="{h:.1f}" fill="{color}"><title>{escape(label)}: {value} '
                       f'{"reader comments" if cls == "rc" else "author replies"}</title></rect>')
        if latency is not None:
            y = top + plot_h - plot_h * latency / slowest
            points.append((cx, y))
            out.append(f'<circle class="latency" cx="{cx:.1f}" cy="{y:.1f}" r="3" fill="{LATENCY_COLOR}">'
                       f"<title>{escape(label)}: median reply after {_duration(latency)}</title></circle>")
        if len(windows) <= 16 or i % math.ceil(len(windows) / 16) == 0:
            out.append(_text(cx, top + plot_h + 12, label, size=9))
    if len(points) > 1:
        out.append('<polyline class="latency-line" fill="none" stroke="%s" stroke-width="1" points="%s"/>'
                   % (LATENCY_COLOR, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
    out.append("</svg>")
    return "".join(out)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


duration = _duration
