"""Publish EngagementEvents to Kafka: keyed by thread, Avro-encoded, acks=all, idempotent.

The key is ``site/thread_id``, so one thread's events stay in one partition and in order. The Kafka
timestamp of each message is the event's created_at, which the pipeline's Kafka source uses as event
time for its watermark. TLS and SASL come from a ``KafkaSecurity`` (``transforms.kafka_security``).
"""
from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any, Iterable, Optional, TextIO

from kafka import KafkaProducer

from schemas import wire
from services.progress import ProgressLine
from transforms.events import TEXT_FIELDS, InvalidEvent, event_from_record, optional_text
from transforms.kafka_security import KafkaSecurity, client_kwargs


@dataclasses.dataclass
class PublishReport:
    sent: int = 0
    failed: int = 0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0  # how long publishing took, shown once it is known

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def render(self) -> str:
        detail = f" ({', '.join(f'{k}: {v:,}' for k, v in sorted(self.reasons.items()))})" if self.reasons else ""
        took = f" in {self.seconds:.1f} s" if self.seconds else ""
        return f"sent {self.sent:,} records, failed {self.failed:,}{detail}{took}"


def message_key(record: dict[str, Any]) -> bytes:
    return f"{record['site']}/{record['thread_id']}".encode("utf-8")


class EventPublisher:
    """A small library API: ``with EventPublisher(servers, topic) as p: p.publish_all(records)``."""

    def __init__(self, bootstrap_servers: str, topic: str, wire_format: str = wire.PLAIN_AVRO,
                 schema_id: int = wire.DEFAULT_SCHEMA_ID, security: Optional[KafkaSecurity] = None,
                 **producer_config: Any):
        if wire_format not in wire.WIRE_FORMATS:
            raise ValueError(f"unknown wire format {wire_format!r}; choose one of {', '.join(wire.WIRE_FORMATS)}")
        self.topic = topic
        self.wire_format = wire_format
        self.schema_id = schema_id
        config = {"acks": "all", "enable_idempotence": True, "linger_ms": 20, "retries": 2_147_483_647}
        config.update(client_kwargs(security, "producer"))
        config.update(producer_config)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **config)

    def publish(self, record: dict[str, Any], origin: str = "record"):
        """Validate, encode and send one record; returns the send future. Raises InvalidEvent."""
        event = event_from_record(record, origin).to_record()
        # The event carries what the pipeline scores; the schema's other text (url) rides along, checked.
        event.update({field: optional_text(record.get(field), field) for field in TEXT_FIELDS})
        payload = wire.encode(event, self.wire_format, self.schema_id)
        return self.producer.send(self.topic, key=message_key(event), value=payload, timestamp_ms=event["created_at"])

    def publish_all(self, records: Iterable[dict[str, Any]], total: Optional[int] = None,
                    progress: Optional[TextIO] = sys.stderr) -> PublishReport:
        """Send every record, waiting for every acknowledgement; invalid ones are counted, not sent."""
        report = PublishReport()
        pending = []
        started = time.monotonic()
        last_shown = 0.0
        line = ProgressLine(progress)

        def settle(futures: list) -> None:
            for future in futures:
                try:
                    future.get(timeout=60)
                    report.sent += 1
                except Exception as error:  # delivery failures are counted with their type
                    report.fail(type(error).__name__)

        for number, record in enumerate(records, start=1):
            try:
                pending.append(self.publish(record, f"record {number}"))
            except InvalidEvent as error:
                report.fail(error.error_kind)
            if len(pending) >= 5000:
                settle(pending)
                pending = []
            now = time.monotonic()
            if now - last_shown > 0.5:
                last_shown = now
                of = f"/{total:,}" if total else ""
                line.show(f"  producing {number:,}{of} records ({number / max(now - started, 1e-9):,.0f}/s)")
        self.producer.flush()
        settle(pending)
        line.done()  # emptied: the caller prints the report, once
        report.seconds = time.monotonic() - started
        return report

    def close(self) -> None:
        self.producer.close()

    def __enter__(self) -> "EventPublisher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
