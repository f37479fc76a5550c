"""Write results to the warehouse: pair_scores rows, dead letters and the run ledger, in batches.

A row the warehouse refuses (BigQuery's per-row errors) is not lost: ``WriteScores`` returns it as a
dead letter, with the reason, for ``WriteDeadLetters`` to store. A refused dead letter or ledger row
has nowhere left to go, so it fails the bundle with BigQuery's reason. ``WriteScores`` also returns
how many rows the warehouse did not store because it keeps a row of another run computed from more
data (the embedded warehouse's guard against a restart that replays truncated data); the run ledger
counts both. With ``--bigquery-write storage-exactly-once`` (a BigQuery URL ending
``?write=storage-exactly-once``) each table's rows go through ``transforms.exactly_once_writes``
instead of batches, with the same outputs.
"""
from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

import schemas
from transforms.events import WAREHOUSE_REFUSED, DeadLetter
from warehouse import RefusedRow

# Rows per warehouse write at most: one insertAll request or DuckDB statement; a load job takes more,
# since BigQuery allows a table 1,500 of them a day.
MAX_BATCH_ROWS = 5_000
MAX_BULK_BATCH_ROWS = 50_000
# A bounded run's writes to the embedded warehouse: one upsert statement takes any size, and a batch is
# held as row dicts while it is written (about 2.5 KB a pair_scores row): 50,000 made a 1M-event run's
# peak RSS about 100 MB higher than 10,000 (README, "Speed and scale"); statements cost little more.
MAX_EMBEDDED_BULK_BATCH_ROWS = 10_000
KEPT = "kept"  # WriteScores' output of kept-row counts
# How long a bounded run's writer keeps the embedded warehouse open across batches (one checkpoint
# then, not one per batch; see warehouse.duckdb_connection.held). An analyst's query waits up to a
# minute for the file, so a hold is released well within that.
HOLD_MAX_S = 5.0


def dead_letter_row(dead_letter: DeadLetter, run_started_at: int) -> dict[str, Any]:
    """A DeadLetter as a ``dead_letters`` row of run ``run_started_at``, stamped with its arrival time."""
    row = dead_letter._asdict()
    row["arrived_at"] = int(time.time() * 1000)
    row["run_started_at"] = run_started_at
    return row


def refused_score_dead_letter(row: dict[str, Any], reason: str) -> DeadLetter:
    """A pair_scores row the warehouse refused, as a dead letter naming the row by key, run and pane."""
    key = schemas.table_layout("pair_scores")["primary_key"] + ["run_started_at", "pane_index"]
    origin = "warehouse:pair_scores/" + "/".join(str(row[c]) for c in key)
    return DeadLetter(origin, WAREHOUSE_REFUSED, reason, None, json.dumps(row, sort_keys=True))


_WRITERS = {"pair_scores": "write_scores", "dead_letters": "write_dead_letters", "run_ledger": "write_ledger"}


class WriteBatchFn(beam.DoFn):
    """A batch of rows in; written to one warehouse table. Refused pair_scores rows come out as dead
    letters; the count of rows kept back for a more complete stored row on ``kept``."""

    def __init__(self, warehouse_url: str, table: str, bulk: bool = False):
        self.warehouse_url = warehouse_url
        self.table = table
        self.bulk = bulk
        self.written = Metrics.counter("warehouse", f"{table}_written")
        self.refused = Metrics.counter("warehouse", f"{table}_refused")
        self.kept = Metrics.counter("warehouse", f"{table}_kept_more_complete")
        self.batch_rows = Metrics.distribution("warehouse", f"{table}_batch_rows")

    def setup(self) -> None:
        from warehouse import open_warehouse  # opened on the worker, never pickled

        self.warehouse = open_warehouse(self.warehouse_url)
        self.write = getattr(self.warehouse, _WRITERS[self.table])
        self.hold: Optional[contextlib.ExitStack] = None

    def start_bundle(self) -> None:
        self._release()  # a bundle that failed left its hold

    def process(self, batch: list[dict[str, Any]]) -> Iterable[Any]:
        self.batch_rows.update(len(batch))
        if self.bulk and self.hold is None:  # a bounded run: one connection for a bundle's batches
            self.hold = contextlib.ExitStack()
            self.hold.enter_context(self.warehouse.held_open())
            self.held_since = time.monotonic()
        try:
            refused, kept = self.write(batch, bulk=self.bulk)
        except BaseException:
            self._release()  # the lock is this thread's: a retry on another thread would wait forever
            raise
        if self.hold is not None and time.monotonic() - self.held_since > HOLD_MAX_S:
            self._release()  # let a reader in (and write the file out) now and then
        self.written.inc(len(batch) - len(refused) - kept)
        if kept:
            self.kept.inc(kept)
            yield beam.pvalue.TaggedOutput(KEPT, kept)
        if refused:
            self.refused.inc(len(refused))
        yield from refused_rows_out(self.table, refused)

    def finish_bundle(self) -> None:
        self._release()

    def teardown(self) -> None:
        self._release()

    def _release(self) -> None:
        hold, self.hold = getattr(self, "hold", None), None
        if hold is not None:
            hold.close()


def refused_rows_out(table: str, refused: list[RefusedRow]) -> Iterable[DeadLetter]:
    """Refused pair_scores rows as dead letters; a refused dead letter or ledger row has nowhere left
    to go, so it fails the bundle with the warehouse's reason."""
    if refused and table != "pair_scores":
        raise RuntimeError(f"the warehouse refused {len(refused)} {table} rows, e.g.: {refused[0].reason}")
    for row, reason in refused:
        yield refused_score_dead_letter(row, reason)


def _batched_write(rows: beam.PCollection, warehouse_url: str, table: str, bulk: bool) -> beam.pvalue.DoOutputsTuple:
    from warehouse.bigquery_warehouse import writes_exactly_once

    if writes_exactly_once(warehouse_url):  # --bigquery-write storage-exactly-once
        from transforms.exactly_once_writes import ExactlyOnceWrite

        return rows | "WriteExactlyOnce" >> ExactlyOnceWrite(warehouse_url, table)
    if not (rows.is_bounded and rows.windowing.is_default()):
        # One batch may hold rows of many windows (each row carries its window): batching per window
        # made a streaming run open the warehouse once per window and pane, and fall behind. Rows of a
        # bounded run are in the global window already: re-windowing them cost a step per row.
        rows = rows | "AnyWindow" >> beam.WindowInto(GlobalWindows())
    bulk_rows = MAX_BULK_BATCH_ROWS if warehouse_url.startswith("bigquery://") else MAX_EMBEDDED_BULK_BATCH_ROWS
    return (
        rows
        # Load jobs cost seconds whatever their size, and are counted: always as large as the
        # bundle allows. Streaming inserts: batches sized by Beam to the observed write time.
        | "Batch" >> (beam.BatchElements(min_batch_size=bulk_rows, max_batch_size=bulk_rows)
                      if bulk else beam.BatchElements(min_batch_size=100, max_batch_size=MAX_BATCH_ROWS))
        | "Write" >> beam.ParDo(WriteBatchFn(warehouse_url, table, bulk)).with_outputs(KEPT, main="refused")
    )


class WriteScores(beam.PTransform):
    """``pair_scores`` rows -> the warehouse (one row per pair and window kept, see ``warehouse``);
    returns ``{"refused": the rows it refused as dead letters, "kept": counts of rows not stored for
    a more complete row of another run}``, both in the global window. ``bulk`` writes with BigQuery
    load jobs (a bounded run) instead of streaming inserts."""

    def __init__(self, warehouse_url: str, bulk: bool = False):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.bulk = bulk

    def expand(self, rows: beam.PCollection) -> dict[str, beam.PCollection]:
        written = _batched_write(rows, self.warehouse_url, "pair_scores", self.bulk)
        return {
            "refused": written.refused | "RefusedIntoGlobalWindow" >> beam.WindowInto(GlobalWindows()),
            "kept": written[KEPT] | "KeptIntoGlobalWindow" >> beam.WindowInto(GlobalWindows()),
        }


class WriteDeadLetters(beam.PTransform):
    """DeadLetters of run ``run_started_at`` -> the warehouse's ``dead_letters`` table (``bulk`` as
    for WriteScores)."""

    def __init__(self, warehouse_url: str, run_started_at: int, bulk: bool = False):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.run_started_at = run_started_at
        self.bulk = bulk

    def expand(self, dead_letters: beam.PCollection) -> beam.PCollection:
        run = self.run_started_at
        rows = dead_letters | "ToRows" >> beam.Map(dead_letter_row, run)
        return _batched_write(rows, self.warehouse_url, "dead_letters", self.bulk).refused


class WriteLedgerRows(beam.PTransform):
    """``run_ledger`` rows -> the warehouse (the highest pane of each run, outcome and reason wins)."""

    def __init__(self, warehouse_url: str, bulk: bool = False):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.bulk = bulk

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return _batched_write(rows, self.warehouse_url, "run_ledger", self.bulk).refused
