"""Scores per (site, author A, reader R, window): the definitions the README documents.

Contributions (reader comments and author replies, :mod:`transforms.conversations`) keyed by
(site, author, reader, window_start, window_end) (:mod:`transforms.windowing`) are summed per key into
an activity accumulator; ``score_row`` turns one into a ``pair_scores`` row (a dict, timestamps as
epoch millis). ``ScorePairs`` does it for bounded input: one final, on-time row per key. The combiner
pre-aggregates before the shuffle, so the shuffle carries one small accumulator per pair and bundle.
Streaming panes are :mod:`transforms.panes`.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Iterable, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.batching import GroupInShards
from transforms.thread_ledger import Contribution

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

    def __post_init__(self) -> None:
        # Refused where they are set, before a run: a zero scale divided by zero inside the pipeline.
        for name in ("comment_saturation", "latency_scale_s", "decay_half_life_days"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, not {value!r}")
        if not (0.0 <= self.speed_weight <= 1.0):
            raise ValueError(f"speed_weight must be between 0 and 1, not {self.speed_weight!r}")


def median(values: list[float]) -> Optional[float]:
    """Exact median (mean of the two middle values when even); None for no values. statistics.median's
    own steps, without its checks: most pairs have one latency or none, and a row costs this per key."""
    n = len(values)
    if n < 2:
        return values[0] if n else None
    data = sorted(values)
    middle = n // 2
    return data[middle] if n % 2 else (data[middle - 1] + data[middle]) / 2


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


def _later(a: Optional[int], b: Optional[int]) -> Optional[int]:
    return b if a is None else a if b is None else max(a, b)


class PairActivityFn(beam.CombineFn):
    """Contributions of one pair and window -> [rc, ar, active days, latencies of the replies written
    by the window's end, first, last, ar by the window's end, latencies of the replies written after
    it, last interaction by the window's end]. A reply's time against its window's end is decided
    where the window is (:func:`transforms.windowing.key_by_window`); the row says the window both
    as it stands and as it stood at its end, which is what ``--as-of`` counts (a reader comment is
    always inside its window, so only replies can come after its end)."""

    def create_accumulator(self) -> list:
        return [0, 0, set(), [], None, None, 0, [], None]

    def add_input(self, acc: list, contribution: Contribution) -> list:
        created_at = contribution.created_at
        if contribution.is_author_reply:
            acc[1] += 1
            if contribution.after_window_end:
                acc[7].append(contribution.latency_s)
            else:
                acc[3].append(contribution.latency_s)
                acc[6] += 1
                acc[8] = _later(acc[8], created_at)
        else:
            acc[0] += 1
            acc[2].add(created_at // MILLIS_PER_DAY)
            acc[8] = _later(acc[8], created_at)
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
            merged[6] += acc[6]
            merged[7].extend(acc[7])
            merged[8] = _later(merged[8], acc[8])
            if acc[4] is not None:
                merged[4] = acc[4] if merged[4] is None else min(merged[4], acc[4])
                merged[5] = acc[5] if merged[5] is None else max(merged[5], acc[5])
        return merged

    def extract_output(self, acc: list) -> list:
        return acc


def score_row(key: tuple, activity: list, config: ScoringConfig, run_started_at: int, pane_timing: str = "ON_TIME",
              pane_index: int = 0, is_final_pane: bool = True, computed_at: Optional[int] = None) -> dict:
    """One ``pair_scores`` row from a key (site, author, reader, window_start, window_end) and its
    activity accumulator; ``computed_at`` (epoch millis) is now unless given."""
    site, author, reader, window_start, window_end = key
    rc, ar, days, latencies_by_end, first, last, ar_by_end, latencies_after_end, last_by_end = activity
    row = {
        "site": site,
        "author_id": author,
        "reader_id": reader,
        "window_start": window_start,
        "window_end": window_end,
        "reader_comments": rc,
        "author_replies": ar,
        "author_replies_by_window_end": ar_by_end,
        "reader_active_days": len(days),
        "first_interaction_at": first,
        "last_interaction_at": last,
        "pane_timing": pane_timing,
        "pane_index": pane_index,
        "is_final_pane": is_final_pane,
        "computed_at": int(time.time() * 1000) if computed_at is None else computed_at,
        "run_started_at": run_started_at,
    }
    row.update(pair_scores(rc, ar, latencies_by_end + latencies_after_end, config))
    at_end = pair_scores(rc, ar_by_end, latencies_by_end, config) if latencies_after_end else row
    row["reply_latency_p50_s_by_window_end"] = at_end["reply_latency_p50_s"]
    row["mentor_score_by_window_end"] = at_end["mentor_score"]
    row["last_interaction_at_by_window_end"] = last_by_end
    return row


class FormatPairScoreFn(beam.DoFn):
    """(pair and window, activity) of a bounded run -> its one ``pair_scores`` row. A bounded input is
    complete, so each window has exactly one pane, final and on time, whatever the runner reports
    (Flink's batch mode reports no pane at all)."""

    def __init__(self, config: ScoringConfig, run_started_at: int):
        self.config = config
        self.run_started_at = run_started_at
        self.rows = Metrics.counter("score", "pair_score_rows")

    def process(self, element: tuple) -> Iterable[dict]:
        self.rows.inc()
        yield score_row(element[0], element[1], self.config, self.run_started_at)


_ACTIVITY = PairActivityFn()


def _pair_key(keyed: tuple) -> tuple:
    return keyed[0]


def add_to_activity(buffer: dict, key: tuple, keyed: tuple) -> None:
    """Pre-aggregate one keyed contribution into a shard's buffer of activity accumulators."""
    acc = buffer.get(key)
    if acc is None:
        acc = buffer[key] = _ACTIVITY.create_accumulator()
    _ACTIVITY.add_input(acc, keyed[1])


class ScorePairShardFn(beam.DoFn):
    """Bounded: one shard of (pair and window, partial activity) batches in; one row per key out."""

    def __init__(self, config: ScoringConfig, run_started_at: int):
        self.config = config
        self.run_started_at = run_started_at
        self.rows = Metrics.counter("score", "pair_score_rows")

    def process(self, shard_batches: tuple[int, Iterable[list]]) -> Iterable[dict]:
        partials: dict[tuple, list] = {}
        for batch in shard_batches[1]:
            for key, acc in batch:
                partials.setdefault(key, []).append(acc)
        self.rows.inc(len(partials))  # once per shard, not per row
        computed_at = int(time.time() * 1000)  # the shard's rows are computed together
        for key, accs in partials.items():
            activity = accs[0] if len(accs) == 1 else _ACTIVITY.merge_accumulators(accs)
            yield score_row(key, activity, self.config, self.run_started_at, computed_at=computed_at)


class ScorePairs(beam.PTransform):
    """Bounded: contributions keyed by (site, author, reader, window_start, window_end) -> one
    ``pair_scores`` row per key. The input may be a tuple of PCollections (reader comments and author
    replies), flattened after pre-aggregation rather than element by element."""

    def __init__(self, config: ScoringConfig, run_started_at: Optional[int] = None, batched: bool = True):
        super().__init__()
        self.config = config
        self.run_started_at = run_started_at if run_started_at is not None else int(time.time() * 1000)
        self.batched = batched  # pre-aggregate per bundle and shuffle batches per shard of keys

    def expand(self, keyed: beam.PCollection) -> beam.PCollection:
        if self.batched:
            return (
                keyed
                | "CombinePairActivity" >> GroupInShards(_pair_key, to_wire=list, combine=add_to_activity)
                | "ScoreShards" >> beam.ParDo(ScorePairShardFn(self.config, self.run_started_at))
            )
        if not isinstance(keyed, beam.PCollection):
            keyed = keyed | "AllContributions" >> beam.Flatten()
        return (
            keyed
            | "CombinePairActivity" >> beam.CombinePerKey(PairActivityFn())
            | "FormatRows" >> beam.ParDo(FormatPairScoreFn(self.config, self.run_started_at))
        )
