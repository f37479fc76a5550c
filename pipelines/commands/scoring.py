"""The command that scores: ``run`` (files or Kafka)."""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any, Callable, Optional

from pipelines.commands.options import (add_kafka_options, add_warehouse, duration, fraction, kafka_security,
                                       not_empty, positive_float, tcp_port, whole_number)
from pipelines.commands.output import printable
from pipelines.commands.run_settings import check_source_options, decode_limits, run_settings
from pipelines.commands.names import load_actors_into, read_actors_to_load
from pipelines.warehouse_preflight import check_warehouse, warehouse_exists
from transforms.kafka_consumer import DEFAULT_MAX_OUT_OF_ORDERNESS_S


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    run = commands.add_parser(
        "run", help="score events into the warehouse",
        description="Score events into the warehouse. Beam pipeline options go to Beam (e.g. --runner, "
                    "--direct_num_workers); any other option is refused.",
    )
    run.add_argument("--source", choices=("file", "kafka"), default="file", help="read --input files or a Kafka topic (default file)")
    run.add_argument("--input", action="append", help="file source: Avro or JSON Lines file or glob; repeatable")
    add_kafka_options(run)
    run.add_argument("--group-id", type=not_empty, default="social-mentors", help="Kafka consumer group (default social-mentors)")
    run.add_argument("--until-end", action="store_true", help="Kafka, bounded: read to the end offsets seen at start")
    run.add_argument("--stop-at", default=None, help="Kafka, bounded: stop at this event time (ISO 8601 or epoch ms)")
    run.add_argument("--streaming", action="store_true", help="Kafka: read continuously until interrupted")
    run.add_argument("--idle-timeout", type=duration("zero"), default="10s", help="Kafka streaming: a partition quiet this long stops holding the watermark (default 10s)")
    run.add_argument("--max-out-of-orderness", type=duration("zero"), default=f"{DEFAULT_MAX_OUT_OF_ORDERNESS_S:g}s",
                     help="Kafka streaming: how far out of created_at order a record may be read and still be on "
                          f"time; the watermark lags the newest record by it (default {DEFAULT_MAX_OUT_OF_ORDERNESS_S:g}s)")
    _add_limit_options(run)
    run.add_argument("--kafka-timeout", type=duration(), default="60s",
                     help="Kafka, bounded: how long to wait for an unreachable broker before failing (default 60s)")
    add_warehouse(run)
    run.add_argument("--actors", default=None, metavar="FILE",
                     help="also load the people's names (JSONL from `import stackexchange|mbox|disqus --actors-out`) "
                          "into the warehouse's actors table before scoring, as `warehouse load-actors` does "
                          "(default: none loaded)")
    run.add_argument("--metrics-port", type=tcp_port, default=None, metavar="PORT",
                     help="serve the run's counters (its ledger) in Prometheus text format at "
                          "http://127.0.0.1:PORT/metrics while it runs (default: not served)")
    run.add_argument("--heartbeat", type=duration("zero"), default="30s",
                     help="Kafka streaming: print the counters so far (records in, scored, skipped, duplicates, "
                          "dead-lettered, pair rows) this often; 0 for never (default 30s)")
    run.add_argument("--bigquery-write", choices=("auto", "load", "streaming", "storage", "storage-exactly-once"), default="auto",
                     help="BigQuery: load jobs, streaming inserts (insertAll), the Storage Write API's default "
                          "stream, or its committed streams with offsets kept in Beam state (storage-exactly-once) "
                          "(default auto: load jobs for a bounded run, streaming inserts for a stream)")
    _add_window_options(run)
    return {"run": cmd_run}


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=duration(), default="7d",
                        help="event-time window length, windows aligned to Monday 00:00 UTC (default 7d: a week)")
    parser.add_argument("--allowed-lateness", type=duration("zero"), default="2d", help="how late an interaction may still count (default 2d)")
    parser.add_argument("--dedupe-horizon", type=duration(), default=None,
                        help="streaming: how long an event id and a thread are remembered; at least window + "
                             "allowed lateness (default 14d, or window + allowed lateness when longer)")
    parser.add_argument("--early-firing", type=duration(), default="1m", help="streaming: early pane period in processing time (default 1m)")
    parser.add_argument("--comment-saturation", type=positive_float, default=None, help="score constant (default 3)")
    parser.add_argument("--latency-scale", type=duration(), default=None, help="score constant: latency that halves speed (default 1d)")
    parser.add_argument("--speed-weight", type=fraction, default=None, help="score constant (default 0.5)")


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    from transforms.decode import MAX_RECORD_BYTES
    from transforms.events import MAX_ID_LENGTH

    parser.add_argument("--max-record-bytes", type=_byte_size, default=MAX_RECORD_BYTES,
                        help="a larger record (JSON line, Avro record, Kafka message) is a dead letter, "
                             "RECORD_TOO_LARGE (default 1MiB; bytes, or a number with KiB, MiB or GiB)")
    parser.add_argument("--max-id-length", type=whole_number(1, 1_000_000), default=MAX_ID_LENGTH,
                        help=f"a longer id field is a dead letter, FIELD_TOO_LONG (default {MAX_ID_LENGTH} characters)")


def _byte_size(text: str) -> int:
    units = {"": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
    match = re.fullmatch(r"\s*([0-9]+)\s*([a-z]*)\s*", text.lower(), re.ASCII)
    if not match or match.group(2) not in units or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: give bytes, or a number with KiB, MiB or GiB")
    if int(match.group(1)) * units[match.group(2)] > 1 << 30:  # no record is that large: a typo
        raise argparse.ArgumentTypeError(f"{text!r} must be at most 1GiB")
    return int(match.group(1)) * units[match.group(2)]


def _announce_metrics(port: Optional[int]) -> Optional[int]:
    """Say where the counters will be served (``run --metrics-port``); the port, unchanged."""
    if port is not None:
        print(f"  the run's counters: http://127.0.0.1:{port}/metrics (Prometheus text format)", file=sys.stderr)
    return port


def cmd_run(args: argparse.Namespace) -> int:
    beam_args = args.beam_args
    from pipelines.runners import check_runner, runner_services
    from pipelines.scoring import run_scoring
    from transforms.decode import ReadEventFiles, repeated_paths

    check_source_options(args)
    if args.source == "kafka":
        return cmd_run_kafka(args)
    if args.input:  # local patterns as absolute paths: Beam's file matching misses relative globs
        args.input = [p if "://" in p else os.path.abspath(os.path.expanduser(p)) for p in args.input]
    if not args.input:
        raise ValueError("--input FILE is required with the file source (or use --source kafka)")
    if args.streaming:
        raise ValueError("--streaming needs --source kafka: files are bounded")
    settings = run_settings(args)
    _require_inputs(args.input)
    check_runner(beam_args)
    _prepare_warehouse(args.actors, settings)
    print(printable(f"Scoring {', '.join(args.input)} into {settings.warehouse} ..."), file=sys.stderr)
    for path, patterns in repeated_paths(args.input).items():
        print(f"  note: {path} is named by {len(patterns)} --input patterns ({', '.join(patterns)}); "
              "it is read once", file=sys.stderr)
    with runner_services(beam_args) as runner_args:
        summary = run_scoring(ReadEventFiles(args.input, decode_limits(args)), settings, runner_args,
                              metrics_port=_announce_metrics(args.metrics_port))
    print(summary.render())
    return 0 if summary.balanced and not summary.refused_rows else 1


def _prepare_warehouse(actors_path: Optional[str], settings: Any, actors: Optional[Any] = None) -> None:
    """Before the pipeline: read --actors whole unless ``actors`` were read already (a bad line:
    nothing created), check the warehouse (warehouse_preflight), then load the actors into it."""
    if actors is None and actors_path:
        actors = read_actors_to_load(actors_path)
    check_warehouse(settings.warehouse, settings.window_s)
    if actors is not None:
        loaded = load_actors_into(settings.warehouse, actors)
        print(printable(f"Loaded {loaded:,} actors from {actors_path} into {settings.warehouse}"), file=sys.stderr)


def kafka_run_config(args: argparse.Namespace):
    """(KafkaSourceSettings, RunSettings) of a Kafka run, from its parsed command line; no I/O (the
    preflight and the plan are cmd_run_kafka's), so a test can check what a command line sets."""
    from pipelines.kafka_runs import KafkaSourceSettings
    from pipelines.settings import parse_duration
    from schemas import wire
    from transforms.events import to_millis

    if args.streaming == bool(args.until_end or args.stop_at):
        raise ValueError("choose one: --streaming, or a bounded read with --until-end / --stop-at")
    source = KafkaSourceSettings(
        bootstrap_servers=args.bootstrap_servers, topic=args.topic, group_id=args.group_id,
        until_end=args.until_end, stop_at_ms=to_millis(args.stop_at, "--stop-at") if args.stop_at else None,
        accepted_schema_ids=wire.known_schema_ids() | frozenset(args.schema_id or ()),  # registry ids add to them
        idle_timeout_s=parse_duration(args.idle_timeout), max_out_of_orderness_s=parse_duration(args.max_out_of_orderness),
        timeout_s=parse_duration(args.kafka_timeout),
        security=kafka_security(args),
    )
    return source, run_settings(args, streaming=args.streaming)


def cmd_run_kafka(args: argparse.Namespace) -> int:
    beam_args = args.beam_args
    import dataclasses as dc

    from pipelines.dataflow_launch import how_it_runs
    from pipelines.kafka_runs import commit_bounded_run, plan_read
    from pipelines.runners import check_runner, runner_services
    from pipelines.scoring import run_scoring
    from pipelines.settings import parse_duration
    from transforms.decode import ReadEventsFromKafka
    from transforms.kafka_preflight import KafkaNotAnswering, check_connection
    from transforms.kafka_consumer import KafkaUnreachable, unreachable_line
    from transforms.kafka_source import STOP_READING, ReadFromKafkaPartitions

    source, settings = kafka_run_config(args)
    check_runner(beam_args, args.streaming)  # local, and a launch without the runner's parts should not wait on Kafka
    security = source.security
    asked = time.monotonic()
    try:  # a wrong password or certificate: one line, at once
        check_connection(args.bootstrap_servers, security, timeout_s=min(5.0, source.timeout_s))
    except KafkaNotAnswering:  # nobody answers (yet): plan_read waits for the rest of --kafka-timeout
        source = dc.replace(source, timeout_s=max(1.0, source.timeout_s - (time.monotonic() - asked)))
    # An existing warehouse is checked before waiting for Kafka (a wrong --window says so at once); a
    # new DuckDB file is created only once Kafka answered, so a broker that never does leaves none.
    existing = warehouse_exists(settings.warehouse)
    actors = None
    if existing:
        _prepare_warehouse(args.actors, settings)
    elif args.actors:
        actors = read_actors_to_load(args.actors)  # a bad line: said before waiting for Kafka
    try:
        plan = plan_read(source)
    except KeyboardInterrupt:
        print("interrupted before reading Kafka: nothing was read or written", file=sys.stderr)
        return 130
    if not existing:
        _prepare_warehouse(args.actors, settings, actors)
    print(f"Scoring {source.topic} on {source.bootstrap_servers} as {security.describe()} (group {source.group_id}, "
          f"{how_it_runs(beam_args, args.streaming)}): {plan.describe()}",
          file=sys.stderr)
    read = ReadFromKafkaPartitions(plan.plans, source.max_out_of_orderness_s, source.idle_timeout_s)
    try:
        with runner_services(beam_args, streaming=args.streaming) as runner_args:
            summary = run_scoring(
                ReadEventsFromKafka(read, source.accepted_schema_ids, decode_limits(args),
                                    remembered_s=settings.dedupe_horizon_s if args.streaming else None),
                settings, runner_args,
                on_success=lambda result: None if args.streaming else commit_bounded_run(source, plan),
                drain=STOP_READING if args.streaming else None,
                source_description=f"kafka: {source.topic} on {source.bootstrap_servers}, group {source.group_id}",
                metrics_port=_announce_metrics(args.metrics_port), heartbeat_s=parse_duration(args.heartbeat),
            )
    except Exception as error:  # a runner wraps the source's error in pages of tracebacks: say it in one line
        line = unreachable_line(error)
        if line is None:
            raise
        raise KafkaUnreachable(line) from None
    print(summary.render())
    line = unreachable_line(RuntimeError(summary.error)) if summary.error else None
    if line is not None:  # the run recorded itself FAILED; say why in the one line an operator reads
        raise KafkaUnreachable(line)
    return 0 if summary.balanced and not summary.refused_rows else 1


def _require_inputs(patterns: list[str]) -> None:
    """Every --input names at least one file, checked before the pipeline is built."""
    from apache_beam.io.filesystems import FileSystems

    for pattern in patterns:
        if "://" not in pattern and os.path.isdir(pattern):  # Beam would fail on it mid-run
            raise IsADirectoryError(f"--input {printable(pattern)} is a folder: name its files, "
                                    f"e.g. --input '{printable(os.path.join(pattern, '*.avro'))}'")
        if not FileSystems.match([pattern])[0].metadata_list:
            raise FileNotFoundError(f"no input file matches {pattern!r}: check the --input path")
