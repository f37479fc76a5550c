"""The scoring pipeline: read -> resolve -> window -> score -> write (with the run ledger), and its
run: status in the warehouse, summary read back from it (``pipelines.summary``)."""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any, Callable, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions, StandardOptions

from pipelines.dataflow_launch import WAIT, LaunchedRun, launch_mode, launched_run
from pipelines.settings import RunSettings
from pipelines.summary import FAILED, LAUNCHED, RUNNING, RunSummary, record_run, run_row, summarize
from transforms.conversations import ResolveConversations
from transforms.dedupe import DedupeEvents
from transforms.panes import ScorePairPanes
from transforms.ledger import WriteWithLedger
from transforms.score import ScorePairs
from transforms.windowing import KeyByWindow
from transforms.worker_gc import worker_gc


@dataclasses.dataclass
class ScoringOutputs:
    """The pipeline's PCollections, for the ledger and for tests that assert on them."""

    scores: beam.PCollection
    dead_letters: beam.PCollection  # every input record's dead letter: decode, dedupe, resolve, TOO_LATE
    interactions: beam.PCollection  # one reader-comment Contribution per record the resolver scored
    author_replies: beam.PCollection  # author-reply credits (not records)
    skipped: beam.PCollection
    duplicates: beam.PCollection
    late_author_replies: Optional[beam.PCollection] = None  # streaming: credits to windows already closed


def build_scoring_pipeline(
    events: beam.PCollection, decode_dead_letters: beam.PCollection, settings: RunSettings, write: bool = True
) -> ScoringOutputs:
    """Wire the scoring steps onto already-decoded Events and their decode dead letters; with ``write``,
    write the results and the run ledger under the run id ``settings.run_started_at`` (stamped now
    when None)."""
    settings = settings.started()
    unique = events | "DedupeEvents" >> DedupeEvents(settings.streaming, settings.dedupe_horizon_s)
    resolved = unique.events | "ResolveConversations" >> ResolveConversations(
        streaming=settings.streaming,
        allowed_lateness_s=settings.allowed_lateness_s,
        dedupe_horizon_s=settings.dedupe_horizon_s,
    )
    late_dead_letters, late_author_replies = [], None
    if settings.streaming:
        keyed = (
            (resolved.interactions, resolved.author_replies)
            | "AllContributions" >> beam.Flatten()
            | "KeyByWindow" >> KeyByWindow(settings.window_s)
        )
        panes = keyed | "ScorePairPanes" >> ScorePairPanes(
            settings.scoring, settings.allowed_lateness_s, settings.dedupe_horizon_s, settings.early_firing_s,
            run_started_at=settings.run_started_at)
        scores, late_dead_letters, late_author_replies = panes.rows, [panes.too_late], panes.late_author_replies
    else:
        # Reader comments and author replies reach ScorePairs apart: it flattens them after
        # pre-aggregating (the FnApiRunner materializes a Flatten of 10^5 elements, encoding each).
        keyed = (
            resolved.interactions | "KeyByWindow" >> KeyByWindow(settings.window_s),
            resolved.author_replies | "KeyRepliesByWindow" >> KeyByWindow(settings.window_s),
        )
        scores = keyed | "ScorePairs" >> ScorePairs(settings.scoring, run_started_at=settings.run_started_at)
    dead_letters = (
        (decode_dead_letters, unique.dead_letters, resolved.dead_letters, *late_dead_letters)
        | "AllDeadLetters" >> beam.Flatten()
    )
    outputs = ScoringOutputs(scores, dead_letters, resolved.interactions, resolved.author_replies, resolved.skipped,
                             unique.duplicates, late_author_replies)
    if write:
        results = dict(events=events, decode_dead_letters=decode_dead_letters, interactions=outputs.interactions,
                       skipped=outputs.skipped, duplicates=outputs.duplicates, dead_letters=outputs.dead_letters,
                       scores=outputs.scores)
        if late_author_replies is not None:
            results["late_author_replies"] = late_author_replies
        results | "WriteWithLedger" >> WriteWithLedger(
            settings.sink_warehouse, settings.run_started_at, settings.streaming, settings.bulk_writes)
    return outputs


# Prism splits a slow bundle of ANY stage (not only splittable DoFns) when this is not set, and a split
# of a stateful stage's bundle breaks per-key state: the residual's keys are released while the primary
# still processes elements of the same keys, so a second bundle of a key runs at once on a snapshot of
# its state, and whichever commits last overwrites the other's writes; and the split index (counted in
# data elements) is applied to the bundle's elements and timers together, so a bundle holding timers
# re-queues elements already processed. Under load this lost author-reply credits (issue 9) and
# counted records twice. Our Kafka read checkpoints by itself every second: it needs no runner split.
# And Beam keeps one Prism job server per process, made by the first pipeline that asks: when that
# was a plain DirectRunner pipeline (which tries Prism without --prism_location before falling back),
# every later run in the process inherits its download attempt, which fails offline. Each run gets
# its own job server, started from its own options.
PRISM_EXPERIMENTS = ("prism_disable_sdf_split", "disable_prism_server_singleton")
_RUNNERS_ON_PRISM = ("PrismRunner", "DirectRunner")  # Beam's DirectRunner hands pipelines to Prism


def pipeline_options(beam_args: list[str], streaming: bool) -> PipelineOptions:
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    standard.streaming = streaming or standard.streaming
    if not standard.runner:
        # Name the in-process runner: the default DirectRunner first tries to download Prism, which
        # cannot succeed offline (see the README's runner section for using a local Prism build).
        standard.runner = "BundleBasedDirectRunner" if standard.streaming else "FnApiRunner"
    runner = standard.runner if isinstance(standard.runner, str) else type(standard.runner).__name__
    if runner.rsplit(".", 1)[-1] in _RUNNERS_ON_PRISM:
        debug = options.view_as(DebugOptions)
        for experiment in PRISM_EXPERIMENTS:
            debug.add_experiment(experiment)
    return options


def describe_source(source: beam.PTransform) -> str:
    """What a run reads, for the ``runs`` table."""
    patterns = getattr(source, "patterns", None)
    return f"files: {', '.join(patterns)}" if patterns else source.label


INTERRUPTED_AFTER_THE_PIPELINE = ("interrupted after the pipeline finished, before its summary was recorded: its "
                                  "rows are written; run it again for a summary")


def run_scoring(
    source: beam.PTransform, settings: RunSettings, beam_args: Optional[list[str]] = None,
    on_success: Optional[Callable[[Any], None]] = None, drain: Optional[threading.Event] = None,
    source_description: Optional[str] = None, metrics_port: Optional[int] = None,
    heartbeat_s: Optional[float] = None,
) -> RunSummary | LaunchedRun:
    """Run the pipeline on ``source`` (a PTransform yielding events and dead_letters) to the end.

    The run is recorded in the warehouse's ``runs`` table (RUNNING, then FINISHED or FAILED) and its
    summary is read back from the warehouse (``pipelines.summary``). A pipeline that fails does not
    raise here: its summary says so and does not balance. A streaming run with a ``drain`` switch (the
    switch its unbounded source checks) runs until SIGINT or SIGTERM, then drains: the source stops
    reading, every pending window fires and is written, and the run ends normally (see
    :mod:`pipelines.stopping`). ``on_success`` gets the finished pipeline result of a run that balanced.
    ``metrics_port`` serves the run's counters for Prometheus meanwhile, and a stream prints them
    every ``heartbeat_s`` seconds (``pipelines.metrics``). A streaming Dataflow job, or any job a
    Flex Template launcher stages, is not waited on: the run is recorded LAUNCHED with its job id
    and a :class:`~pipelines.dataflow_launch.LaunchedRun` is returned (``pipelines.dataflow_launch``).
    """
    from pipelines import stopping
    from pipelines.metrics import run_heartbeat, serving_metrics
    from warehouse import open_warehouse

    started = time.monotonic()
    # Once, here at launch: create a new warehouse, or stop on one of another schema version. The
    # workers' opens then do no setup work.
    open_warehouse(settings.warehouse).prepare()
    settings = settings.started()
    described = source_description or describe_source(source)
    # scraped while the run goes on (--metrics-port): its ledger as the warehouse holds it; bound
    # before the run is recorded, so that a port in use fails the command before anything is written
    metrics = serving_metrics(metrics_port, settings.warehouse, settings.run_started_at)
    heartbeat = run_heartbeat(heartbeat_s if settings.streaming else None, settings.warehouse, settings.run_started_at)
    record_run(settings.warehouse, run_row(settings.run_started_at, described, RUNNING))
    failure: Optional[str] = None
    finished = False
    try:
        with metrics, heartbeat, stopping.runner_thread_errors_logged(), worker_gc():
            try:
                options = pipeline_options(beam_args or [], settings.streaming)
                pipeline = beam.Pipeline(options=options)
                decoded = pipeline | "ReadEvents" >> source
                build_scoring_pipeline(decoded.events, decoded.dead_letters, settings)
                mode = launch_mode(options)
                if mode != WAIT:  # Dataflow runs it from here on: waiting on a stream never returns
                    result = pipeline.run()
                    job_id = result.job_id() if getattr(result, "has_job", False) else None
                    launched = launched_run(job_id, options, mode)
                    record_run(settings.warehouse, run_row(settings.run_started_at, described, LAUNCHED)
                               | {"message": launched.message()})
                    return launched
                if settings.streaming and drain is not None:
                    drain.clear()
                    with stopping.children_ignore_ctrl_c():
                        result = pipeline.run()
                    try:
                        with stopping.drain_on_signals(drain):
                            result.wait_until_finish()
                        finished = True
                    finally:
                        stopping.end_runner_children()
                else:
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
                        finished = True
            except Exception as error:  # reported in the summary, which then does not balance
                interrupt = stopping.wrapped_interrupt(error)
                if interrupt is not None:  # Ctrl-C or SIGTERM inside an in-process runner's DoFn
                    raise interrupt from None
                logging.getLogger(__name__).debug("the pipeline failed", exc_info=True)
                if stopping.is_rpc_error(error):
                    stopping.mark_runner_lost()
                failure = _first_line(error)
        summary = summarize(settings.warehouse, settings.run_started_at, time.monotonic() - started, failure)
        record_run(settings.warehouse, run_row(settings.run_started_at, described, summary.status, summary))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM at any point, the pipeline's end too: never left RUNNING
        message = (INTERRUPTED_AFTER_THE_PIPELINE if finished else f"{failure}; then interrupted" if failure
                   else "interrupted before the end of a bounded run")
        record_run(settings.warehouse, run_row(settings.run_started_at, described, FAILED) | {"message": message})
        raise
    if finished and on_success is not None and summary.balanced:
        on_success(result)
    return summary


def _first_line(error: BaseException, limit: int = 500) -> str:
    from pipelines.stopping import is_rpc_error

    if is_rpc_error(error):  # the runner's job service: its str is a repr whose last line is ">"
        status = getattr(error.code(), "name", error.code())
        details = " ".join(str(error.details() or "").split())
        return (f"the runner stopped answering (gRPC {status}: {details[:300]}): its process ended or was "
                f"killed; run it again (a run replays every retained record)")[:limit]
    text = str(error).strip().splitlines()
    line = text[-1] if text else ""  # a runner's wrapped error ends with the original one
    return f"{type(error).__name__}: {line}"[:limit]
