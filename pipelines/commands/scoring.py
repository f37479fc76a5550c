"""Commands that score: ``run`` (files or Kafka), ``demo`` and ``generate``."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from pipelines.commands.options import add_kafka_options, add_warehouse
from pipelines.commands.warehouse import run_query


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    demo = commands.add_parser("demo", help="generate a synthetic community, score it, print the top mentors")
    demo.add_argument("--out", default="social-mentors-demo", help="folder for the demo's events and ground truth")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--scale", type=float, default=1.0, help="community size multiplier")
    add_warehouse(demo, default=str(Path("social-mentors-demo") / "warehouse.duckdb"))

    generate = commands.add_parser("generate", help="write a synthetic community's events and ground truth")
    generate.add_argument("--out", required=True, help="events file: .avro for Avro, anything else for JSON Lines")
    generate.add_argument("--truth", help="ground-truth file of planted pairs (default: beside --out)")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--scale", type=float, default=1.0)
    generate.add_argument("--invalid-rate", type=float, default=0.0, help="share of invalid records to add")

    run = commands.add_parser(
        "run", help="score events into the warehouse",
        description="Score events into the warehouse. Beam pipeline options go to Beam (e.g. --runner, "
                    "--direct_num_workers); any other option is refused.",
    )
    run.add_argument("--source", choices=("file", "kafka"), default="file")
    run.add_argument("--input", action="append", help="file source: Avro or JSON Lines file or glob; repeatable")
    add_kafka_options(run)
    run.add_argument("--group-id", default="social-mentors", help="Kafka consumer group (default social-mentors)")
    run.add_argument("--until-end", action="store_true", help="Kafka, bounded: read to the end offsets seen at start")
    run.add_argument("--stop-at", default=None, help="Kafka, bounded: stop at this event time (ISO 8601 or epoch ms)")
    run.add_argument("--streaming", action="store_true", help="Kafka: read continuously until interrupted")
    run.add_argument("--idle-timeout", default="10s", help="Kafka streaming: a partition quiet this long stops holding the watermark")
    run.add_argument("--max-out-of-orderness", default="0s", help="Kafka streaming: watermark lag behind the newest record")
    add_warehouse(run)
    run.add_argument("--bigquery-write", choices=("auto", "load", "streaming", "storage"), default="auto",
                     help="BigQuery: load jobs, streaming inserts (insertAll) or the Storage Write API's default "
                          "stream (default auto: load jobs for a bounded run, streaming inserts for a stream)")
    _add_window_options(run)
    return {"demo": cmd_demo, "generate": cmd_generate, "run": cmd_run}


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", default="1d", help="event-time window length (default 1d)")
    parser.add_argument("--allowed-lateness", default="2d", help="how late an interaction may still count (default 2d)")
    parser.add_argument("--dedupe-horizon", default="7d", help="how long a thread's dedupe state lives (default 7d)")
    parser.add_argument("--early-firing", default="1m", help="streaming: early pane period in processing time (default 1m)")
    parser.add_argument("--comment-saturation", type=float, default=None, help="score constant (default 3)")
    parser.add_argument("--latency-scale", default=None, help="score constant: latency that halves speed (default 1d)")
    parser.add_argument("--speed-weight", type=float, default=None, help="score constant (default 0.5)")


def _settings(args: argparse.Namespace, streaming: bool = False):
    from pipelines.settings import RunSettings, parse_duration
    from transforms.score import ScoringConfig

    overrides: dict[str, Any] = {}
    if args.comment_saturation is not None:
        overrides["comment_saturation"] = args.comment_saturation
    if args.latency_scale is not None:
        overrides["latency_scale_s"] = parse_duration(args.latency_scale)
    if args.speed_weight is not None:
        overrides["speed_weight"] = args.speed_weight
    return RunSettings(
        warehouse=args.warehouse,
        window_s=parse_duration(args.window),
        allowed_lateness_s=parse_duration(args.allowed_lateness),
        dedupe_horizon_s=parse_duration(args.dedupe_horizon),
        early_firing_s=parse_duration(args.early_firing),
        streaming=streaming,
        scoring=ScoringConfig(**overrides),
        bigquery_write=args.bigquery_write,
    )


def cmd_run(args: argparse.Namespace) -> int:
    beam_args = args.beam_args
    from pipelines.runners import runner_services
    from pipelines.scoring import run_scoring
    from transforms.decode import ReadEventFiles

    if args.source == "kafka":
        return cmd_run_kafka(args)
    if not args.input:
        raise ValueError("--input FILE is required with the file source (or use --source kafka)")
    if args.streaming:
        raise ValueError("--streaming needs --source kafka: files are bounded")
    settings = _settings(args)
    print(f"Scoring {', '.join(args.input)} into {settings.warehouse} ...", file=sys.stderr)
    with runner_services(beam_args) as runner_args:
        summary = run_scoring(ReadEventFiles(args.input), settings, runner_args)
    print(summary.render())
    return 0 if summary.balanced and not summary.refused_rows else 1


def kafka_run_config(args: argparse.Namespace):
    """(KafkaSourceSettings, RunSettings) of a Kafka run, from its parsed command line; no I/O."""
    from pipelines.kafka_runs import KafkaSourceSettings
    from pipelines.settings import parse_duration
    from schemas import wire
    from transforms.events import to_millis

    if args.streaming == bool(args.until_end or args.stop_at):
        raise ValueError("choose one: --streaming, or a bounded read with --until-end / --stop-at")
    source = KafkaSourceSettings(
        bootstrap_servers=args.bootstrap_servers, topic=args.topic, group_id=args.group_id,
        until_end=args.until_end, stop_at_ms=to_millis(args.stop_at, "--stop-at") if args.stop_at else None,
        accepted_schema_ids=frozenset(args.schema_id) if args.schema_id else wire.known_schema_ids(),
        idle_timeout_s=parse_duration(args.idle_timeout), max_out_of_orderness_s=parse_duration(args.max_out_of_orderness),
    )
    return source, _settings(args, streaming=args.streaming)


def cmd_run_kafka(args: argparse.Namespace) -> int:
    beam_args = args.beam_args
    import dataclasses as dc

    from pipelines.kafka_runs import commit_bounded_run, plan_read
    from pipelines.runners import runner_services
    from pipelines.scoring import run_scoring
    from transforms.decode import ReadEventsFromKafka
    from transforms.kafka_source import ReadFromKafkaPartitions

    source, settings = kafka_run_config(args)
    if args.streaming:  # `kill` ends a streaming run like Ctrl-C: cancel, then print the summary
        signal.signal(signal.SIGTERM, _interrupt)
    plan = plan_read(source, settings)
    settings = dc.replace(settings, replay_fence_ms=plan.replay_fence_ms)
    print(f"Scoring {source.topic} on {source.bootstrap_servers} (group {source.group_id}, "
          f"{'streaming until interrupted' if args.streaming else 'bounded'}): {plan.describe()}", file=sys.stderr)
    read = ReadFromKafkaPartitions(plan.plans, source.max_out_of_orderness_s, source.idle_timeout_s)
    with runner_services(beam_args, streaming=args.streaming) as runner_args:
        summary = run_scoring(
            ReadEventsFromKafka(read, source.accepted_schema_ids), settings, runner_args,
            on_success=None if args.streaming else (lambda result: commit_bounded_run(source, plan, result)),
            source_description=f"kafka: {source.topic} on {source.bootstrap_servers}, group {source.group_id}",
        )
    print(summary.render())
    return 0 if summary.balanced and not summary.refused_rows else 1


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_generate(args: argparse.Namespace) -> int:
    from producers.synthetic import CommunitySpec, generate_community, write_community

    spec = CommunitySpec(seed=args.seed, invalid_rate=args.invalid_rate).scaled(args.scale)
    community = generate_community(spec)
    out = Path(args.out)
    truth = Path(args.truth) if args.truth else out.with_name(out.stem + ".truth.jsonl")
    count = write_community(community, out, truth)
    print(f"wrote {count:,} events to {out} ({community.duplicate_count:,} re-deliveries, "
          f"{community.invalid_count:,} invalid) and {len(community.planted_pairs)} planted pairs to {truth}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from producers.synthetic import CommunitySpec, generate_community, write_community
    from transforms.decode import ReadEventFiles

    out = Path(args.out)
    events_path, truth_path = out / "events.avro", out / "planted_pairs.jsonl"
    spec = CommunitySpec(seed=args.seed, invalid_rate=0.002).scaled(args.scale)
    print(f"Generating a synthetic community (seed {args.seed}) ...", file=sys.stderr)
    community = generate_community(spec)
    count = write_community(community, events_path, truth_path)
    print(f"  {count:,} events in {events_path}; {len(community.planted_pairs)} planted mentor pairs in {truth_path}",
          file=sys.stderr)
    print("Scoring them on the local runner ...", file=sys.stderr)
    summary = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=args.warehouse))
    print(summary.render())

    hits, shown = 0, 0
    print("\nTop mentor of each planted reader (first 8 shown):")
    for pair in community.planted_pairs:
        columns, rows = run_query(args.warehouse, "mentors", {"reader": pair["reader_id"], "site": pair["site"], "top": 3})
        top = rows[0][columns.index("author_id")] if rows else None
        hits += top == pair["author_id"]
        if shown < 8:
            strength = f"{rows[0][columns.index('strength')]:.3f}" if rows else "-"
            mark = "planted" if top == pair["author_id"] else f"planted was {pair['author_id']}"
            print(f"  {pair['reader_id']:<24} -> {top or '(none)':<24} strength {strength}  ({mark})")
            shown += 1
    print(f"\nThe planted mentor ranks first for {hits} of {len(community.planted_pairs)} planted readers.")
    example = community.planted_pairs[0]
    print(f"\nWarehouse: {args.warehouse}. Try:\n"
          f"  social-mentors query mentors --reader {example['reader_id']} --warehouse {args.warehouse}\n"
          f"  social-mentors query regulars --author {example['author_id']} --warehouse {args.warehouse}\n"
          f"  social-mentors export dead_letters --warehouse {args.warehouse}")
    return 0 if summary.balanced else 1
