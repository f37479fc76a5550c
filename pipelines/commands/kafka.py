"""Commands for Kafka: ``kafka start|stop|status`` (a local broker) and ``produce``."""
from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any, Callable, Iterator

from pipelines.commands.options import (add_community_options, add_kafka_options, community_spec, kafka_security,
                                       tcp_port, whole_number)
from schemas import wire


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    produce = commands.add_parser("produce", help="publish events to Kafka (synthetic community or files)")
    add_kafka_options(produce)
    produce.add_argument("--input", action="append", help="Avro or JSON Lines files to publish (default: synthetic)")
    add_community_options(produce)
    produce.add_argument("--live", action="store_true",
                         help="synthetic events stamped with the current time at --rate per second, until Ctrl-C "
                              "(or --count); ids unique to this run")
    produce.add_argument("--rate", type=float, default=10.0, help="--live: events per second (default 10)")
    produce.add_argument("--count", type=whole_number(1, 10**12), default=None, help="--live: stop after this many events")
    produce.add_argument("--wire-format", choices=("avro", "confluent"), default="avro",
                         help="plain Avro, or Confluent's (magic byte, schema id, Avro) (default avro)")

    kafka = commands.add_parser("kafka", help="a local single-node Kafka broker (KRaft) for development")
    kafka.add_argument("action", choices=("start", "stop", "status"))
    kafka.add_argument("--port", type=tcp_port, default=None,
                       help="start: the plaintext port (default: the one this state folder's broker used last, else 9092)")
    kafka.add_argument("--state-dir", default=None,
                       help="broker config, data and logs (default ~/.cache/social-mentors/kafka, or "
                            "$SOCIAL_MENTORS_CACHE/kafka: one local broker per user, found from any folder)")
    kafka.add_argument("--secure", action="store_true",
                       help="start: also listen with SASL_SSL (SCRAM-SHA-256/512, PLAIN) and SSL (client certificates), "
                            "on a CA and certificates made under STATE_DIR/tls")
    kafka.add_argument("--sasl-ssl-port", type=tcp_port, default=9093, help="--secure: the SASL_SSL port (default 9093)")
    kafka.add_argument("--ssl-port", type=tcp_port, default=9094, help="--secure: the SSL port (default 9094)")
    kafka.add_argument("--sasl-user", default="mentors", help="--secure: the SASL user (default mentors)")
    return {"produce": cmd_produce, "kafka": cmd_kafka}


def cmd_produce(args: argparse.Namespace) -> int:
    from producers.kafka_producer import EventPublisher
    from producers.synthetic import generate_community
    from producers.synthetic_live import live_events
    from transforms.decode import iter_event_file
    from transforms.events import Event
    from transforms.kafka_preflight import check_connection

    if args.live and (args.input or args.start is not None):
        raise ValueError("--live plays the synthetic community stamped with the current time: leave out --input and --start")
    if args.live and args.rate <= 0:
        raise ValueError(f"--rate must be positive, got {args.rate}")
    security = kafka_security(args)
    check_connection(args.bootstrap_servers, security)  # a wrong password or address: one line, at once

    failed_reading = 0
    if args.live:
        live = live_events(community_spec(args), args.rate)
        source, total = _until_interrupted(itertools.islice(live, args.count)), args.count
        print(f"producing live events at {args.rate:g}/s to {args.topic}"
              f"{f' ({args.count:,} of them)' if args.count else ' until Ctrl-C'} ...", file=sys.stderr)
    elif args.input:
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
        community = generate_community(community_spec(args))
        source, total = community.events, len(community.events)
    schema_id = (args.schema_id or [wire.DEFAULT_SCHEMA_ID])[0]
    with EventPublisher(args.bootstrap_servers, args.topic, args.wire_format, schema_id, security) as publisher:
        # a line redrawn with \r is for terminals only
        report = publisher.publish_all(source, total=total, progress=sys.stderr if sys.stderr.isatty() else None)
    if failed_reading:
        report.failed += failed_reading
        report.reasons["unreadable"] = failed_reading
    print(report.render())
    return 0 if report.failed == 0 else 1


def _until_interrupted(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The records until Ctrl-C: the live producer then flushes what it sent and prints its report."""
    try:
        yield from records
    except KeyboardInterrupt:
        return


def cmd_kafka(args: argparse.Namespace) -> int:
    import os

    from services.kafka_broker import KafkaBroker, local_state_dir
    from services.kafka_secured import local_secured_listeners
    from transforms.kafka_security import DEFAULT_PASSWORD_ENV

    args.state_dir = args.state_dir or local_state_dir()
    secured, password_file = None, None
    if args.secure and args.action == "start":
        secured, password_file = local_secured_listeners(args.state_dir, args.sasl_user, args.sasl_ssl_port,
                                                         args.ssl_port, os.environ.get(DEFAULT_PASSWORD_ENV))
    broker = KafkaBroker(state_dir=args.state_dir, port=args.port, secured=secured)
    if args.action == "start":
        from services.kafka_broker import jars_cached

        if broker.pid() and broker.is_ready():
            print(f"Kafka is already running at {broker.bootstrap} (`social-mentors kafka stop --state-dir "
                  f"{args.state_dir}` stops it)", file=sys.stderr)
        else:
            first = "" if jars_cached() else " (first start resolves the broker with Maven; this can take a minute)"
            print(f"starting Kafka{first} ...", file=sys.stderr)
        print(broker.start())
        if secured:
            tls = broker.tls
            print(f"SASL_SSL {broker.sasl_ssl_bootstrap}: --security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512 "
                  f"--sasl-username {args.sasl_user} --sasl-password-file {password_file} --ssl-cafile {tls.ca_file}")
            print(f"SSL {broker.ssl_bootstrap}: --security-protocol SSL --ssl-cafile {tls.ca_file} --ssl-certfile "
                  f"{tls.client_certfile} --ssl-keyfile {tls.client_keyfile} "
                  f"--ssl-key-password-file {tls.client_key_password_file}")
    elif args.action == "stop":
        print("stopped" if broker.stop() else "was not running")
    else:
        print(broker.status())
    return 0
