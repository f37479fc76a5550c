"""The scoring pipeline: read -> resolve -> window -> score -> write, and its run summary."""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Optional

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines.settings import RunSettings
from transforms.conversations import ResolveConversations
from transforms.score import PairContributions, ScorePairs
from transforms.sink import WriteDeadLetters, WriteScores
from transforms.windowing import WindowInteractions


@dataclasses.dataclass
class ScoringOutputs:
    """The pipeline's PCollections, for tests that assert on them."""

    scores: beam.PCollection
    dead_letters: beam.PCollection
    interactions: beam.PCollection
    skipped: beam.PCollection
    duplicates: beam.PCollection


def build_scoring_pipeline(
    events: beam.PCollection, decode_dead_letters: beam.PCollection, settings: RunSettings, write: bool = True
) -> ScoringOutputs:
    """Wire the scoring steps onto already-decoded Events and their decode dead letters."""
    resolved = events | "ResolveConversations" >> ResolveConversations(
        streaming=settings.streaming,
        allowed_lateness_s=settings.allowed_lateness_s,
        dedupe_horizon_s=settings.dedupe_horizon_s,
        replay_fence_ms=settings.replay_fence_ms,
    )
    scores = (
        resolved.interactions
        | "PairContributions" >> PairContributions()
        | "WindowInteractions" >> WindowInteractions(
            settings.window_s, settings.allowed_lateness_s, settings.early_firing_s, streaming=settings.streaming
        )
        | "ScorePairs" >> ScorePairs(settings.scoring, bounded=not settings.streaming)
    )
    dead_letters = (decode_dead_letters, resolved.dead_letters) | "AllDeadLetters" >> beam.Flatten()
    if write:
        row_writes = "storage" if settings.bigquery_write == "storage" else "streaming"
        refused = scores | "WriteScores" >> WriteScores(settings.warehouse, settings.bulk_writes, row_writes)
        (
            (dead_letters, refused)
            | "WithRefusedScores" >> beam.Flatten()
            | "WriteDeadLetters" >> WriteDeadLetters(settings.warehouse, settings.bulk_writes, row_writes)
        )
    return ScoringOutputs(scores, dead_letters, resolved.interactions, resolved.skipped, resolved.duplicates)


@dataclasses.dataclass
class RunSummary:
    """What happened to every input record, from the pipeline's metrics."""

    records_in: int
    scored: int
    skipped: dict[str, int]
    duplicates: int
    dead_letters: dict[str, int]
    pair_score_rows: int
    seconds: float
    warehouse: str
    # pair_scores rows the warehouse refused (kept in dead_letters as WAREHOUSE_REFUSED); rows, not
    # input records, so outside the balance of records
    refused_rows: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def dead_letters_total(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def balanced(self) -> bool:
        """Every record is scored, skipped, a duplicate or a dead letter."""
        return self.records_in == self.scored + self.skipped_total + self.duplicates + self.dead_letters_total

    def render(self) -> str:
        def detail(counts: dict[str, int]) -> str:
            return f" ({', '.join(f'{k}: {v:,}' for k, v in sorted(counts.items()))})" if counts else ""

        rate = self.records_in / self.seconds if self.seconds > 0 else 0.0
        lines = [
            "Run summary",
            f"  records in      {self.records_in:>12,}",
            f"  scored          {self.scored:>12,}  interactions",
            f"  skipped         {self.skipped_total:>12,}{detail(self.skipped)}",
            f"  duplicates      {self.duplicates:>12,}",
            f"  dead-lettered   {self.dead_letters_total:>12,}{detail(self.dead_letters)}",
            f"  pair rows       {self.pair_score_rows:>12,}  written to {self.warehouse}",
            *([f"  refused rows    {self.refused_rows:>12,}  pair rows the warehouse refused: see dead_letters "
               "where error_kind = 'WAREHOUSE_REFUSED' for its reasons"] if self.refused_rows else []),
            f"  time taken      {self.seconds:>12.1f} s  ({rate:,.0f} records/s)",
        ]
        if self.balanced:
            lines.append("  accounting      balanced: in = scored + skipped + duplicates + dead-lettered")
        else:
            lines.append(
                "  accounting      NOT balanced: some records are unaccounted for; please report this "
                "with the input that caused it"
            )
        return "\n".join(lines)


def summarize(result: Any, seconds: float, warehouse: str) -> RunSummary:
    """Read the counters of a finished pipeline into a RunSummary."""
    counters: dict[tuple[str, str], int] = {}
    for counter in result.metrics().query(MetricsFilter())["counters"]:
        key = (counter.key.metric.namespace, counter.key.metric.name)
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[key] = counters.get(key, 0) + (value or 0)

    def by_namespace(namespace: str) -> dict[str, int]:
        return {name: value for (ns, name), value in counters.items() if ns == namespace and value}

    return RunSummary(
        records_in=counters.get(("decode", "records_read"), 0),
        scored=counters.get(("resolve", "interactions"), 0),
        skipped=by_namespace("skipped"),
        duplicates=counters.get(("resolve", "duplicates"), 0),
        dead_letters=by_namespace("dead_letters"),
        pair_score_rows=counters.get(("score", "pair_score_rows"), 0),
        refused_rows=counters.get(("warehouse", "pair_scores_refused"), 0),
        seconds=seconds,
        warehouse=warehouse,
    )


def pipeline_options(beam_args: list[str], streaming: bool) -> PipelineOptions:
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    standard.streaming = streaming or standard.streaming
    if not standard.runner:
        # Name the in-process runner: the default DirectRunner first tries to download Prism, which
        # cannot succeed offline (see the README's runner section for using a local Prism build).
        standard.runner = "BundleBasedDirectRunner" if standard.streaming else "FnApiRunner"
    return options


def run_scoring(
    source: beam.PTransform, settings: RunSettings, beam_args: Optional[list[str]] = None,
    on_success: Optional[Callable[[Any], None]] = None,
) -> RunSummary:
    """Run the pipeline on ``source`` (a PTransform yielding events and dead_letters) to the end.

    A streaming run ends when the process is interrupted (Ctrl-C or SIGTERM); its summary covers what
    was processed until then. ``on_success`` gets the finished pipeline result of a bounded run.
    """
    from warehouse import open_warehouse

    started = time.monotonic()
    # Once, here at launch: create a new warehouse, or stop on one of another schema version. The
    # workers' opens then do no setup work.
    open_warehouse(settings.warehouse).prepare()
    pipeline = beam.Pipeline(options=pipeline_options(beam_args or [], settings.streaming))
    decoded = pipeline | "ReadEvents" >> source
    build_scoring_pipeline(decoded.events, decoded.dead_letters, settings)
    result = pipeline.run()
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        if not settings.streaming:
            raise
        try:
            result.cancel()
        except Exception as error:  # the runner may already be gone with the same signal
            logging.getLogger(__name__).info("cancel after interrupt: %s", error)
    else:
        if on_success is not None:
            on_success(result)
    return summarize(result, time.monotonic() - started, settings.warehouse)
