"""`run`'s checks of its warehouse before the pipeline starts. In: the --warehouse URL and the
window length the run would write; out: nothing, or one error line (a ValueError, exit 2) said
before any work, not after a run that cannot write or would mix window lengths."""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from pipelines.commands.output import printable


def check_warehouse(url: str, window_s: float) -> None:
    """Open the warehouse for writing now, so a locked, read-only or unreachable warehouse is
    reported before the pipeline runs, not after. A DuckDB file is also prepared now (a new one
    gets its tables; one of another schema version stops the run naming `warehouse migrate`): it is
    local and cheap. BigQuery's preparation issues DDL jobs, so it is left to run_scoring's launch,
    once per run; its version is checked now (reads only), and a dataset without the tables holds
    no windows. Then windows of another length than the warehouse's are refused (check_window)."""
    from warehouse import NotInitialised, open_warehouse

    if not url.startswith("bigquery://"):
        from warehouse.duckdb_warehouse import DuckDBWarehouse

        warehouse = DuckDBWarehouse(str(Path(url.removeprefix("duckdb://")).expanduser()),
                                    lock_retry_s=PREFLIGHT_LOCK_WAIT_S)
        warehouse.prepare()
    else:
        warehouse = open_warehouse(url)
        try:
            warehouse.check_initialised()
        except NotInitialised:  # created at launch: it holds no windows yet
            return
    check_window(url, warehouse, window_s)


def warehouse_exists(url: str) -> bool:
    """Whether check_warehouse(url) creates nothing: BigQuery's check only reads (its dataset is
    created at launch); a DuckDB file not there yet would be created by it."""
    return url.startswith("bigquery://") or Path(url.removeprefix("duckdb://")).expanduser().exists()


def check_window(url: str, warehouse: Any, window_s: float) -> None:
    """Refuse windows of another length than those ``pair_scores`` holds: rows are keyed by window
    start, so a weekly and a daily row of one pair would both stand, and every reader (the latest
    view, `query pair`'s strength, the default anchor) would add them up. An empty warehouse takes any."""
    from pipelines.settings import describe_duration

    _, rows = warehouse.sql("SELECT DISTINCT window_start, window_end FROM pair_scores")
    held = sorted({round(_seconds(end) - _seconds(start), 3) for start, end in rows})
    if held and held != [window_s]:
        lengths = " and ".join(describe_duration(length) for length in held)
        same = f", or the same --window {describe_duration(held[0])}" if len(held) == 1 else ""
        raise ValueError(
            f"{printable(url)} holds {lengths} windows and this run would write {describe_duration(window_s)} ones "
            f"(--window {describe_duration(window_s)}): rows of two lengths would both count, inflating every "
            f"pair's strength; write to another --warehouse{same}")


def _seconds(moment: Any) -> float:
    """A window bound in epoch seconds: DuckDB and BigQuery return naive UTC datetimes."""
    if isinstance(moment, datetime.datetime):
        return moment.replace(tzinfo=moment.tzinfo or datetime.timezone.utc).timestamp()
    return moment / 1000  # epoch millis


PREFLIGHT_LOCK_WAIT_S = 5.0  # a writer holding the file between two of its writes lets go sooner
