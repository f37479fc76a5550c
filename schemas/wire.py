"""The Kafka wire formats of an EngagementEvent, and how the schema evolves without breaking readers.

In: message values. Out: records in the shape of the *current* schema (``engagement_event.avsc``),
whatever version wrote them, timestamps as the epoch-millis longs on the wire. Why: producers
upgrade on their own schedule, and a topic keeps old messages for days, so the pipeline reads every
version it knows.

Two wire formats, told apart by the first byte:

* Confluent framing: a zero magic byte, a 4-byte big-endian schema id, then Avro binary. The ids
  1, 2, ... are the schema versions (``schemas/history/engagement_event.vN.avsc`` and the current
  file, which says its version in ``x-schema-version``); the producer writes the current one. An id
  this pipeline does not accept (a newer version, say) is refused with ``UNKNOWN_SCHEMA_ID``, and the
  pipeline dead-letters the message with that reason. ``--schema-id`` may name ids a Confluent
  registry assigned instead: those are decoded by trying the known versions, as below; so is a body
  that the version its id names does not read exactly (a registry's id 1 is often this release's
  current schema, not version 1).
* Plain Avro binary (no id): decoded by the newest known version that reads the payload exactly,
  to its last byte. An empty event_id makes plain Avro start with a zero, so plain Avro of a valid
  event never looks like Confluent framing.

Evolution rule (tested in tests/schemas): a new version only adds fields with a default, so every
old record resolves into the current shape (Avro schema resolution, writer -> reader schema).
"""
from __future__ import annotations

import functools
import io
import json
import struct
from typing import Any

import fastavro

from schemas import SCHEMA_DIR, avro_schema, engagement_event_schema, without_logical_types

PLAIN_AVRO = "avro"
CONFLUENT = "confluent"
WIRE_FORMATS = (PLAIN_AVRO, CONFLUENT)
CONFLUENT_MAGIC = 0
HISTORY_DIR = SCHEMA_DIR / "history"
# A schema registry's ids are positive signed 32-bit integers (Confluent's, Apicurio's), as --schema-id takes.
MAX_REGISTRY_ID = 2**31 - 1


@functools.lru_cache(maxsize=None)
def _raw_versions() -> dict[int, dict[str, Any]]:
    """{version: schema JSON} of every EngagementEvent version, the current one included."""
    versions = {}
    for path in sorted(HISTORY_DIR.glob("engagement_event.v*.avsc")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        versions[int(raw["x-schema-version"])] = raw
    current = avro_schema("engagement_event")
    versions[int(current["x-schema-version"])] = current
    return versions


@functools.lru_cache(maxsize=None)
def schema_versions() -> dict[int, Any]:
    """{version: parsed writer schema} of every EngagementEvent version, the current one included."""
    versions = {version: fastavro.parse_schema(raw) for version, raw in _raw_versions().items()}
    versions[CURRENT_SCHEMA_ID] = engagement_event_schema()  # the very schema producers write with
    return versions


CURRENT_SCHEMA_ID: int = int(avro_schema("engagement_event")["x-schema-version"])
DEFAULT_SCHEMA_ID = CURRENT_SCHEMA_ID  # what producers write


@functools.lru_cache(maxsize=None)
def _reading_versions() -> dict[int, Any]:
    """{version: parsed schema} to read messages with: each version without its logical types, so a
    timestamp is the long it is on the wire (see ``schemas.without_logical_types``)."""
    return {version: fastavro.parse_schema(without_logical_types(raw)) for version, raw in _raw_versions().items()}


@functools.lru_cache(maxsize=None)
def known_schema_ids() -> frozenset[int]:
    """The schema ids the pipeline accepts unless told otherwise: every version it knows."""
    return frozenset(schema_versions())


@functools.lru_cache(maxsize=None)
def _newest_first() -> tuple[Any, ...]:
    return tuple(_reading_versions()[version] for version in sorted(_reading_versions(), reverse=True))


class WireFormatError(ValueError):
    """A payload that is not an EngagementEvent in either wire format; ``kind`` names the problem."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def encode(record: dict[str, Any], wire_format: str = PLAIN_AVRO, schema_id: int = DEFAULT_SCHEMA_ID,
           schema: Any = None) -> bytes:
    """``record`` in a wire format, written with ``schema`` (default: the current version)."""
    buffer = io.BytesIO()
    if wire_format == CONFLUENT:
        buffer.write(struct.pack(">bI", CONFLUENT_MAGIC, schema_id))
    elif wire_format != PLAIN_AVRO:
        raise ValueError(f"unknown wire format {wire_format!r}; choose one of {', '.join(WIRE_FORMATS)}")
    fastavro.schemaless_writer(buffer, schema or engagement_event_schema(), record)
    return buffer.getvalue()


def _read_exactly(body: bytes, writer: Any) -> dict[str, Any]:
    stream = io.BytesIO(body)
    current = _reading_versions()[CURRENT_SCHEMA_ID]
    # Written with the current schema (the usual case): read without resolving it against itself,
    # which fastavro would only notice after comparing the two schemas, at every record.
    record = fastavro.schemaless_reader(stream, writer, None if writer is current else current)
    if stream.tell() != len(body):
        raise WireFormatError("PARSE_ERROR", f"{len(body) - stream.tell()} bytes left after the Avro record")
    return record


def _read_any_version(body: bytes) -> dict[str, Any]:
    """The record of the newest known version that reads ``body`` exactly."""
    failure = ""
    for writer in _newest_first():
        try:
            return _read_exactly(body, writer)
        except WireFormatError as error:
            failure = failure or str(error)
        except Exception as error:  # truncated or random bytes raise many types inside fastavro
            failure = failure or f"{type(error).__name__}: {error}"
    raise WireFormatError("PARSE_ERROR", f"not an EngagementEvent in Avro binary: {failure}")


def decode(payload: bytes | None, accepted_schema_ids: frozenset[int] | None = None) -> dict[str, Any]:
    """The record in ``payload`` (either wire format, any known version), in the current schema's
    shape; raises WireFormatError. ``accepted_schema_ids`` defaults to every known version."""
    accepted = known_schema_ids() if accepted_schema_ids is None else accepted_schema_ids
    if not payload:
        raise WireFormatError("EMPTY_PAYLOAD", "the message has no value (a tombstone or an empty payload)")
    if payload[0] != CONFLUENT_MAGIC:
        return _read_any_version(payload)
    if len(payload) < 5:
        raise WireFormatError("PARSE_ERROR", "Confluent framing cut short: fewer than 5 bytes")
    (schema_id,) = struct.unpack(">I", payload[1:5])
    if schema_id not in accepted:
        newer = schema_id == max(schema_versions()) + 1  # the next version's id; a registry's are anything
        raise WireFormatError(
            "UNKNOWN_SCHEMA_ID",
            f"schema id {schema_id} is not an EngagementEvent schema this pipeline accepts "
            f"({', '.join(map(str, sorted(accepted)))})"
            + ("; it looks like the next version, newer than this release (upgrade social-mentors to read it)" if newer else "")
            + (f"; if a schema registry assigned it to an EngagementEvent schema, run with --schema-id {schema_id} "
               "(added to the ids read); if no registry did, the value is not this pipeline's Avro: it only starts "
               "with a zero byte" if 1 <= schema_id <= MAX_REGISTRY_ID else
               f"; no schema registry assigns it (their ids run 1..{MAX_REGISTRY_ID}): the message is not "
               "Confluent-framed Avro, only a value starting with a zero byte"),
        )
    body = payload[5:]
    writer = _reading_versions().get(schema_id)
    if writer is None:  # an id a schema registry assigned: any version that reads it exactly
        return _read_any_version(body)
    try:
        return _read_exactly(body, writer)
    except Exception as error:
        # A registry's ids start at 1 too (its first schema is often this release's current one), so
        # an id equal to a version number may frame another version: read it as any version would be.
        failure = error if isinstance(error, WireFormatError) else WireFormatError(
            "PARSE_ERROR", f"not an EngagementEvent of schema {schema_id} in Avro binary: {type(error).__name__}: {error}")
    try:
        return _read_any_version(body)
    except WireFormatError:
        raise failure from None
