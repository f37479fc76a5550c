"""Options that several command groups share."""
from __future__ import annotations

import argparse
import dataclasses
import re
import time
from typing import Any

from warehouse import DEFAULT_WAREHOUSE


def add_warehouse(parser: argparse.ArgumentParser, default: str = DEFAULT_WAREHOUSE) -> None:
    parser.add_argument(
        "--warehouse", default=default,
        help=f"warehouse: a DuckDB file path, or bigquery://PROJECT/DATASET (default: {default})",
    )


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092", help="Kafka bootstrap HOST:PORT")
    parser.add_argument("--topic", default="engagement-events")
    parser.add_argument("--schema-id", type=int, action="append", default=None,
                        help="Confluent schema id(s) of EngagementEvent (default 1)")


def add_community_options(parser: argparse.ArgumentParser) -> None:
    """--seed, --scale and --start: which synthetic community, how large, and when."""
    parser.add_argument("--seed", type=int, default=7,
                        help="seed of the synthetic community: the same seed gives the same events, ids never "
                             "collide across seeds (default 7)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="community size multiplier (default 1: 2 sites, 24 authors, 240 readers, 40 planted pairs)")
    parser.add_argument("--start", type=start_time, default=None, metavar="TIME",
                        help="when the community's 28 days of posts begin: ISO 8601, epoch millis, now-DURATION "
                             "(now-90d), or 'now' for the 28 days up to now; what would come after now is left "
                             "out (default 2026-01-05)")


NOW = "now"


def start_time(text: str) -> int | str:
    """Epoch millis from ISO 8601, epoch millis or ``now-DURATION`` (e.g. ``now-90d``); or ``NOW``."""
    from pipelines.settings import parse_duration
    from transforms.events import InvalidEvent, to_millis

    relative = re.fullmatch(r"\s*now\s*(?:-\s*(\S+))?\s*", text)
    try:
        if relative and not relative.group(1):
            return NOW
        if relative:
            return int(time.time() * 1000) - int(parse_duration(relative.group(1)) * 1000)
        return to_millis(text, "--start")
    except (InvalidEvent, ValueError) as error:
        raise argparse.ArgumentTypeError(f"{error}; write e.g. 2026-11-20T00:00:00Z, now or now-90d") from None


def community_spec(args: argparse.Namespace, **overrides: Any):
    """The CommunitySpec that --seed, --scale and --start (and ``overrides``) describe. With --start,
    nothing later than now is generated: it has not happened yet (and a broker refuses timestamps
    more than an hour ahead)."""
    from producers.synthetic import DAY_MS, CommunitySpec

    spec = CommunitySpec(seed=args.seed, **overrides).scaled(args.scale)
    if args.start is None:
        return spec
    now = int(time.time() * 1000)
    start = now - spec.days * DAY_MS if args.start == NOW else args.start
    if start > now:
        raise ValueError(f"--start is in the future ({args.start} ms): nothing would have happened yet")
    return dataclasses.replace(spec, start_ms=start, end_ms=now)
