"""Options that several command groups share."""
from __future__ import annotations

import argparse

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
                        help="Confluent schema id(s) of EngagementEvent: produce writes the first (default: the current "
                             "version's, 2); run accepts these (default: every version this release knows, 1 and 2)")
