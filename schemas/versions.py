"""The warehouse's schema version: what a warehouse records, and what this release expects.

In: ``schemas/*.avsc`` of the warehouse tables and the SQL of views and table functions. Out: the
version number and a fingerprint of that whole definition. Why both: the number tells operators
which release wrote a warehouse (1 = the first release, which recorded nothing); the fingerprint
catches any change of a table, view or function, even one made without raising the number, so a
run never writes into a warehouse whose shape it does not know. A run stops on any difference and
names ``social-mentors warehouse migrate``.
"""
from __future__ import annotations

import hashlib
import json

import schemas

# Raise it with every change of the warehouse tables, views or table functions.
# 1: release 837bc8c (no version recorded). 2: the version is recorded; dead_letters_latest; the runs
# and run_ledger tables, dead_letters.run_started_at and its wider key. 3: the actors table and its
# actors_latest view (names beside ids, from the warehouse). 4: pair_scores.author_replies_by_window_end
# (replies written by the window's end, so --as-of counts them in a window cut by it; NULL in older rows);
# status counts dead_letters_latest; runs may be LAUNCHED (a job handed to Dataflow). 5: pair_scores'
# reply_latency_p50_s_by_window_end, mentor_score_by_window_end and last_interaction_at_by_window_end
# (each window as it stood at its end: what --as-of counts, so it never depends on later replies).
WAREHOUSE_SCHEMA_VERSION = 5
# Where a warehouse records it: one row per migration, the newest wins.
VERSION_TABLE = "warehouse_schema"
VERSION_COLUMNS = (("version", "BIGINT", "INT64"), ("fingerprint", "VARCHAR", "STRING"),
                   ("recorded_at", "TIMESTAMP", "TIMESTAMP"), ("note", "VARCHAR", "STRING"))


def fingerprint() -> str:
    """12 hex digits over every warehouse table's columns, key and layout, and the SQL of every view
    and query a warehouse defines (analyst, report and status queries: BigQuery's table functions)."""
    definition = {
        "tables": {t: [schemas.bigquery_fields(t), schemas.table_layout(t)] for t in schemas.WAREHOUSE_TABLES},
        "sql": {name: schemas.query_sql(name) for name in schemas.DEFINITIONS},
    }
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]


def migrate_command(url: str) -> str:
    return f"social-mentors warehouse migrate --warehouse {url}"


def recompute_command(url: str) -> str:
    return (f"social-mentors run --input EVENTS --warehouse {url} (or --source kafka ... from the oldest "
            "retained offset): the newer run's rows win in the latest views")


class WarehouseOutdated(RuntimeError):
    """The warehouse was written by another schema version than this release's."""


def refuse_newer(url: str, recorded: tuple[int, str] | None) -> None:
    """Raise WarehouseOutdated when ``recorded`` is a newer release's version: neither a run nor
    ``migrate`` may write to it (migrate would take it back to this release's schema)."""
    if recorded is not None and recorded[0] > WAREHOUSE_SCHEMA_VERSION:
        raise WarehouseOutdated(
            f"the warehouse {url} has schema version {recorded[0]}, newer than this release's "
            f"{WAREHOUSE_SCHEMA_VERSION}: upgrade social-mentors to write to it")


def check(url: str, recorded: tuple[int, str] | None) -> None:
    """Raise WarehouseOutdated unless ``recorded`` (version, fingerprint) is this release's."""
    if recorded is None:
        raise WarehouseOutdated(
            f"the warehouse {url} records no schema version: it was written by an older release (schema "
            f"version 1). This release writes version {WAREHOUSE_SCHEMA_VERSION}: migrate it first with "
            f"`{migrate_command(url)}`")
    refuse_newer(url, recorded)
    version, print_ = recorded
    if version < WAREHOUSE_SCHEMA_VERSION or print_ != fingerprint():
        raise WarehouseOutdated(
            f"the warehouse {url} has schema version {version} ({print_}); this release writes version "
            f"{WAREHOUSE_SCHEMA_VERSION} ({fingerprint()}): migrate it first with `{migrate_command(url)}`")


class DefinitionsChanged(RuntimeError):
    """A view (or table function) of the warehouse is not this release's: someone replaced it."""


def check_definitions(url: str, changed: list[str]) -> None:
    """Raise DefinitionsChanged naming ``changed`` (views whose definition differs from this release's)
    and the command that rebuilds them."""
    if changed:
        raise DefinitionsChanged(
            f"the warehouse {url}: {', '.join(changed)} {'differs' if len(changed) == 1 else 'differ'} from this "
            f"release's definition (replaced by hand?), so what it reads would not be what this release means; "
            f"rebuild with `{migrate_command(url)}`")
