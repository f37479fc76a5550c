"""Scores per (site, author A, reader R, window): the definitions the README documents.

``PairContributions``: each interaction R -> A reaches two rows: (A, R) as a reader comment and
(R, A) as an author reply. ``ScorePairs``: windowed contributions -> one row per pair, window and
pane, as dicts of the ``pair_scores`` table (timestamps as epoch millis). The combiner pre-aggregates
before the shuffle, so the shuffle carries one small accumulator per pair and bundle.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from typing import Iterable, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import PaneInfoTiming

from transforms.conversations import Interaction

MILLIS_PER_DAY = 86_400_000


@dataclasses.dataclass(frozen=True)
class ScoringConfig:
    """The formula's constants, in one place (see the README's worked example).

    mentor_score = (1 - exp(-rc / comment_saturation)) * (reply_rate or 0)
                   * ((1 - speed_weight) + speed_weight * speed)
    speed = 1 / (1 + reply_latency_p50_s / latency_scale_s), 0 when there is no latency.
    """

    comment_saturation: float = 3.0
    latency_scale_s: float = 86_400.0
    speed_weight: float = 0.5
    decay_half_life_days: float = 14.0  # used by the mentors/regulars queries, not per window


def median(values: list[float]) -> Optional[float]:
    """Exact median (mean of the two middle values when even); None for no values."""
    return statistics.median(values) if values else None


def pair_scores(
    reader_comments: int, author_replies: int, latencies_s: list[float], config: ScoringConfig
) -> dict[str, Optional[float]]:
    """reply_latency_p50_s, reply_rate, reciprocity and mentor_score of one row."""
    rc, ar = reader_comments, author_replies
    p50 = median(latencies_s)
    reply_rate = min(1.0, ar / rc) if rc > 0 else None
    reciprocity = min(rc, ar) / max(rc, ar) if rc > 0 and ar > 0 else 0.0
    speed = 1.0 / (1.0 + p50 / config.latency_scale_s) if p50 is not None else 0.0
    mentor_score = (
        (1.0 - math.exp(-rc / config.comment_saturation))
        * (reply_rate or 0.0)
        * ((1.0 - config.speed_weight) + config.speed_weight * speed)
    )
    return {
        "reply_latency_p50_s": p50,
        "reply_rate": reply_rate,
        "reciprocity": reciprocity,
        "mentor_score": mentor_score,
    }


def contributions(interaction: Interaction) -> Iterable[tuple[tuple[str, str, str], tuple]]:
    """((site, author, reader), (is_author_reply, created_at, latency_s)) for both rows it reaches."""
    site, actor, parent_actor, created_at, parent_created_at = interaction
    latency_s = None
    if parent_created_at is not None:
        # Clock skew can put a reply before its parent; it is then treated as instant.
        latency_s = max(0.0, (created_at - parent_created_at) / 1000.0)
    yield (site, parent_actor, actor), (False, created_at, None)  # R=actor commented on A=parent_actor
    yield (site, actor, parent_actor), (True, created_at, latency_s)  # A=actor replied to R=parent_actor


class PairActivityFn(beam.CombineFn):
    """Contributions of one pair and window -> [rc, ar, active days, latencies, first, last]."""

    def create_accumulator(self) -> list:
        return [0, 0, set(), [], None, None]

    def add_input(self, acc: list, contribution: tuple) -> list:
        is_reply, created_at, latency_s = contribution
        if is_reply:
            acc[1] += 1
            if latency_s is not None:
                acc[3].append(latency_s)
        else:
            acc[0] += 1
            acc[2].add(created_at // MILLIS_PER_DAY)
        acc[4] = created_at if acc[4] is None else min(acc[4], created_at)
        acc[5] = created_at if acc[5] is None else max(acc[5], created_at)
        return acc

    def merge_accumulators(self, accumulators: Iterable[list]) -> list:
        merged = self.create_accumulator()
        for acc in accumulators:
            merged[0] += acc[0]
            merged[1] += acc[1]
            merged[2] |= acc[2]
            merged[3].extend(acc[3])
            if acc[4] is not None:
                merged[4] = acc[4] if merged[4] is None else min(merged[4], acc[4])
                merged[5] = acc[5] if merged[5] is None else max(merged[5], acc[5])
        return merged

    def extract_output(self, acc: list) -> list:
        return acc


_TIMING_NAMES = {
    PaneInfoTiming.EARLY: "EARLY",
    PaneInfoTiming.ON_TIME: "ON_TIME",
    PaneInfoTiming.LATE: "LATE",
    PaneInfoTiming.UNKNOWN: "UNKNOWN",
}


class FormatPairScoreFn(beam.DoFn):
    """(pair and window, activity) in a pane -> one ``pair_scores`` row (a dict)."""

    def __init__(self, config: ScoringConfig, bounded: bool, run_started_at: int):
        self.config = config
        self.bounded = bounded
        self.run_started_at = run_started_at
        self.rows = Metrics.counter("score", "pair_score_rows")
        self.empty_panes = Metrics.counter("score", "empty_panes")

    def process(self, element, pane=beam.DoFn.PaneInfoParam) -> Iterable[dict]:
        (site, author, reader, window_start, window_end), (rc, ar, days, latencies, first, last) = element
        if rc + ar == 0:
            # A pane with no interaction at all: some runners fire an empty on-time pane (Beam's
            # default FIRE_ALWAYS), e.g. Flink in streaming. A pair row needs rc + ar > 0.
            self.empty_panes.inc()
            return
        self.rows.inc()
        if self.bounded:
            # A bounded input is complete, so each window has exactly one pane, final and on time,
            # whatever the runner reports (Flink's batch mode reports no pane at all: UNKNOWN).
            timing, index, final = "ON_TIME", 0, True
        else:
            timing, index, final = _TIMING_NAMES.get(pane.timing, "UNKNOWN"), pane.index, pane.is_last
        row = {
            "site": site,
            "author_id": author,
            "reader_id": reader,
            "window_start": window_start,
            "window_end": window_end,
            "reader_comments": rc,
            "author_replies": ar,
            "reader_active_days": len(days),
            "first_interaction_at": first,
            "last_interaction_at": last,
            "pane_timing": timing,
            "pane_index": index,
            "is_final_pane": final,
            "computed_at": int(time.time() * 1000),
            "run_started_at": self.run_started_at,
        }
        row.update(pair_scores(rc, ar, latencies, self.config))
        yield row


class PairContributions(beam.PTransform):
    """Interactions -> keyed contributions, two per interaction (timestamps kept)."""

    def expand(self, interactions: beam.PCollection) -> beam.PCollection:
        return interactions | "TwoRowsPerInteraction" >> beam.FlatMap(contributions)


class ScorePairs(beam.PTransform):
    """Contributions keyed by (site, author, reader, window_start, window_end) -> ``pair_scores`` rows,
    one per pair, window and pane."""

    def __init__(self, config: ScoringConfig, bounded: bool = True, run_started_at: Optional[int] = None):
        super().__init__()
        self.config = config
        self.bounded = bounded
        self.run_started_at = run_started_at if run_started_at is not None else int(time.time() * 1000)

    def expand(self, windowed: beam.PCollection) -> beam.PCollection:
        return (
            windowed
            | "CombinePairActivity" >> beam.CombinePerKey(PairActivityFn())
            | "FormatRows" >> beam.ParDo(FormatPairScoreFn(self.config, self.bounded, self.run_started_at))
        )
