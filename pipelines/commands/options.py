"""Options that several command groups share, and the argparse types that check numbers."""
from __future__ import annotations

import argparse
import math

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


def positive_int(text: str) -> int:
    """An argparse type: a whole number above 0 (``--top -1`` once returned nothing, silently)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (``--half-life-days 0`` once became 14, ``nan`` gave
    nan strengths)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return value


def fraction(text: str) -> float:
    """An argparse type: a finite number from 0 to 1."""
    value = _finite(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value
