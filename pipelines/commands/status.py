"""``social-mentors status``: is the pipeline keeping up? Per partition the consumer group's committed
offset, the end offset and the lag; the newest window in the warehouse and its age; the dead letters
of the last hour by reason."""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Callable, Optional

from pipelines.commands.options import add_kafka_options, add_warehouse, kafka_security, not_empty, whole_number
from pipelines.commands.output import write_rows


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    status = commands.add_parser(
        "status", help="is the pipeline keeping up: consumer lag, newest window, recent dead letters",
        description="Per partition of --topic: the committed offset of --group-id, the end offset and the lag; "
                    "with a warehouse: its newest window and how old it is, and the dead letters of the last "
                    "hour by reason. Reads only; commits nothing.")
    add_kafka_options(status)
    status.add_argument("--group-id", type=not_empty, default="social-mentors", help="the pipeline's consumer group (default social-mentors)")
    status.add_argument("--dead-letter-window", default=60, type=whole_number(1, 525_600), metavar="MINUTES",
                        help="count dead letters that arrived in the last MINUTES (default 60)")
    add_warehouse(status)
    return {"status": cmd_status}


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _age(then: Optional[dt.datetime], now: dt.datetime) -> str:
    return "-" if then is None else f"{_span((now - then).total_seconds())} ago"


def window_end_note(end: Optional[dt.datetime], now: dt.datetime) -> str:
    """When the newest window ended, or that it is still open (a live stream's current window)."""
    if end is None:
        return "-"
    return f"ended {_age(end, now)}" if end <= now else f"still open: it ends in {_span((end - now).total_seconds())}"


def _when(value: Optional[dt.datetime]) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds") + "Z"


def cmd_status(args: argparse.Namespace) -> int:
    from transforms.kafka_lag import consumer_lag
    from transforms.kafka_preflight import check_connection

    from transforms.kafka_preflight import KafkaNotAnswering

    security = kafka_security(args)
    print(f"Kafka {args.bootstrap_servers} topic {args.topic}, group {args.group_id}")
    unreachable = None
    try:
        check_connection(args.bootstrap_servers, security)
    except KafkaNotAnswering as error:  # the warehouse is still worth showing: is anything being written?
        unreachable = error
        print("  not reachable (below); the warehouse as it stands:")
    else:
        lags = consumer_lag(args.bootstrap_servers, args.topic, args.group_id, security)
        write_rows(["partition", "committed", "end", "lag"],
                   [(p.partition, "-" if p.committed is None else p.committed, p.end, p.lag) for p in lags], "table")
        print(f"total lag {sum(p.lag for p in lags):,}")
    _warehouse_status(args)
    if unreachable is not None:
        raise unreachable
    return 0


def _warehouse_status(args: argparse.Namespace) -> None:
    local = not args.warehouse.startswith("bigquery://")
    if local and not Path(args.warehouse.removeprefix("duckdb://")).exists():
        print(f"Warehouse {args.warehouse}: none yet")
        return
    from pipelines.commands.warehouse import require_warehouse
    from warehouse import open_warehouse

    require_warehouse(args.warehouse)  # one of an older release: the command that migrates it
    warehouse = open_warehouse(args.warehouse, read_only=True)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    columns, rows = warehouse.query("status_newest_window", {})
    newest = dict(zip(columns, rows[0])) if rows else {}
    print(f"Warehouse {args.warehouse}")
    print(f"  newest window   {_when(newest.get('newest_window_start'))} .. {_when(newest.get('newest_window_end'))}"
          f" ({window_end_note(newest.get('newest_window_end'), now)})")
    print(f"  last written    {_when(newest.get('last_computed_at'))} ({_age(newest.get('last_computed_at'), now)})")
    since = now - dt.timedelta(minutes=args.dead_letter_window)
    _, dead = warehouse.query("status_dead_letters", {"since": since})
    total = sum(r[1] for r in dead)
    print(f"  dead letters in the last {args.dead_letter_window} min: {total:,}"
          + (f" ({', '.join(f'{kind}: {count:,}' for kind, count, _ in dead)})" if dead else ""))
