"""Commands for Kafka: ``kafka start|stop|status`` (a local broker) and ``produce``."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from pipelines.commands.options import add_kafka_options, kafka_security


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    produce = commands.add_parser("produce", help="publish events to Kafka (synthetic community or files)")
    add_kafka_options(produce)
    produce.add_argument("--input", action="append", help="Avro or JSON Lines files to publish (default: synthetic)")
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--scale", type=float, default=1.0)
    produce.add_argument("--wire-format", choices=("avro", "confluent"), default="avro")

    kafka = commands.add_parser("kafka", help="a local single-node Kafka broker (KRaft) for development")
    kafka.add_argument("action", choices=("start", "stop", "status"))
    kafka.add_argument("--port", type=int, default=9092)
    kafka.add_argument("--state-dir", default=".social-mentors/kafka", help="broker config, data and logs")
    kafka.add_argument("--secure", action="store_true",
                       help="start: also listen with SASL_SSL (SCRAM-SHA-256/512, PLAIN) and SSL (client certificates), "
                            "on a CA and certificates made under STATE_DIR/tls")
    kafka.add_argument("--sasl-ssl-port", type=int, default=9093, help="--secure: the SASL_SSL port (default 9093)")
    kafka.add_argument("--ssl-port", type=int, default=9094, help="--secure: the SSL port (default 9094)")
    kafka.add_argument("--sasl-user", default="mentors", help="--secure: the SASL user (default mentors)")
    return {"produce": cmd_produce, "kafka": cmd_kafka}


def cmd_produce(args: argparse.Namespace) -> int:
    from producers.kafka_producer import EventPublisher
    from producers.synthetic import CommunitySpec, generate_community
    from transforms.decode import iter_event_file
    from transforms.events import Event
    from transforms.kafka_preflight import check_connection

    security = kafka_security(args)
    check_connection(args.bootstrap_servers, security)  # a wrong password or address: one line, at once

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
    with EventPublisher(args.bootstrap_servers, args.topic, args.wire_format, schema_id, security) as publisher:
        report = publisher.publish_all(source, total=total)
    if failed_reading:
        report.failed += failed_reading
        report.reasons["unreadable"] = failed_reading
    print(report.render())
    return 0 if report.failed == 0 else 1


def cmd_kafka(args: argparse.Namespace) -> int:
    import os

    from services.kafka_broker import KafkaBroker, local_secured_listeners
    from transforms.kafka_security import DEFAULT_PASSWORD_ENV

    secured, password_file = None, None
    if args.secure and args.action == "start":
        secured, password_file = local_secured_listeners(args.state_dir, args.sasl_user, args.sasl_ssl_port,
                                                         args.ssl_port, os.environ.get(DEFAULT_PASSWORD_ENV))
    broker = KafkaBroker(state_dir=args.state_dir, port=args.port, secured=secured)
    if args.action == "start":
        print("starting Kafka (first start resolves the broker with Maven; this can take a minute) ...", file=sys.stderr)
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
