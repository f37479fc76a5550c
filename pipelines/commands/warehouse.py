"""Commands for analysts and the warehouse: ``query``, ``export`` and ``warehouse init``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from pipelines.commands.options import add_warehouse, positive_float, positive_int
from pipelines.commands.output import write_rows

QUERY_PARAMS = {
    "mentors": ("reader",),
    "regulars": ("author",),
    "pair": ("author", "reader"),
}


QUERY_HELP = {
    "mentors": "a reader's social mentors: authors ranked by relationship strength",
    "regulars": "an author's regulars: readers ranked by how steadily they come back",
    "pair": "every window of one author-reader pair",
}


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    warehouse_cmd = commands.add_parser("warehouse", help="create the warehouse's tables and views")
    warehouse_cmd.add_argument("action", choices=("init",))
    add_warehouse(warehouse_cmd)

    query = commands.add_parser("query", help="ask the warehouse: mentors, regulars, pair")
    query_kinds = query.add_subparsers(dest="query", required=True)
    for name, needed in QUERY_PARAMS.items():
        q = query_kinds.add_parser(name, help=QUERY_HELP[name])
        for param in needed:
            q.add_argument(f"--{param}", required=True, help=f"the {param}'s id, as in the warehouse (case-sensitive)")
        q.add_argument("--site", default=None, help="only this site (default: every site)")
        if name != "pair":
            q.add_argument("--top", type=positive_int, default=10, help="rows to print (default 10)")
            q.add_argument("--half-life-days", type=positive_float, default=None, help="decay half-life (default 14)")
        q.add_argument("--format", choices=("table", "jsonl", "csv"), default="table", help="output format (default table)")
        add_warehouse(q)

    export = commands.add_parser("export", help="write a whole table to stdout")
    export.add_argument("table", choices=("pair_scores", "dead_letters", "run_ledger", "runs"))
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default jsonl)")
    add_warehouse(export)

    sql = commands.add_parser(
        "sql", help="run one read-only SQL statement on the warehouse",
        description="Run one SELECT (or WITH ... SELECT, DESCRIBE, SHOW) on the warehouse: DuckDB's SQL on a "
                    "DuckDB file, BigQuery's on bigquery:// (unqualified tables are the dataset's). Anything "
                    "that writes is refused. Tables: pair_scores, dead_letters; view: pair_scores_latest.")
    sql.add_argument("statement", help='the SQL, e.g. "SELECT * FROM pair_scores_latest LIMIT 5"')
    sql.add_argument("--format", choices=("table", "jsonl", "csv"), default="table",
                     help="output format (default: table)")
    add_warehouse(sql)
    return {"warehouse": cmd_warehouse, "query": cmd_query, "export": cmd_export, "sql": cmd_sql}


def run_query(warehouse_url: str, name: str, values: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    from transforms.score import ScoringConfig
    from warehouse import open_warehouse

    params = {"site": values.get("site")}
    for param in QUERY_PARAMS[name]:
        params[param] = values[param]
    if name != "pair":
        params["top"] = values.get("top", 10)
        params["half_life_days"] = values.get("half_life_days") or ScoringConfig().decay_half_life_days
    return open_warehouse(warehouse_url, read_only=True).query(name, params)


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
    from warehouse import open_warehouse

    warehouse = open_warehouse(args.warehouse)  # creates what is missing: tables from schemas/, the rest from schemas/queries
    if args.warehouse.startswith("bigquery://"):
        warehouse.ensure(update_definitions=True)  # the view and table functions as the repository has them now
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
    columns, rows = open_warehouse(args.warehouse, read_only=True).export(args.table)
    count = write_rows(columns, rows, args.format)
    print(f"exported {count:,} rows of {args.table}", file=sys.stderr)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from warehouse import open_warehouse

    _require_warehouse(args.warehouse)
    columns, rows = open_warehouse(args.warehouse).sql(args.statement)
    write_rows(columns, rows, args.format)
    return 0
