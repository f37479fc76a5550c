"""The Kafka wire formats of an EngagementEvent: plain Avro binary, or Confluent's framing.

Confluent framing is a zero magic byte, a 4-byte big-endian schema id, then the Avro binary. The
two are told apart by the first byte: plain Avro of this schema starts with the length of event_id,
and a zero length (an empty event_id) is invalid anyway.
"""
from __future__ import annotations

import io
import struct
from typing import Any

import fastavro

from schemas import engagement_event_schema

PLAIN_AVRO = "avro"
CONFLUENT = "confluent"
WIRE_FORMATS = (PLAIN_AVRO, CONFLUENT)
CONFLUENT_MAGIC = 0
DEFAULT_SCHEMA_ID = 1


class WireFormatError(ValueError):
    """A payload that is not an EngagementEvent in either wire format; ``kind`` names the problem."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def encode(record: dict[str, Any], wire_format: str = PLAIN_AVRO, schema_id: int = DEFAULT_SCHEMA_ID) -> bytes:
    buffer = io.BytesIO()
    if wire_format == CONFLUENT:
        buffer.write(struct.pack(">bI", CONFLUENT_MAGIC, schema_id))
    elif wire_format != PLAIN_AVRO:
        raise ValueError(f"unknown wire format {wire_format!r}; choose one of {', '.join(WIRE_FORMATS)}")
    fastavro.schemaless_writer(buffer, engagement_event_schema(), record)
    return buffer.getvalue()


def decode(payload: bytes | None, accepted_schema_ids: frozenset[int] = frozenset({DEFAULT_SCHEMA_ID})) -> dict[str, Any]:
    """The record in ``payload`` (either wire format); raises WireFormatError."""
    if not payload:
        raise WireFormatError("EMPTY_PAYLOAD", "the message has no value (a tombstone or an empty payload)")
    stream = io.BytesIO(payload)
    if payload[0] == CONFLUENT_MAGIC:
        if len(payload) < 5:
            raise WireFormatError("PARSE_ERROR", "Confluent framing cut short: fewer than 5 bytes")
        (schema_id,) = struct.unpack(">I", payload[1:5])
        if schema_id not in accepted_schema_ids:
            raise WireFormatError(
                "UNKNOWN_SCHEMA_ID",
                f"schema id {schema_id} is not an EngagementEvent schema this pipeline accepts "
                f"({', '.join(map(str, sorted(accepted_schema_ids)))}); pass --schema-id to accept it",
            )
        stream.seek(5)
    try:
        record = fastavro.schemaless_reader(stream, engagement_event_schema(), None)
    except Exception as error:  # truncated or random bytes raise many types inside fastavro
        raise WireFormatError("PARSE_ERROR", f"not an EngagementEvent in Avro binary: {type(error).__name__}: {error}") from None
    if stream.tell() != len(payload):
        raise WireFormatError("PARSE_ERROR", f"{len(payload) - stream.tell()} bytes left after the Avro record")
    return record
