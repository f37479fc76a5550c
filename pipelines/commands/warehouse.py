"""Commands for analysts and the warehouse: ``query``, ``export`` and ``warehouse init``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from pipelines.commands.options import add_warehouse
from pipelines.commands.output import write_rows

QUERY_PARAMS = {
    "mentors": ("reader",),
    "regulars": ("author",),
    "pair": ("author", "reader"),
}


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    warehouse_cmd = commands.add_parser(
        "warehouse", help="create the warehouse's tables and views (init), or bring one to this release's schema (migrate)")
    warehouse_cmd.add_argument("action", choices=("init", "migrate"))
    add_warehouse(warehouse_cmd)

    query = commands.add_parser("query", help="ask the warehouse: mentors, regulars, pair")
    query_kinds = query.add_subparsers(dest="query", required=True)
    for name, needed in QUERY_PARAMS.items():
        q = query_kinds.add_parser(name)
        for param in needed:
            q.add_argument(f"--{param}", required=True)
        q.add_argument("--site", default=None)
        if name != "pair":
            q.add_argument("--top", type=int, default=10)
            q.add_argument("--half-life-days", type=float, default=None, help="decay half-life (default 14)")
        q.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")
        add_warehouse(q)

    export = commands.add_parser("export", help="write a whole table to stdout")
    export.add_argument("table", choices=("pair_scores", "dead_letters", "run_ledger", "runs"))
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    add_warehouse(export)
    return {"warehouse": cmd_warehouse, "query": cmd_query, "export": cmd_export}


def run_query(warehouse_url: str, name: str, values: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    from transforms.score import ScoringConfig
    from warehouse import open_warehouse

    params = {"site": values.get("site")}
    for param in QUERY_PARAMS[name]:
        params[param] = values[param]
    if name != "pair":
        params["top"] = values.get("top", 10)
        params["half_life_days"] = values.get("half_life_days") or ScoringConfig().decay_half_life_days
    return open_warehouse(warehouse_url).query(name, params)


def _require_warehouse(path: str) -> None:
    if not path.startswith(("bigquery://",)) and not Path(path.removeprefix("duckdb://")).exists():
        raise SystemExit(
            f"error: no warehouse at {path}. Run `social-mentors run --input FILE --warehouse {path}` "
            "(or `social-mentors demo`) first, or pass --warehouse PATH."
        )


def _warn_if_partial(warehouse_url: str) -> None:
    """Say on stderr when the newest run did not finish: what the warehouse holds may be partial."""
    from pipelines.summary import newest_run_warning

    warning = newest_run_warning(warehouse_url)
    if warning:
        print(warning, file=sys.stderr)


def cmd_warehouse(args: argparse.Namespace) -> int:
    import schemas
    from schemas import versions
    from warehouse import open_warehouse

    warehouse = open_warehouse(args.warehouse)
    if args.action == "migrate":
        notes = warehouse.migrate()
        print(f"{args.warehouse}: at schema version {versions.WAREHOUSE_SCHEMA_VERSION} ({versions.fingerprint()}); "
              "views and table functions rebuilt")
        for note in notes:
            print(f"  note: {note}")
        return 0
    # Creates what is missing (tables from schemas/, the rest from schemas/queries); the views and
    # table functions are replaced with the repository's SQL. An older warehouse: migrate first.
    warehouse.prepare(update_definitions=True)
    if args.warehouse.startswith("bigquery://"):
        queries = f"table functions {', '.join(schemas.ANALYST_QUERIES)} (or run `social-mentors query`)"
    else:
        queries = f"queries {', '.join(schemas.ANALYST_QUERIES)} (run with `social-mentors query`)"
    print(f"{args.warehouse}: tables {', '.join(schemas.WAREHOUSE_TABLES)}; views {', '.join(schemas.VIEWS)}; {queries}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    _require_warehouse(args.warehouse)
    _warn_if_partial(args.warehouse)
    columns, rows = run_query(args.warehouse, args.query, vars(args))
    write_rows(columns, rows, args.format)
    if not rows and args.format == "table":
        print("(no rows: check the id and --site; ids are case-sensitive)", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse import open_warehouse

    _require_warehouse(args.warehouse)
    _warn_if_partial(args.warehouse)
    columns, rows = open_warehouse(args.warehouse).export(args.table)
    count = write_rows(columns, rows, args.format)
    print(f"exported {count:,} rows of {args.table}", file=sys.stderr)
    return 0
