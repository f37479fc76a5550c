"""Options that several command groups share, and the argparse types that check numbers."""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
import time
from typing import Any, Callable

from schemas import wire
from transforms.kafka_security import (DEFAULT_KEY_PASSWORD_ENV, DEFAULT_PASSWORD_ENV, ENV_PREFIX, MECHANISMS,
                                       PROTOCOLS, KafkaSecurity, read_kafka_config)
from warehouse import DEFAULT_WAREHOUSE


def add_warehouse(parser: argparse.ArgumentParser, default: str = DEFAULT_WAREHOUSE, shown: str = "") -> None:
    """``shown``: the default as the help says it, when the command derives it from another option."""
    parser.add_argument(
        "--warehouse", default=default,
        help=f"warehouse: a DuckDB file path, or bigquery://PROJECT/DATASET (default: {shown or default})",
    )


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", type=not_empty, default="127.0.0.1:9092",
                        help="Kafka bootstrap HOST:PORT[,HOST:PORT] (default 127.0.0.1:9092)")
    parser.add_argument("--topic", type=not_empty, default="engagement-events",
                        help="Kafka topic of the events (default engagement-events)")
    parser.add_argument("--schema-id", type=whole_number(1, wire.MAX_REGISTRY_ID), action="append", default=None,
                        help="Confluent schema id(s) of EngagementEvent: produce writes the first (default: the current "
                             "version's, 2); run reads these besides the versions this release knows, 1 and 2)")
    add_kafka_security_options(parser)


def _env(name: str) -> "str | None":
    return os.environ.get(ENV_PREFIX + name) or None


def add_kafka_security_options(parser: argparse.ArgumentParser) -> None:
    """TLS and SASL of every Kafka client the command makes. Passwords are never options: they come
    from an environment variable or a file. Each option's default comes from $SOCIAL_MENTORS_KAFKA_*."""
    group = parser.add_argument_group(
        "Kafka security", f"TLS and SASL; defaults from the environment variables {ENV_PREFIX}* named below")
    group.add_argument("--security-protocol", choices=PROTOCOLS, default=_env("SECURITY_PROTOCOL"),
                       help=f"default ${ENV_PREFIX}SECURITY_PROTOCOL, else PLAINTEXT")
    group.add_argument("--sasl-mechanism", choices=MECHANISMS, default=_env("SASL_MECHANISM"),
                       help=f"SASL_*: the login mechanism (default ${ENV_PREFIX}SASL_MECHANISM)")
    group.add_argument("--sasl-username", default=_env("SASL_USERNAME"),
                       help=f"SASL_*: the user (default ${ENV_PREFIX}SASL_USERNAME)")
    group.add_argument("--sasl-password-env", metavar="NAME", default=None,
                       help=f"SASL_*: the environment variable holding the password (default {DEFAULT_PASSWORD_ENV})")
    group.add_argument("--sasl-password-file", metavar="PATH", default=_env("SASL_PASSWORD_FILE"),
                       help=f"SASL_*: a file holding the password (default ${ENV_PREFIX}SASL_PASSWORD_FILE)")
    group.add_argument("--ssl-cafile", metavar="PEM", default=_env("SSL_CAFILE"),
                       help=f"SSL/SASL_SSL: CA certificates to trust (default ${ENV_PREFIX}SSL_CAFILE, else the system's)")
    group.add_argument("--ssl-certfile", metavar="PEM", default=_env("SSL_CERTFILE"),
                       help=f"SSL/SASL_SSL: client certificate (default ${ENV_PREFIX}SSL_CERTFILE)")
    group.add_argument("--ssl-keyfile", metavar="PEM", default=_env("SSL_KEYFILE"),
                       help=f"SSL/SASL_SSL: the client certificate's key (default ${ENV_PREFIX}SSL_KEYFILE)")
    group.add_argument("--ssl-key-password-env", metavar="NAME", default=None,
                       help=f"the environment variable holding the key's password (default {DEFAULT_KEY_PASSWORD_ENV})")
    group.add_argument("--ssl-key-password-file", metavar="PATH", default=_env("SSL_KEY_PASSWORD_FILE"),
                       help=f"a file holding the key's password (default ${ENV_PREFIX}SSL_KEY_PASSWORD_FILE)")
    group.add_argument("--kafka-config", metavar="FILE", default=_env("CONFIG"),
                       help="extra kafka-python settings, a JSON object or key=value properties (Java names too); "
                            f"no secrets (default ${ENV_PREFIX}CONFIG)")


def kafka_security(args: argparse.Namespace) -> KafkaSecurity:
    """The validated security settings of the Kafka options; warnings go to stderr."""
    security = KafkaSecurity(
        security_protocol=args.security_protocol, sasl_mechanism=args.sasl_mechanism,
        sasl_username=args.sasl_username, sasl_password_env=args.sasl_password_env,
        sasl_password_file=args.sasl_password_file, ssl_cafile=args.ssl_cafile, ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile, ssl_key_password_env=args.ssl_key_password_env,
        ssl_key_password_file=args.ssl_key_password_file,
        extra=read_kafka_config(args.kafka_config) if args.kafka_config else (),
    ).validate()
    for note in security.warnings():
        print(f"warning: {note}", file=sys.stderr)
    return security


def add_community_options(parser: argparse.ArgumentParser) -> None:
    """--seed, --scale, --days and --start: which synthetic community, how large, how long, and when."""
    parser.add_argument("--seed", type=int, default=7,
                        help="seed of the synthetic community: the same seed gives the same events, ids never "
                             "collide across seeds (default 7)")
    parser.add_argument("--scale", type=positive_float, default=1.0,
                        help="community size multiplier (default 1: 2 sites, 24 authors, 240 readers, 40 planted pairs)")
    parser.add_argument("--days", type=positive_int, default=None, metavar="N",
                        help="how many days the community posts (default 28); the planted pairs stay the same, "
                             "the threads grow with the days (evaluate needs months of them)")
    parser.add_argument("--start", type=start_time, default=None, metavar="TIME",
                        help="when the community's days of posts begin: ISO 8601, epoch millis, now-DURATION "
                             "(now-90d), or 'now' for the days up to now; what would come after now is left "
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
    """The CommunitySpec that --seed, --scale, --days and --start (and ``overrides``) describe. With --start,
    nothing later than now is generated: it has not happened yet (and a broker refuses timestamps
    more than an hour ahead)."""
    from producers.synthetic import DAY_MS, CommunitySpec

    if getattr(args, "days", None) is not None:
        overrides = {"days": args.days, **overrides}
    spec = CommunitySpec(seed=args.seed, **overrides).scaled(args.scale)
    if args.start is None:
        return spec
    now = int(time.time() * 1000)
    start = now - spec.days * DAY_MS if args.start == NOW else args.start
    if start > now:
        from transforms.events import iso_utc

        raise ValueError(f"--start is in the future ({iso_utc(start)}): nothing would have happened yet")
    return dataclasses.replace(spec, start_ms=start, end_ms=now)


def not_empty(text: str) -> str:
    """An argparse type: a name that is not empty or blank (``--group-id=`` from a template left
    blank once reached the broker)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (``--top -1`` once returned nothing,
    silently; ``--top 100000000000000000000`` overflowed the warehouse's LIMIT)."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} must be {low} or more")
        if value > high:
            raise argparse.ArgumentTypeError(f"{text} must be at most {high}")
        return value

    check.__name__ = "whole number"
    return check


positive_int = whole_number(1, 2**63 - 1)
ROWS = whole_number(1, 100_000)  # rows or edges to show: more is no ranking anyone reads


def tcp_port(text: str) -> int:
    """An argparse type: a TCP port, 1..65535."""
    if not text.strip().isascii() or not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1..65535)")
    return int(text)


def duration(minimum: str = "positive") -> Callable[[str], str]:
    """An argparse type: a duration (pipelines.settings.parse_duration), kept as written; above 0
    (``minimum="positive"``) or 0 and more (``"zero"``). A negative one is refused by name
    (``--window -5m`` once failed with argparse's "expected one argument")."""
    def check(text: str) -> str:
        from pipelines.settings import parse_duration

        try:
            seconds = parse_duration(text)
        except ValueError as error:
            if minimum == "zero" and "must be positive" in str(error):
                raise argparse.ArgumentTypeError(f"{text!r} cannot be negative") from None
            raise argparse.ArgumentTypeError(str(error)) from None
        if seconds <= 0 and minimum == "positive":
            raise argparse.ArgumentTypeError(f"{text!r} must be positive: a duration such as 45s, 30m, 6h, 1d or 2w")
        return text

    check.__name__ = "duration"
    return check


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
