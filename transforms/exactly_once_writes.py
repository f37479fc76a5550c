"""Rows into BigQuery exactly once (``--bigquery-write storage-exactly-once``): committed streams of the
Storage Write API, appended at offsets kept in Beam state.

In: the rows of one warehouse table (dicts, as ``transforms.sink`` writes them). Out: as the other
write modes (``transforms.sink.WriteBatchFn``): pair_scores rows BigQuery refused as WAREHOUSE_REFUSED
dead letters on ``refused``; a refused dead letter or ledger row fails the bundle; nothing on ``kept``
(BigQuery keeps every row; the views choose).

The design of Beam Java's Storage Write API sink (its sharded-records path), adapted:

1. ``KeyByShard``: each row keyed by a fixed shard, a stable hash (CRC-32) of its insert id mod
   ``shards``, so a row goes to the same shard on every attempt.
2. ``StableShardBatches``: a GroupByKey per shard that fires for whatever has arrived (Java's
   Reshuffle: repeatedly after one element, discarding, lateness to the end of time). A shuffle is a
   checkpoint on Dataflow: the batches the write reads are stored before it runs, so a retried write
   gets the same batch, not one rebuilt from a redelivered input in another order or mixed with
   newer rows. Beam Python's own Reshuffle allows no lateness: rows that arrive once the global
   window's end has passed were dropped by it (measured: a TestStream run on the
   BundleBasedDirectRunner lost all its run_ledger rows, emitted as the watermark reached the end;
   a drained stream's last panes come the same way). A bounded run gets one batch per shard, all
   its rows, whatever order they came in (FnApiRunner, measured).
3. ``AppendAtOffset`` (AppendAtOffsetFn), stateful per shard: the shard's committed stream and its
   next offset in Beam state. A batch, sorted by insert id (the same rows in the same order on every
   attempt), is appended in chunks from the stored offset; the offset is advanced after the appends.
   A bundle that fails after an append never commits the advanced offset: its retry appends the
   same rows at the same offsets, BigQuery answers ALREADY_EXISTS, and nothing is added.

The streams are created at launch (``create_shard_streams``, one per table and shard), not in a
bundle: a stream created in a bundle that then fails would be forgotten with the bundle's state, and
the retry would append its rows again to a new stream. A stream is therefore one run's: a new run
(or an updated job, whose state names the old stream) starts new streams at offset 0.
"""
from __future__ import annotations

import zlib
from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.trigger import AccumulationMode, AfterCount, Repeatedly
from apache_beam.transforms.window import GlobalWindows, TimestampCombiner
from apache_beam.utils.timestamp import Duration

from warehouse.bigquery_warehouse import insert_id

__all__ = ["AppendAtOffsetFn", "ExactlyOnceWrite", "create_shard_streams", "insert_id"]

# Streams per table and run: shards append in parallel; each shard's appends wait for one another.
DEFAULT_SHARDS = 8
MAX_APPEND_ROWS = 5_000  # rows per append (a request is at most 10 MB)
# Rows may reach the write after the global window's end (see StableShardBatches): Java's Reshuffle
# allows lateness to the end of time; GlobalWindow.end plus this is past Beam's largest timestamp.
LATENESS_TO_THE_END_OF_TIME_S = 2 * 86_400


def create_shard_streams(warehouse_url: str, table: str, shards: int) -> list[str]:
    """One new committed stream of ``table`` per shard (at launch, see the module docstring)."""
    from warehouse import open_warehouse

    writer = open_warehouse(warehouse_url).storage_writer()
    return [writer.create_committed_stream(table) for _ in range(shards)]


def shard_of(table: str, row: dict[str, Any], shards: int) -> int:
    """The row's shard: the same on every attempt and every worker (Python's hash() is salted)."""
    return zlib.crc32(insert_id(table, row).encode()) % shards


class AppendAtOffsetFn(beam.DoFn):
    """(shard, rows) in, appended at the shard's offset of its committed stream; refused pair_scores
    rows out as dead letters. State per shard: the stream (an updated job's state may name another
    run's) and the next offset."""

    STREAM = ReadModifyWriteStateSpec("stream", StrUtf8Coder())
    NEXT_OFFSET = ReadModifyWriteStateSpec("next_offset", VarIntCoder())

    def __init__(self, warehouse_url: str, table: str, streams: list[str]):
        self.warehouse_url = warehouse_url
        self.table = table
        self.streams = streams
        self.written = Metrics.counter("warehouse", f"{table}_written")
        self.refused = Metrics.counter("warehouse", f"{table}_refused")
        self.already = Metrics.counter("warehouse", f"{table}_already_written")
        # The same figures on the instance, for tests that call process() as a runner would.
        self.appended_rows = self.already_written_rows = 0

    def setup(self) -> None:
        from warehouse import open_warehouse  # opened on the worker, never pickled

        self.writer = open_warehouse(self.warehouse_url).storage_writer()

    def process(self, element: tuple[int, list[dict[str, Any]]], stream_state=beam.DoFn.StateParam(STREAM),
                offset_state=beam.DoFn.StateParam(NEXT_OFFSET)) -> Iterable[Any]:
        from transforms.sink import refused_rows_out

        shard, rows = element
        stream = self.streams[shard]
        offset: Optional[int] = offset_state.read() if stream_state.read() == stream else None
        offset = offset or 0
        rows = sorted(rows, key=lambda row: insert_id(self.table, row))
        refused, stored, already_stored = [], 0, 0
        for start in range(0, len(rows), MAX_APPEND_ROWS):
            chunk = rows[start:start + MAX_APPEND_ROWS]
            chunk_refused, already_written = self.writer.append_committed(stream, self.table, chunk, offset)
            refused += chunk_refused
            offset += len(chunk) - len(chunk_refused)
            if already_written:  # a retry: an earlier attempt appended these rows, its state was lost
                already_stored += len(chunk) - len(chunk_refused)
            else:
                stored += len(chunk) - len(chunk_refused)
        stream_state.write(stream)
        offset_state.write(offset)
        self.written.inc(stored)
        self.already.inc(already_stored)
        self.appended_rows += stored
        self.already_written_rows += already_stored
        if refused:
            self.refused.inc(len(refused))
        yield from refused_rows_out(self.table, refused)


class StableShardBatches(beam.PTransform):
    """(shard, row) -> (shard, [rows]): what has arrived of each shard, checkpointed by a shuffle
    (see the module docstring, 2)."""

    def expand(self, keyed: beam.PCollection) -> beam.PCollection:
        return (
            keyed
            | "EveryElementFires" >> beam.WindowInto(
                GlobalWindows(), trigger=Repeatedly(AfterCount(1)), accumulation_mode=AccumulationMode.DISCARDING,
                timestamp_combiner=TimestampCombiner.OUTPUT_AT_EARLIEST,
                allowed_lateness=Duration(seconds=LATENESS_TO_THE_END_OF_TIME_S))
            | "Shuffle" >> beam.GroupByKey()
            | "AsLists" >> beam.MapTuple(lambda shard, rows: (shard, list(rows))).with_output_types(
                tuple[int, list[dict[str, Any]]])
        )


class ExactlyOnceWrite(beam.PTransform):
    """Rows of ``table`` -> BigQuery through committed streams with offsets (see the module
    docstring); returns the outputs of ``transforms.sink``'s writes: ``refused`` and ``kept``."""

    def __init__(self, warehouse_url: str, table: str, shards: int = DEFAULT_SHARDS):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.table = table
        self.shards = shards

    def expand(self, rows: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        from transforms.sink import KEPT

        table, shards = self.table, self.shards
        streams = create_shard_streams(self.warehouse_url, table, shards)  # at launch, as the pipeline is built
        return (
            rows
            | "AnyWindow" >> beam.WindowInto(GlobalWindows())  # a shard's offset spans windows
            | "KeyByShard" >> beam.Map(lambda row: (shard_of(table, row, shards), row)).with_output_types(
                tuple[int, dict[str, Any]])
            | "StableShardBatches" >> StableShardBatches()
            | "AppendAtOffset" >> beam.ParDo(AppendAtOffsetFn(self.warehouse_url, table, streams)).with_outputs(
                KEPT, main="refused")
        )
