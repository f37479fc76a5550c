"""Commands for Kafka: ``kafka start|stop|status`` (a local broker) and ``produce``."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from pipelines.commands.options import add_kafka_options
from schemas import wire


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
    return {"produce": cmd_produce, "kafka": cmd_kafka}


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
    schema_id = (args.schema_id or [wire.DEFAULT_SCHEMA_ID])[0]
    with EventPublisher(args.bootstrap_servers, args.topic, args.wire_format, schema_id) as publisher:
        report = publisher.publish_all(source, total=total)
    if failed_reading:
        report.failed += failed_reading
        report.reasons["unreadable"] = failed_reading
    print(report.render())
    return 0 if report.failed == 0 else 1


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
