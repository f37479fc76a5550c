"""``social-mentors evaluate``: does a ranking of pairs predict next month's two-way exchange, and does
its mentor side agree with an outside signal (reputation)?

In: a warehouse (any, through its ``strengths``, ``exchanges`` and ``span`` queries) and optionally
actors with an outside rank signal (JSONL: actor_id, signal[, site, name]). Out: an
:class:`Evaluation` that renders as the README's table.

For each month M: the cut is M's end, moved back to a window bound (so no window is split between
what the ranking sees and what it must predict); every pair with a row in a window ending by the cut
is ranked by its strength as of the cut, and by the baselines computed the same way (same anchor and
half-life); its label is whether the pair has a two-way exchange (a row, either direction, with
reader comments and author replies) in a window that lies wholly between the cut and the next one.
ROC AUC and precision at 10 and 100 are computed per month and averaged over the months that have
both labels. The strength is one per pair (both directions), so pairs are unordered here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Optional

from analysis.actors import finite_signal, read_actors_file
from analysis.ranking_metrics import precision_at, roc_auc

# (column of the strengths query, how the report names it): the strength first, then the baselines.
RANKINGS = (
    ("strength", "strength"),
    ("decayed_reader_comments", "decayed reader_comments"),
    ("decayed_comments_and_replies", "decayed reader_comments + author_replies"),
    ("decayed_mentor_score", "decayed sum of window mentor_score"),
)
PRECISION_AT = (10, 100)
EPOCH = dt.datetime(1970, 1, 1)


@dataclasses.dataclass
class MonthResult:
    cut: dt.datetime
    next_cut: dt.datetime
    pairs: int
    positives: int
    metrics: dict[str, dict[str, Optional[float]]]  # ranking -> {"auc": .., "p@10": .., "p@100": ..}


@dataclasses.dataclass
class DirectionResult:
    name: str
    agree: int
    decided: int  # pairs where the rule named a side and both signals were known and different

    @property
    def share(self) -> Optional[float]:
        return self.agree / self.decided if self.decided else None


@dataclasses.dataclass
class Evaluation:
    months: list[MonthResult]
    direction: list[DirectionResult]
    two_way_pairs: int = 0
    actors_known: int = 0
    span: Optional[tuple[dt.datetime, dt.datetime]] = None  # first window start, last window end
    period_s: Optional[float] = None  # None: calendar months

    def mean(self, ranking: str, metric: str) -> Optional[float]:
        values = [m.metrics[ranking][metric] for m in self.months if m.metrics[ranking][metric] is not None]
        return sum(values) / len(values) if values else None

    def render(self) -> str:
        scored = [m for m in self.months if m.metrics["strength"]["auc"] is not None]
        lines = []
        if not self.months and self.span:  # fewer than two period ends: no period has a next one to label it
            length = "month" if self.period_s is None else f"{self.period_s / 86400:g}-day period"
            lines.append(f"The data (windows {self.span[0]:%Y-%m-%d} .. {self.span[1]:%Y-%m-%d}) does not cover a "
                         f"whole {length} and the next one: nothing to evaluate; give data over at least two periods"
                         + (", or a shorter --period (e.g. 7d)" if self.period_s is None else "") + ".")
        elif not scored:  # the direction below is as of the newest data: it needs no period, so it still follows
            lines.append("No period has both a pair with and a pair without a two-way exchange in the next one: "
                         "nothing to evaluate (a short data set may need a shorter --period).")
        else:
            lines.append(f"Periods evaluated: {len(scored)} ({scored[0].cut:%Y-%m-%d} .. {scored[-1].next_cut:%Y-%m-%d}); "
                         f"pairs ranked (summed over the periods): {sum(m.pairs for m in scored):,}; "
                         f"with a two-way exchange in the next period: {sum(m.positives for m in scored):,}")
            lines.append("")
            lines.append("| ranking | ROC AUC | precision@10 | precision@100 |")
            lines.append("|---|---|---|---|")
            for column, label in RANKINGS:
                cells = [_fmt(self.mean(column, metric)) for metric in ("auc", *(f"p@{k}" for k in PRECISION_AT))]
                lines.append(f"| {label} | {' | '.join(cells)} |")
        if self.direction:
            lines.append("")
            lines.append(f"Direction: {self.two_way_pairs:,} two-way pairs as of the newest data, {self.actors_known:,} actors "
                         "with a signal; share of pairs where the side named mentor has the higher signal:")
            lines.append("")
            lines.append("| mentor side | higher signal | pairs decided |")
            lines.append("|---|---|---|")
            for result in self.direction:
                lines.append(f"| {result.name} | {_pct(result.share)} | {result.decided:,} |")
        return "\n".join(lines)


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def read_actors(path: Path, differing: Optional[list[tuple[Optional[str], str]]] = None
                ) -> dict[tuple[Optional[str], str], float]:
    """Signals by (site or None, actor_id) from a JSONL file; a line without a finite number (absent,
    null, a string, true/false, NaN, Infinity) is an error naming the line and the actor. An actor
    given two different signals keeps the last; each such (site, actor_id) is added to ``differing``
    (once), for the caller to say so."""

    def parse(record: dict) -> tuple[tuple[Optional[str], str], float]:
        actor = str(record["actor_id"])
        if record.get("signal") is None:
            raise ValueError(f"actor {actor!r} has no signal (a file without signals, such as mail's or "
                             "Disqus's, cannot check the mentor side)")
        # "" is how `export actors` writes "every site" (the warehouse keeps it so)
        return (record.get("site") or None, actor), finite_signal(actor, record["signal"])

    signals: dict[tuple[Optional[str], str], float] = {}
    noted: set[tuple[Optional[str], str]] = set()
    for key, signal in read_actors_file(path, "actor_id and a numeric signal", parse):
        if key in signals and signals[key] != signal and key not in noted:
            noted.add(key)
            if differing is not None:
                differing.append(key)
        signals[key] = signal
    return signals


def period_cuts(first: dt.datetime, last: dt.datetime, window_s: float, period_s: Optional[float] = None) -> list[dt.datetime]:
    """Period ends (calendar months, or every ``period_s`` seconds from the epoch) from the first
    period of the data to the last, each moved back to a window bound. Windows are fixed and
    aligned like ``first`` (the start of a window), whatever their offset from the epoch."""
    offset = (first - EPOCH).total_seconds() % window_s
    cuts = []
    month = dt.datetime(first.year, first.month, 1)
    step = EPOCH + dt.timedelta(seconds=(first - EPOCH).total_seconds() // period_s * period_s) if period_s else None
    while True:
        if period_s:
            step += dt.timedelta(seconds=period_s)
            seconds = (step - EPOCH).total_seconds()
        else:
            month = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
            seconds = (month - EPOCH).total_seconds()
        cut = EPOCH + dt.timedelta(seconds=(seconds - offset) // window_s * window_s + offset)
        if cut > last:
            return cuts
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)


def _rows(warehouse: Any, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    columns, rows = warehouse.query(name, params)
    return [dict(zip(columns, row)) for row in rows]


def evaluate(warehouse: Any, site: Optional[str] = None, half_life_days: float = 14.0,
             actors: Optional[dict[tuple[Optional[str], str], float]] = None,
             period_s: Optional[float] = None) -> Evaluation:
    """Rank, month by month (or every ``period_s``), and (with actors) check the mentor side; see the
    module docstring."""
    span = _rows(warehouse, "span", {"site": site})
    months: list[MonthResult] = []
    if site is not None and not (span and span[0]["windows"]):
        raise ValueError(f"no pair scores on site {site!r} in this warehouse: check --site (sites are "
                         "case-sensitive; `social-mentors sql \"SELECT DISTINCT site FROM pair_scores\"` lists them)")
    if span and span[0]["windows"] and period_s is not None and period_s < float(span[0]["window_s"]):
        window = f"{float(span[0]['window_s']) / 86400:g}d"
        raise ValueError(f"--period {period_s / 86400:g}d is shorter than the warehouse's windows ({window}): "
                         f"periods end on window bounds, so give at least --period {window}")
    if span and span[0]["windows"]:
        cuts = period_cuts(span[0]["first_window_start"], span[0]["last_window_end"], float(span[0]["window_s"]), period_s)
        for cut, next_cut in zip(cuts, cuts[1:]):
            months.append(_month(warehouse, site, half_life_days, cut, next_cut))
    evaluation = Evaluation(months, [], period_s=period_s,
                            span=(span[0]["first_window_start"], span[0]["last_window_end"])
                            if span and span[0]["windows"] else None)
    if actors is not None:
        _direction(evaluation, warehouse, site, half_life_days, actors)
    return evaluation


def _month(warehouse: Any, site: Optional[str], half_life_days: float, cut: dt.datetime,
           next_cut: dt.datetime) -> MonthResult:
    pairs = _rows(warehouse, "strengths", {"site": site, "as_of": cut, "half_life_days": half_life_days})
    exchanged = {(r["site"], r["actor_a"], r["actor_b"])
                 for r in _rows(warehouse, "exchanges", {"site": site, "from_time": cut, "to_time": next_cut})}
    labels = [(p["site"], *sorted((p["mentor_id"], p["mentee_id"]))) in exchanged for p in pairs]
    metrics = {}
    for column, _ in RANKINGS:
        scores = [float(p[column]) for p in pairs]
        metrics[column] = {"auc": roc_auc(scores, labels),
                           **{f"p@{k}": precision_at(k, scores, labels) for k in PRECISION_AT}}
    return MonthResult(cut, next_cut, len(pairs), sum(labels), metrics)


# Other rules for the mentor side, to set the strength's against: each names a side or None (a tie).
def _more(first: float, second: float, pair: dict[str, Any]) -> Optional[str]:
    if first == second:
        return None
    return pair["mentor_id"] if first > second else pair["mentee_id"]


DIRECTION_BASELINES = (
    ("the post's author (received more reader comments in the pair)",
     lambda p: _more(p["mentee_comments"], p["mentor_comments"], p)),
    ("the one who answered back more (more author replies)",
     lambda p: _more(p["mentor_replies"], p["mentee_replies"], p)),
    ("the one who commented more (more reader comments written)",
     lambda p: _more(p["mentor_comments"], p["mentee_comments"], p)),
)


def _direction(evaluation: Evaluation, warehouse: Any, site: Optional[str], half_life_days: float,
               actors: dict[tuple[Optional[str], str], float]) -> None:
    def signal(pair_site: str, actor: str) -> Optional[float]:
        return actors.get((pair_site, actor), actors.get((None, actor)))

    pairs = [p for p in _rows(warehouse, "strengths", {"site": site, "as_of": None, "half_life_days": half_life_days})
             if p["two_way"]]
    evaluation.two_way_pairs = len(pairs)
    evaluation.actors_known = len({(p["site"], a) for p in pairs for a in (p["mentor_id"], p["mentee_id"])
                                   if signal(p["site"], a) is not None})
    rules = [("strength's mentor side (more partners)", lambda p: p["mentor_id"]), *DIRECTION_BASELINES]
    for name, rule in rules:
        result = DirectionResult(name, 0, 0)
        for pair in pairs:
            chosen = rule(pair)
            other = pair["mentee_id"] if chosen == pair["mentor_id"] else pair["mentor_id"]
            mine, theirs = signal(pair["site"], chosen or ""), signal(pair["site"], other)
            if chosen is None or mine is None or theirs is None or mine == theirs:
                continue
            result.decided += 1
            result.agree += mine > theirs
        evaluation.direction.append(result)
