"""Rows into BigQuery through the Storage Write API (``--bigquery-write storage``).

In: warehouse rows (dicts, timestamps as epoch millis) for one table. Out: the rows stored, and the
rows BigQuery refused with its per-row reason (``RefusedRow``), as for streaming inserts. Why: the
Storage Write API is the successor of ``insertAll``: cheaper per GiB, with a free monthly allowance.

* ``append_default``: the table's **default stream**, at-least-once. A retried bundle appends its
  rows again; the latest views keep one row per key, as they do for load jobs.
* ``append_committed``: a **committed stream** with an explicit offset. Appending at an offset that
  already holds rows is refused by BigQuery with ALREADY_EXISTS, so a retry of the same rows at the
  same offset adds nothing: exactly-once, provided the writer keeps the stream and offsets where a
  retry finds them. ``transforms/exactly_once_writes.py`` does (``--bigquery-write
  storage-exactly-once``): a stream per shard made at launch, the offset in Beam state.

Rows travel as protocol buffers built from ``schemas/*.avsc`` (proto2, every field optional, so a
missing required value is BigQuery's per-row error, not the client's). TIMESTAMP is microseconds.
When BigQuery refuses rows it refuses the whole request and names the bad rows; the others are sent
again, as ``insertAll``'s stopped rows are.

``BIGQUERY_STORAGE_EMULATOR_HOST`` (``HOST:PORT``, plaintext gRPC) points the client at an emulator.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Iterator, Optional

import schemas
from warehouse import RefusedRow

MAX_APPEND_ATTEMPTS = 3
_PROTO_TYPES = {"STRING": "TYPE_STRING", "INT64": "TYPE_INT64", "FLOAT64": "TYPE_DOUBLE", "BOOL": "TYPE_BOOL",
                "TIMESTAMP": "TYPE_INT64", "BYTES": "TYPE_BYTES"}


def write_client():
    from google.cloud import bigquery_storage_v1

    emulator = os.environ.get("BIGQUERY_STORAGE_EMULATOR_HOST")
    if not emulator:
        return bigquery_storage_v1.BigQueryWriteClient()
    import grpc
    from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport

    return bigquery_storage_v1.BigQueryWriteClient(
        transport=BigQueryWriteGrpcTransport(channel=grpc.insecure_channel(emulator)))


@functools.lru_cache(maxsize=None)
def _message(table: str) -> tuple[Any, Any]:
    """(DescriptorProto, message class) of a table's rows."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.DescriptorProto(name=f"{table}_row")
    for number, field in enumerate(schemas.bigquery_fields(table), start=1):
        proto.field.add(name=field["name"], number=number,
                        type=getattr(descriptor_pb2.FieldDescriptorProto, _PROTO_TYPES[field["type"]]),
                        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    file = descriptor_pb2.FileDescriptorProto(name=f"social_mentors_{table}.proto", package="social_mentors",
                                              syntax="proto2")
    file.message_type.add().CopyFrom(proto)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return proto, message_factory.GetMessageClass(pool.FindMessageTypeByName(f"social_mentors.{table}_row"))


@functools.lru_cache(maxsize=None)
def _required(table: str) -> tuple[str, ...]:
    return tuple(f["name"] for f in schemas.bigquery_fields(table) if f["mode"] == "REQUIRED")


def _serialize(table: str, row: dict[str, Any]) -> bytes:
    """One row as protocol buffer bytes; raises TypeError/ValueError for a value of the wrong type."""
    _, message_class = _message(table)
    stamps = set(schemas.timestamp_fields(table))
    # Refused here, the same way on every attempt: a committed stream's retry must send what the first
    # attempt sent (BigQuery's own refusal of a row would shift the offsets of an exactly-once retry).
    for name in _required(table):
        if row.get(name) is None:
            raise ValueError(f"{name}: required, but missing")
    message = message_class()
    for name, value in row.items():
        if value is None:
            continue
        try:
            setattr(message, name, value * 1000 if name in stamps else value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: {value!r}: {error}") from None
    return message.SerializeToString()


class StorageWriter:
    """Appends to the tables of one dataset through the Storage Write API."""

    def __init__(self, project: str, dataset: str):
        self.project, self.dataset = project, dataset
        self.client = write_client()

    def table_path(self, table: str) -> str:
        return f"projects/{self.project}/datasets/{self.dataset}/tables/{table}"

    def _request(self, stream: str, table: str, payload: list[bytes], offset: Optional[int]):
        from google.cloud.bigquery_storage_v1 import types

        proto, _ = _message(table)
        request = types.AppendRowsRequest(
            write_stream=stream,
            proto_rows=types.AppendRowsRequest.ProtoData(
                writer_schema=types.ProtoSchema(proto_descriptor=proto),
                rows=types.ProtoRows(serialized_rows=payload)))
        if offset is not None:
            request.offset = offset
        return request

    def _append(self, stream: str, table: str, rows: list[dict[str, Any]], offset: Optional[int]) -> tuple[list[RefusedRow], bool]:
        """(refused rows, whether the rows were there already); sends the valid rows until stored."""
        refused: list[RefusedRow] = []
        pending: list[tuple[dict[str, Any], bytes]] = []
        for row in rows:
            try:
                pending.append((row, _serialize(table, row)))
            except (TypeError, ValueError) as error:
                refused.append(RefusedRow(row, f"{table}.{error}"))
        for _ in range(MAX_APPEND_ATTEMPTS):
            if not pending:
                return refused, False
            (response,) = list(self._responses(stream, table, [p for _, p in pending], offset))
            if response.row_errors:
                bad = {e.index: e.message for e in response.row_errors}
                refused += [RefusedRow(row, f"{table}: {bad[i]}") for i, (row, _) in enumerate(pending) if i in bad]
                pending = [p for i, p in enumerate(pending) if i not in bad]
                continue
            if response.error.code:
                from google.rpc import code_pb2

                if response.error.code == code_pb2.ALREADY_EXISTS and offset is not None:
                    return refused, True  # this offset holds rows: an earlier attempt stored them
                if response.error.code == code_pb2.OUT_OF_RANGE and offset is not None:
                    raise RuntimeError(
                        f"offset {offset} is beyond the end of committed stream {stream} of {table}: the offset "
                        f"kept in Beam state and the stream disagree (rows BigQuery refused on an earlier attempt "
                        f"were counted, or another writer or job appended to it); nothing was appended. "
                        f"BigQuery: {response.error.message}")
                raise RuntimeError(f"BigQuery's Storage Write API refused an append to {table}: "
                                   f"{response.error.message}; the runner will retry the bundle")
            return refused, False
        raise RuntimeError(f"BigQuery kept refusing appends to {table}; the runner will retry the bundle")

    def _responses(self, stream: str, table: str, payload: list[bytes], offset: Optional[int]) -> Iterator[Any]:
        return self.client.append_rows(iter([self._request(stream, table, payload, offset)]))

    def append_default(self, table: str, rows: list[dict[str, Any]]) -> list[RefusedRow]:
        """Append to the table's default stream (at-least-once); returns the rows BigQuery refused."""
        if not rows:
            return []
        refused, _ = self._append(f"{self.table_path(table)}/streams/_default", table, rows, None)
        return refused

    def create_committed_stream(self, table: str) -> str:
        from google.cloud.bigquery_storage_v1 import types

        stream = self.client.create_write_stream(
            parent=self.table_path(table), write_stream=types.WriteStream(type_=types.WriteStream.Type.COMMITTED))
        return stream.name

    def append_committed(self, stream: str, table: str, rows: list[dict[str, Any]], offset: int) -> tuple[list[RefusedRow], bool]:
        """Append at ``offset`` of a committed stream: (refused rows, True when the offset already
        held rows, i.e. a retry that adds nothing)."""
        return self._append(stream, table, rows, offset)
