"""Write results to the warehouse: pair_scores rows and dead letters, batched per bundle."""
from __future__ import annotations

import time
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.events import DeadLetter

FLUSH_EVERY = 5_000


def dead_letter_row(dead_letter: DeadLetter) -> dict[str, Any]:
    """A DeadLetter as a ``dead_letters`` row, stamped with its arrival time."""
    row = dead_letter._asdict()
    row["arrived_at"] = int(time.time() * 1000)
    return row


class WriteRowsFn(beam.DoFn):
    """Rows in; written to one warehouse table in batches (upserts for pair_scores)."""

    def __init__(self, warehouse_url: str, table: str):
        self.warehouse_url = warehouse_url
        self.table = table
        self.written = Metrics.counter("warehouse", f"{table}_written")

    def setup(self) -> None:
        from warehouse import open_warehouse  # opened on the worker, never pickled

        warehouse = open_warehouse(self.warehouse_url)
        self.write = warehouse.write_scores if self.table == "pair_scores" else warehouse.write_dead_letters

    def start_bundle(self) -> None:
        self.buffer: list[dict[str, Any]] = []

    def process(self, row: dict[str, Any]) -> Iterable[None]:
        self.buffer.append(row)
        if len(self.buffer) >= FLUSH_EVERY:
            self._flush()
        return ()

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self.buffer:
            self.write(self.buffer)
            self.written.inc(len(self.buffer))
            self.buffer = []


class WriteScores(beam.PTransform):
    """``pair_scores`` rows -> the warehouse (newest pane per pair and window kept)."""

    def __init__(self, warehouse_url: str):
        super().__init__()
        self.warehouse_url = warehouse_url

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | "UpsertPairScores" >> beam.ParDo(WriteRowsFn(self.warehouse_url, "pair_scores"))


class WriteDeadLetters(beam.PTransform):
    """DeadLetters -> the warehouse's ``dead_letters`` table."""

    def __init__(self, warehouse_url: str):
        super().__init__()
        self.warehouse_url = warehouse_url

    def expand(self, dead_letters: beam.PCollection) -> beam.PCollection:
        return (
            dead_letters
            | "ToRows" >> beam.Map(dead_letter_row)
            | "AppendDeadLetters" >> beam.ParDo(WriteRowsFn(self.warehouse_url, "dead_letters"))
        )
