"""The ``social-mentors`` command line: demo, generate, run, query, export."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, TextIO

from warehouse import DEFAULT_WAREHOUSE

QUERY_PARAMS = {
    "mentors": ("reader",),
    "regulars": ("author",),
    "pair": ("author", "reader"),
}


def _add_warehouse(parser: argparse.ArgumentParser, default: str = DEFAULT_WAREHOUSE) -> None:
    parser.add_argument(
        "--warehouse", default=default,
        help=f"warehouse: a DuckDB file path, or bigquery://PROJECT/DATASET (default: {default})",
    )


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", default="1d", help="event-time window length (default 1d)")
    parser.add_argument("--allowed-lateness", default="2d", help="how late an interaction may still count (default 2d)")
    parser.add_argument("--dedupe-horizon", default="7d", help="how long a thread's dedupe state lives (default 7d)")
    parser.add_argument("--early-firing", default="1m", help="streaming: early pane period in processing time (default 1m)")
    parser.add_argument("--comment-saturation", type=float, default=None, help="score constant (default 3)")
    parser.add_argument("--latency-scale", default=None, help="score constant: latency that halves speed (default 1d)")
    parser.add_argument("--speed-weight", type=float, default=None, help="score constant (default 0.5)")


def _add_kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092", help="Kafka bootstrap HOST:PORT")
    parser.add_argument("--topic", default="engagement-events")
    parser.add_argument("--schema-id", type=int, action="append", default=None,
                        help="Confluent schema id(s) of EngagementEvent (default 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="social-mentors",
        description="Find social mentors: readers who keep commenting and authors who keep answering.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show Beam's own logging too")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="generate a synthetic community, score it, print the top mentors")
    demo.add_argument("--out", default="social-mentors-demo", help="folder for the demo's events and ground truth")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--scale", type=float, default=1.0, help="community size multiplier")
    _add_warehouse(demo, default=str(Path("social-mentors-demo") / "warehouse.duckdb"))

    generate = commands.add_parser("generate", help="write a synthetic community's events and ground truth")
    generate.add_argument("--out", required=True, help="events file: .avro for Avro, anything else for JSON Lines")
    generate.add_argument("--truth", help="ground-truth file of planted pairs (default: beside --out)")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--scale", type=float, default=1.0)
    generate.add_argument("--invalid-rate", type=float, default=0.0, help="share of invalid records to add")

    run = commands.add_parser(
        "run", help="score events into the warehouse",
        description="Score events into the warehouse. Unknown options go to Beam (e.g. --runner, --direct_num_workers).",
    )
    run.add_argument("--source", choices=("file", "kafka"), default="file")
    run.add_argument("--input", action="append", help="file source: Avro or JSON Lines file or glob; repeatable")
    _add_kafka_options(run)
    run.add_argument("--group-id", default="social-mentors", help="Kafka consumer group (default social-mentors)")
    run.add_argument("--until-end", action="store_true", help="Kafka, bounded: read to the end offsets seen at start")
    run.add_argument("--stop-at", default=None, help="Kafka, bounded: stop at this event time (ISO 8601 or epoch ms)")
    run.add_argument("--streaming", action="store_true", help="Kafka: read continuously until interrupted")
    run.add_argument("--idle-timeout", default="10s", help="Kafka streaming: a partition quiet this long stops holding the watermark")
    run.add_argument("--max-out-of-orderness", default="0s", help="Kafka streaming: watermark lag behind the newest record")
    _add_warehouse(run)
    run.add_argument("--bigquery-write", choices=("auto", "load", "streaming"), default="auto",
                     help="BigQuery: load jobs or streaming inserts (default auto: load jobs for a bounded run)")
    _add_window_options(run)

    produce = commands.add_parser("produce", help="publish events to Kafka (synthetic community or files)")
    _add_kafka_options(produce)
    produce.add_argument("--input", action="append", help="Avro or JSON Lines files to publish (default: synthetic)")
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--scale", type=float, default=1.0)
    produce.add_argument("--wire-format", choices=("avro", "confluent"), default="avro")

    importing = commands.add_parser("import", help="turn a community archive into events (file or Kafka)")
    importing.add_argument("format", choices=("stackexchange", "mbox", "reddit", "disqus", "wordpress"))
    importing.add_argument("paths", nargs="+", help="files or folders of the archive")
    importing.add_argument("--to", required=True, help="avro:PATH, jsonl:PATH or kafka://HOST:PORT/TOPIC")
    importing.add_argument("--site", default=None, help="site name (default: from the archive or folder)")
    importing.add_argument("--pseudonymize", metavar="KEY", default=None,
                           help="replace every actor id with a keyed hash (HMAC-SHA256)")

    warehouse_cmd = commands.add_parser("warehouse", help="create the warehouse's tables and views")
    warehouse_cmd.add_argument("action", choices=("init",))
    _add_warehouse(warehouse_cmd)

    kafka = commands.add_parser("kafka", help="a local single-node Kafka broker (KRaft) for development")
    kafka.add_argument("action", choices=("start", "stop", "status"))
    kafka.add_argument("--port", type=int, default=9092)
    kafka.add_argument("--state-dir", default=".social-mentors/kafka", help="broker config, data and logs")

    query = commands.add_parser("query", help="ask the warehouse: mentors, regulars, pair")
    query_kinds = query.add_subparsers(dest="query", required=True)
    for name, needed in QUERY_PARAMS.items():
        q = query_kinds.add_parser(name)
        for param in needed:
            q.add_argument(f"--{param}", required=True)
        q.add_argument("--site", default=None)
        if name != "pair":
            q.add_argument("--top", type=int, default=10)
            q.add_argument("--half-life-days", type=float, default=None, help="decay half-life (default 14)")
        q.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")
        _add_warehouse(q)

    export = commands.add_parser("export", help="write a whole table to stdout")
    export.add_argument("table", choices=("pair_scores", "dead_letters"))
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    _add_warehouse(export)
    return parser


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


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, float):
        return round(value, 6)
    return value


def write_rows(columns: list[str], rows: Iterable[tuple], fmt: str, out: Optional[TextIO] = None) -> int:
    """Rows to ``out`` (stdout) as an aligned table, JSON Lines or CSV; timestamps in ISO 8601 UTC."""
    out = out or sys.stdout
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({c: _json_value(v) for c, v in zip(columns, row)}) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _json_value(v) for v in row])
            count += 1
    else:
        cells = [[("" if v is None else str(_json_value(v))) for v in row] for row in rows]
        count = len(cells)
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
        for r in cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    return count


def run_query(warehouse_url: str, name: str, values: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    from transforms.score import ScoringConfig
    from warehouse import open_warehouse

    params = {"site": values.get("site")}
    for param in QUERY_PARAMS[name]:
        params[param] = values[param]
    if name != "pair":
        params["top"] = values.get("top", 10)
        params["half_life_days"] = values.get("half_life_days") or ScoringConfig().decay_half_life_days
    return open_warehouse(warehouse_url).query(name, params)


def _require_warehouse(path: str) -> None:
    if not path.startswith(("bigquery://",)) and not Path(path.removeprefix("duckdb://")).exists():
        raise SystemExit(
            f"error: no warehouse at {path}. Run `social-mentors run --input FILE --warehouse {path}` "
            "(or `social-mentors demo`) first, or pass --warehouse PATH."
        )


def cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipelines.runners import runner_services
    from pipelines.scoring import run_scoring
    from transforms.decode import ReadEventFiles

    if args.source == "kafka":
        return cmd_run_kafka(args, beam_args)
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


def cmd_run_kafka(args: argparse.Namespace, beam_args: list[str]) -> int:
    import dataclasses as dc

    from pipelines.kafka_runs import KafkaSourceSettings, commit_bounded_run, plan_read
    from pipelines.runners import runner_services
    from pipelines.scoring import run_scoring
    from pipelines.settings import parse_duration
    from transforms.decode import ReadEventsFromKafka
    from transforms.events import to_millis
    from transforms.kafka_source import ReadFromKafkaPartitions

    if args.streaming == bool(args.until_end or args.stop_at):
        raise ValueError("choose one: --streaming, or a bounded read with --until-end / --stop-at")
    source = KafkaSourceSettings(
        bootstrap_servers=args.bootstrap_servers, topic=args.topic, group_id=args.group_id,
        until_end=args.until_end, stop_at_ms=to_millis(args.stop_at, "--stop-at") if args.stop_at else None,
        accepted_schema_ids=frozenset(args.schema_id or [1]),
        idle_timeout_s=parse_duration(args.idle_timeout), max_out_of_orderness_s=parse_duration(args.max_out_of_orderness),
    )
    settings = _settings(args, streaming=args.streaming)
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
        )
    print(summary.render())
    return 0 if args.streaming or (summary.balanced and not summary.refused_rows) else 1


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_produce(args: argparse.Namespace) -> int:
    from producers.kafka_producer import EventPublisher
    from producers.synthetic import CommunitySpec, generate_community
    from transforms.decode import iter_event_file
    from transforms.events import Event

    failed_reading = 0
    if args.input:
        def records():
            nonlocal failed_reading
            for path in args.input:
                with open(path, "rb") as stream:
                    for item in iter_event_file(path, stream):
                        if isinstance(item, Event):
                            yield item.to_record()
                        else:
                            failed_reading += 1
        total = None
        source = records()
    else:
        community = generate_community(CommunitySpec(seed=args.seed).scaled(args.scale))
        source, total = community.events, len(community.events)
    schema_id = (args.schema_id or [1])[0]
    with EventPublisher(args.bootstrap_servers, args.topic, args.wire_format, schema_id) as publisher:
        report = publisher.publish_all(source, total=total)
    if failed_reading:
        report.failed += failed_reading
        report.reasons["unreadable"] = failed_reading
    print(report.render())
    return 0 if report.failed == 0 else 1


def cmd_import(args: argparse.Namespace) -> int:
    from importers import import_items
    from importers.core import run_import

    summary = run_import(import_items(args.format, args.paths, args.site), args.to, args.pseudonymize)
    print(summary.render())
    print(f"wrote {summary.converted:,} events to {args.to}")
    return 0


def cmd_warehouse(args: argparse.Namespace) -> int:
    import schemas
    from warehouse import open_warehouse

    warehouse = open_warehouse(args.warehouse)  # creates what is missing: tables from schemas/, the rest from schemas/queries
    if args.warehouse.startswith("bigquery://"):
        warehouse.ensure(update_definitions=True)  # the view and table functions as the repository has them now
        queries = f"table functions {', '.join(schemas.ANALYST_QUERIES)} (or run `social-mentors query`)"
    else:
        queries = f"queries {', '.join(schemas.ANALYST_QUERIES)} (run with `social-mentors query`)"
    print(f"{args.warehouse}: tables {', '.join(schemas.WAREHOUSE_TABLES)}; views {', '.join(schemas.VIEWS)}; {queries}")
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    from services.kafka_broker import KafkaBroker

    broker = KafkaBroker(state_dir=args.state_dir, port=args.port)
    if args.action == "start":
        print("starting Kafka (first start resolves the broker with Maven; this can take a minute) ...", file=sys.stderr)
        print(broker.start())
    elif args.action == "stop":
        print("stopped" if broker.stop() else "was not running")
    else:
        print(broker.status())
    return 0


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


def cmd_query(args: argparse.Namespace) -> int:
    _require_warehouse(args.warehouse)
    columns, rows = run_query(args.warehouse, args.query, vars(args))
    write_rows(columns, rows, args.format)
    if not rows and args.format == "table":
        print("(no rows: check the id and --site; ids are case-sensitive)", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse import open_warehouse

    _require_warehouse(args.warehouse)
    columns, rows = open_warehouse(args.warehouse).export(args.table)
    count = write_rows(columns, rows, args.format)
    print(f"exported {count:,} rows of {args.table}", file=sys.stderr)
    return 0


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s", stream=sys.stderr)
    progress = logging.getLogger("social_mentors.progress")
    progress.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  progress: %(message)s"))
    progress.addHandler(handler)
    progress.propagate = False
    if not verbose:  # kafka-python logs every refused connection while a broker starts or restarts
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    _configure_logging(args.verbose)
    commands = {
        "generate": cmd_generate, "demo": cmd_demo, "query": cmd_query, "export": cmd_export,
        "produce": cmd_produce, "kafka": cmd_kafka, "import": cmd_import, "warehouse": cmd_warehouse,
    }
    try:
        if args.command == "run":
            return cmd_run(args, beam_args)
        return commands[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError, NotImplementedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `social-mentors export ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
