"""Write results to the warehouse: pair_scores rows and dead letters, in batches of up to 5,000.

A row the warehouse refuses (BigQuery's per-row errors) is not lost: ``WriteScores`` returns it as a
dead letter, with the reason, for ``WriteDeadLetters`` to store. A refused dead letter has nowhere
left to go, so it fails the bundle with BigQuery's reason.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

import schemas
from transforms.events import WAREHOUSE_REFUSED, DeadLetter

# Rows per warehouse write at most: one insertAll request or DuckDB statement; a load job takes more,
# since BigQuery allows a table 1,500 of them a day.
MAX_BATCH_ROWS = 5_000
MAX_BULK_BATCH_ROWS = 50_000


def dead_letter_row(dead_letter: DeadLetter) -> dict[str, Any]:
    """A DeadLetter as a ``dead_letters`` row, stamped with its arrival time."""
    row = dead_letter._asdict()
    row["arrived_at"] = int(time.time() * 1000)
    return row


def refused_score_dead_letter(row: dict[str, Any], reason: str) -> DeadLetter:
    """A pair_scores row the warehouse refused, as a dead letter naming the row by key, run and pane."""
    key = schemas.table_layout("pair_scores")["primary_key"] + ["run_started_at", "pane_index"]
    origin = "warehouse:pair_scores/" + "/".join(str(row[c]) for c in key)
    return DeadLetter(origin, WAREHOUSE_REFUSED, reason, None, json.dumps(row, sort_keys=True))


class WriteBatchFn(beam.DoFn):
    """A batch of rows in; written to one warehouse table (upserts for pair_scores). Refused
    pair_scores rows come out as dead letters."""

    def __init__(self, warehouse_url: str, table: str, bulk: bool = False, row_writes: str = "streaming"):
        self.warehouse_url = warehouse_url
        self.table = table
        self.bulk = bulk
        self.row_writes = row_writes
        self.written = Metrics.counter("warehouse", f"{table}_written")
        self.refused = Metrics.counter("warehouse", f"{table}_refused")

    def setup(self) -> None:
        from warehouse import open_warehouse  # opened on the worker, never pickled

        warehouse = open_warehouse(self.warehouse_url)
        if hasattr(warehouse, "row_writes"):  # BigQuery: insertAll or the Storage Write API
            warehouse.row_writes = self.row_writes
        self.write = warehouse.write_scores if self.table == "pair_scores" else warehouse.write_dead_letters

    def process(self, batch: list[dict[str, Any]]) -> Iterable[DeadLetter]:
        refused = self.write(batch, bulk=self.bulk)
        self.written.inc(len(batch) - len(refused))
        if not refused:
            return
        self.refused.inc(len(refused))
        if self.table != "pair_scores":
            raise RuntimeError(f"the warehouse refused {len(refused)} {self.table} rows, e.g.: {refused[0].reason}")
        for row, reason in refused:
            yield refused_score_dead_letter(row, reason)


def _batched_write(rows: beam.PCollection, warehouse_url: str, table: str, bulk: bool,
                   row_writes: str = "streaming") -> beam.PCollection:
    return (
        rows
        # Load jobs cost seconds whatever their size, and are counted: always as large as the
        # bundle allows. Streaming inserts: batches sized by Beam to the observed write time.
        | "Batch" >> (beam.BatchElements(min_batch_size=MAX_BULK_BATCH_ROWS, max_batch_size=MAX_BULK_BATCH_ROWS)
                      if bulk else beam.BatchElements(min_batch_size=100, max_batch_size=MAX_BATCH_ROWS))
        | "Write" >> beam.ParDo(WriteBatchFn(warehouse_url, table, bulk, row_writes))
    )


class WriteScores(beam.PTransform):
    """``pair_scores`` rows -> the warehouse (newest pane per pair and window kept); returns the rows
    it refused as dead letters, in the global window beside the other dead letters. ``bulk`` writes
    with BigQuery load jobs (a bounded run) instead of streaming inserts."""

    def __init__(self, warehouse_url: str, bulk: bool = False, row_writes: str = "streaming"):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.bulk = bulk
        self.row_writes = row_writes

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return (
            _batched_write(rows, self.warehouse_url, "pair_scores", self.bulk, self.row_writes)
            | "RefusedIntoGlobalWindow" >> beam.WindowInto(GlobalWindows())
        )


class WriteDeadLetters(beam.PTransform):
    """DeadLetters -> the warehouse's ``dead_letters`` table (``bulk`` as for WriteScores)."""

    def __init__(self, warehouse_url: str, bulk: bool = False, row_writes: str = "streaming"):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.bulk = bulk
        self.row_writes = row_writes

    def expand(self, dead_letters: beam.PCollection) -> beam.PCollection:
        rows = dead_letters | "ToRows" >> beam.Map(dead_letter_row)
        return _batched_write(rows, self.warehouse_url, "dead_letters", self.bulk, self.row_writes)
