"""The run summary, read back from the warehouse, and each run's status in the ``runs`` table.

A run writes ``RUNNING`` to ``runs`` before its pipeline starts. The pipeline counts what became of
every input record from its own outputs and writes the counts to ``run_ledger`` with the rows
(``transforms.ledger``). When the pipeline is done, ``summarize`` reads back what the warehouse holds
for the run (``schemas/queries/run_accounting.sql``): the ledger, the dead letters stored under the
run id, the pair rows of the run. The run is *balanced* only when the pipeline finished, the ledger
balances (records in = scored + skipped + duplicates + dead-lettered), no input had a part whose
records could not be counted (``UNCOUNTED_RECORDS``: records may be missing) and the dead letters (and
refused rows) stored for the run are those the ledger counted; then ``runs`` says ``FINISHED``, with
the counts, else ``FAILED`` with what differs. A killed run stays ``RUNNING``: ``query`` and ``export``
warn that the newest run did not finish (:func:`newest_run_warning`).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Optional

from transforms.events import UNCOUNTED_RECORDS, WAREHOUSE_REFUSED, iso_utc, millis_to_datetime
from transforms.ledger import (
    CREDITS, DEAD_LETTERED, DUPLICATES, KEPT_MORE_COMPLETE, LATE_AUTHOR_REPLIES, PAIR_ROWS, RECORDS_IN, REFUSED,
    SCORED, SKIPPED,
)

RUNNING, FINISHED, FAILED = "RUNNING", "FINISHED", "FAILED"
LAUNCHED = "LAUNCHED"  # handed to Dataflow, which runs it on; the launcher does not see it end (pipelines.dataflow_launch)
log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunSummary:
    """What happened to every input record of a run, as the warehouse holds it."""

    records_in: int
    scored: int
    skipped: dict[str, int]
    duplicates: int
    dead_letters: dict[str, int]  # by error_kind, as the ledger counted them
    pair_score_rows: int  # pair rows of this run that pair_scores_latest shows
    seconds: float
    warehouse: str
    # pair_scores rows the warehouse refused (kept in dead_letters as WAREHOUSE_REFUSED); rows, not
    # input records, so outside the balance of records
    refused_rows: int = 0
    # pair rows not stored (or not shown) because the warehouse holds a row of another run computed
    # from more data: rows, not records
    kept_rows: int = 0
    # streaming: author replies credited to a window already closed (credits, not records)
    late_author_replies: int = 0
    run_started_at: Optional[int] = None
    duplicate_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    # What the warehouse stored for the run; None: not read back (taken to be what was counted)
    stored_dead_letters: Optional[dict[str, int]] = None
    stored_refused_rows: Optional[int] = None
    error: Optional[str] = None  # why the pipeline did not finish

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def dead_letters_total(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def accounted(self) -> int:
        return self.scored + self.skipped_total + self.duplicates + self.dead_letters_total

    def differences(self) -> list[str]:
        """What keeps the run from balancing, in words; empty when it balances."""
        found = []
        if self.error:
            found.append(f"the pipeline did not finish ({self.error})")
        if self.records_in != self.accounted:
            found.append(f"records in {self.records_in:,} but {self.accounted:,} accounted for "
                         "(scored + skipped + duplicates + dead-lettered)")
        uncounted = self.dead_letters.get(UNCOUNTED_RECORDS, 0)
        if uncounted:
            found.append(f"records may be missing: {uncounted:,} damaged part(s) of Avro input files held an unknown "
                         f"number of records, each counted as one ({UNCOUNTED_RECORDS} dead letters say where)")
        stored = self.stored_dead_letters
        if stored is not None and stored != self.dead_letters:
            kinds = sorted(set(stored) | set(self.dead_letters))
            detail = ", ".join(f"{k}: {self.dead_letters.get(k, 0):,} counted, {stored.get(k, 0):,} stored"
                               for k in kinds if stored.get(k, 0) != self.dead_letters.get(k, 0))
            found.append(f"dead letters: {self.dead_letters_total:,} counted, {sum(stored.values()):,} stored "
                         f"for this run ({detail})")
        if self.stored_refused_rows is not None and self.stored_refused_rows != self.refused_rows:
            found.append(f"refused rows: {self.refused_rows:,} counted, {self.stored_refused_rows:,} stored")
        return found

    @property
    def balanced(self) -> bool:
        """Every record is scored, skipped, a duplicate or a dead letter, and what was stored is what
        was counted."""
        return not self.differences()

    @property
    def status(self) -> str:
        return FINISHED if self.balanced else FAILED

    def _duplicate_detail(self, detail) -> str:
        if not any(reason and count for reason, count in self.duplicate_reasons.items()):
            return ""  # only re-delivered events: the common case needs no detail
        return detail({(reason or "same event_id"): count for reason, count in self.duplicate_reasons.items()})

    def render(self) -> str:
        def detail(counts: dict[str, int]) -> str:
            shown = {k: v for k, v in counts.items() if k and v}
            return f" ({', '.join(f'{k}: {v:,}' for k, v in sorted(shown.items()))})" if shown else ""

        rate = self.records_in / self.seconds if self.seconds > 0 else 0.0
        run = f"{iso_utc(self.run_started_at)}  {self.status}" if self.run_started_at is not None else self.status
        lines = [
            "Run summary",
            f"  run             {run}",
            f"  records in      {self.records_in:>12,}",
            f"  scored          {self.scored:>12,}  interactions",
            f"  skipped         {self.skipped_total:>12,}{detail(self.skipped)}",
            f"  duplicates      {self.duplicates:>12,}{self._duplicate_detail(detail)}",
            f"  dead-lettered   {self.dead_letters_total:>12,}{detail(self.dead_letters)}",
            f"  pair rows       {self.pair_score_rows:>12,}  of this run in {self.warehouse}",
            *([f"  kept rows       {self.kept_rows:>12,}  pair rows of this run computed from less data than "
               "a stored row of an earlier run, which was kept"] if self.kept_rows else []),
            *([f"  refused rows    {self.refused_rows:>12,}  pair rows the warehouse refused: see dead_letters "
               "where error_kind = 'WAREHOUSE_REFUSED' for its reasons"] if self.refused_rows else []),
            *([f"  late replies    {self.late_author_replies:>12,}  author replies to comments whose window had "
               "closed (--allowed-lateness): credited to no row; their records are scored"]
              if self.late_author_replies else []),
            f"  time taken      {self.seconds:>12.1f} s  ({rate:,.0f} records/s)",
        ]
        if self.balanced:
            stored = "" if self.stored_dead_letters is None else f"; dead letters stored: {self.dead_letters_total:,}"
            lines.append(f"  accounting      balanced: in = scored + skipped + duplicates + dead-lettered{stored}")
        else:
            lines.append("  accounting      NOT balanced: " + "; ".join(self.differences()))
        return "\n".join(lines)


def _run_param(run_started_at: int) -> dict[str, Any]:
    return {"run": millis_to_datetime(run_started_at)}


def summarize(warehouse_url: str, run_started_at: int, seconds: float, error: Optional[str] = None) -> RunSummary:
    """The summary of run ``run_started_at`` from what the warehouse holds for it: its ledger, and the
    dead letters and pair rows stored under its id."""
    try:
        rows = read_accounting(warehouse_url, run_started_at)
    except Exception as read_error:  # the warehouse may be what failed the run
        rows = []
        error = "; ".join(filter(None, [error, f"the warehouse could not be read back: {read_error}"]))
    return summary_of(rows, warehouse_url, run_started_at, seconds, error)


def read_accounting(warehouse_url: str, run_started_at: int, reader: Any = None) -> list[tuple]:
    """The rows of ``run_accounting.sql`` for the run: (side, outcome, reason, count). ``reader``: a
    warehouse already open to read with (``demo --live`` watches a stream's run read-only)."""
    from warehouse import open_warehouse

    return (reader or open_warehouse(warehouse_url)).query("run_accounting", _run_param(run_started_at))[1]


def summary_of(rows: list[tuple], warehouse_url: str, run_started_at: int, seconds: float,
               error: Optional[str] = None) -> RunSummary:
    """The summary that ``run_accounting.sql``'s rows describe."""
    ledger: dict[str, dict[str, int]] = {}
    stored: dict[str, dict[str, int]] = {}
    for side, outcome, reason, count in rows:
        (ledger if side == "ledger" else stored).setdefault(outcome, {})[reason] = int(count)
    stored_dead = stored.get(DEAD_LETTERED, {})
    pair_rows = stored.get(PAIR_ROWS, {})
    return RunSummary(
        records_in=sum(ledger.get(RECORDS_IN, {}).values()),
        scored=sum(ledger.get(SCORED, {}).values()),
        skipped=ledger.get(SKIPPED, {}),
        duplicates=sum(ledger.get(DUPLICATES, {}).values()),
        duplicate_reasons=ledger.get(DUPLICATES, {}),
        dead_letters=ledger.get(DEAD_LETTERED, {}),
        pair_score_rows=pair_rows.get("of_run", 0) - pair_rows.get("superseded", 0),
        kept_rows=ledger.get(PAIR_ROWS, {}).get(KEPT_MORE_COMPLETE, 0) + pair_rows.get("superseded", 0),
        refused_rows=ledger.get(PAIR_ROWS, {}).get(REFUSED, 0),
        late_author_replies=ledger.get(CREDITS, {}).get(LATE_AUTHOR_REPLIES, 0),
        stored_dead_letters={k: v for k, v in stored_dead.items() if k != WAREHOUSE_REFUSED},
        stored_refused_rows=stored_dead.get(WAREHOUSE_REFUSED, 0),
        seconds=seconds,
        warehouse=warehouse_url,
        run_started_at=run_started_at,
        error=error,
    )


def run_row(run_started_at: int, source: str, status: str, summary: Optional[RunSummary] = None) -> dict[str, Any]:
    """A ``runs`` row: the status of a run, with its counts once it is over."""
    now = int(time.time() * 1000)
    row: dict[str, Any] = {"run_started_at": run_started_at, "status": status, "source": source, "recorded_at": now}
    if summary is not None:
        row.update(
            finished_at=now, records_in=summary.records_in, scored=summary.scored, skipped=summary.skipped_total,
            duplicates=summary.duplicates, dead_lettered=summary.dead_letters_total,
            pair_rows=summary.pair_score_rows, kept_rows=summary.kept_rows, refused_rows=summary.refused_rows,
            message="; ".join(summary.differences()) or None,
        )
    return row


def record_run(warehouse_url: str, row: dict[str, Any]) -> None:
    """Store a run's status; a warehouse that cannot take it is reported, not fatal (the summary says more)."""
    from warehouse import open_warehouse

    try:
        open_warehouse(warehouse_url).record_run(row)
    except Exception as error:
        log.warning("could not record run %s as %s in %s: %s", iso_utc(row["run_started_at"]), row["status"],
                    warehouse_url, error)


def newest_run_warning(warehouse_url: str) -> Optional[str]:
    """A warning when the warehouse's newest run did not finish (still RUNNING, or FAILED): what it
    holds may be partial. None when it finished, or no run is recorded."""
    from warehouse import open_warehouse

    columns, rows = open_warehouse(warehouse_url, read_only=True).query("newest_run", {})
    if not rows:
        return None
    run = dict(zip(columns, rows[0]))
    if run["status"] == FINISHED:
        return None
    started = run["run_started_at"].isoformat(timespec="milliseconds") + "Z"
    why = f": {run['message']}" if run.get("message") else ""
    if run["status"] == RUNNING:
        why = ": still going, or killed"
    return (f"warning: the newest run {started} ({run['source']}) did not finish (status {run['status']}{why}): "
            "results may be partial")
