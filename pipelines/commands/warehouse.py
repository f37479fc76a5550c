"""Commands for analysts and the warehouse: ``export``, ``sql`` and ``warehouse init``, ``migrate``,
``check`` and ``load-actors`` (``query`` is :mod:`pipelines.commands.query`).

Readers (``query``, ``export``, ``report``, ``evaluate``, ``status``) check first that the warehouse is
this release's (``require_warehouse``): one of an older schema version, or with a view replaced,
stops with the exact ``social-mentors warehouse migrate`` command; ``sql`` only warns (it may be
looking at why)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import schemas

from pipelines.commands.names import load_actors_into, read_actors_to_load
from pipelines.commands.options import add_warehouse
from pipelines.commands.output import printable, write_rows


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    warehouse_cmd = commands.add_parser(
        "warehouse", help="create the warehouse's tables and views (init), bring one to this release's schema "
                          "(migrate), say whether it is this release's (check), or load people's names (load-actors)",
        description="init: create a new warehouse's tables, views and table functions (and replace the views "
                    "and functions of a current one). migrate: bring a warehouse of an older release to this "
                    "release's schema, keeping its rows, and rebuild a view someone replaced; it refuses a "
                    "missing warehouse and anything that is not one, and changes nothing in a current one. "
                    "check: read only; exit 0 when the warehouse is this release's, else 2 with what to run. "
                    "load-actors --actors FILE: store the people's names (and signals) in the actors table, where "
                    "query and report find them without --actors.")
    warehouse_cmd.add_argument("action", choices=("init", "migrate", "check", "load-actors"))
    warehouse_cmd.add_argument("--actors", default=None, metavar="FILE",
                               help="load-actors: the people to name, JSONL as `import stackexchange|mbox|disqus "
                                    "--actors-out FILE` writes it; a later load replaces a person's name")
    add_warehouse(warehouse_cmd)

    export = commands.add_parser("export", help="write a whole table to stdout")
    export.add_argument("table", choices=schemas.WAREHOUSE_TABLES)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default jsonl)")
    add_warehouse(export)

    sql = commands.add_parser(
        "sql", help="run one read-only SQL statement on the warehouse",
        description="Run one SELECT (or WITH ... SELECT, DESCRIBE, SHOW) on the warehouse: DuckDB's SQL on a "
                    "DuckDB file, BigQuery's on bigquery:// (unqualified tables are the dataset's). Anything "
                    f"that writes is refused. Tables: {', '.join(schemas.WAREHOUSE_TABLES)}; views: {', '.join(schemas.VIEWS)}.")
    sql.add_argument("statement", help='the SQL, e.g. "SELECT * FROM pair_scores_latest LIMIT 5"')
    sql.add_argument("--format", choices=("table", "jsonl", "csv"), default="table",
                     help="output format (default: table)")
    add_warehouse(sql)
    return {"warehouse": cmd_warehouse, "export": cmd_export, "sql": cmd_sql}


def warehouse_files(url: str) -> list[str]:
    """A DuckDB warehouse's file and its write-ahead log (nothing for BigQuery): inputs that no
    command's output may be written over."""
    if url.startswith("bigquery://"):
        return []
    path = str(Path(url.removeprefix("duckdb://")).expanduser())
    return [path, path + ".wal"]


def require_warehouse(path: str, current: bool = True) -> None:
    """A reader's check before it reads: the warehouse exists and (``current``) is this release's
    (schema version, views); otherwise one line naming the command that fixes it."""
    from warehouse import open_warehouse

    if not path.startswith(("bigquery://",)) and not Path(path.removeprefix("duckdb://")).exists():
        # main() prints it in one line and exits 2: a problem the user can fix
        raise FileNotFoundError(
            f"no warehouse at {path}. Run `social-mentors run --input FILE --warehouse {path}` "
            "(or `social-mentors demo`) first, or pass --warehouse PATH."
        )
    if current:
        open_warehouse(path, read_only=True).check_current()


def warn_if_partial(warehouse_url: str) -> None:
    """Say on stderr when the newest run did not finish: what the warehouse holds may be partial."""
    from pipelines.summary import newest_run_warning

    warning = newest_run_warning(warehouse_url)
    if warning:  # it names the run's source: file names, as stored, may hold control characters
        print(printable(warning), file=sys.stderr)


def cmd_warehouse(args: argparse.Namespace) -> int:
    from schemas import versions
    from warehouse import open_warehouse

    current = f"schema version {versions.WAREHOUSE_SCHEMA_VERSION} ({versions.fingerprint()})"
    if (args.action == "load-actors") != bool(args.actors):
        raise ValueError("--actors FILE goes with load-actors, and load-actors needs it")
    if args.action == "load-actors":
        loaded = load_actors_into(args.warehouse, read_actors_to_load(args.actors), create=False)
        print(printable(f"{args.warehouse}: loaded {loaded:,} actors from {args.actors}; query and report show "
                        "their names beside ids"))
        return 0
    if args.action == "check":
        require_warehouse(args.warehouse)
        if args.warehouse.startswith("bigquery://"):  # the readers compare views; check, the functions too
            versions.check_definitions(args.warehouse, open_warehouse(args.warehouse).changed_table_functions())
        print(f"{args.warehouse}: at {current}, this release's; its views are this release's")
        return 0
    if args.action == "migrate":
        result = open_warehouse(args.warehouse, create=False).migrate()  # never creates a warehouse
        rebuilt = "".join(f"; rebuilt the {'view' if name in schemas.VIEWS else 'table function'} {name}, which "
                          "differed from this release's definition" for name in result.rebuilt)
        if result.changed:
            print(f"{args.warehouse}: at {current}, migrated from schema version {result.from_version}; "
                  f"views and table functions rebuilt{rebuilt}")
        else:
            print(f"{args.warehouse}: already at {current}: nothing to migrate, nothing recorded{rebuilt}")
        for note in result.notes:
            print(f"  note: {note}")
        return 0
    warehouse = open_warehouse(args.warehouse)
    # Creates what is missing (tables from schemas/, the rest from schemas/queries); the views and
    # table functions are replaced with the repository's SQL. An older warehouse: migrate first.
    warehouse.prepare(update_definitions=True)
    if args.warehouse.startswith("bigquery://"):
        queries = f"table functions {', '.join(schemas.ANALYST_QUERIES)} (or run `social-mentors query`)"
    else:
        queries = f"queries {', '.join(schemas.ANALYST_QUERIES)} (run with `social-mentors query`)"
    print(f"{args.warehouse}: tables {', '.join(schemas.WAREHOUSE_TABLES)}; views {', '.join(schemas.VIEWS)}; {queries}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse import open_warehouse

    require_warehouse(args.warehouse)
    warn_if_partial(args.warehouse)
    warehouse = open_warehouse(args.warehouse, read_only=True)
    if hasattr(warehouse, "export_batches"):  # DuckDB: Arrow batches, formatted column by column
        from pipelines.commands.columnar_output import write_batches

        columns, batches = warehouse.export_batches(args.table)
        count = write_batches(columns, batches, args.format)
    else:  # BigQuery: row by row (the same bytes: tests/pipelines/commands/test_warehouse.py)
        columns, rows = warehouse.export(args.table)
        count = write_rows(columns, rows, args.format)
    print(f"exported {count:,} rows of {args.table}", file=sys.stderr)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from schemas.versions import DefinitionsChanged, WarehouseOutdated, migrate_command
    from warehouse import NotAWarehouse, open_warehouse

    require_warehouse(args.warehouse, current=False)
    warehouse = open_warehouse(args.warehouse, read_only=True)
    outdated = None
    try:  # sql reads any DuckDB file, and may be looking at why a warehouse is not current: it warns
        warehouse.check_current()
    except NotAWarehouse:
        pass
    except (WarehouseOutdated, DefinitionsChanged) as error:
        outdated = str(error)
        print(f"warning: {outdated}", file=sys.stderr)
    try:
        columns, rows = warehouse.sql(args.statement)
    except ValueError as error:
        if outdated:  # the statement may have failed because of it: the one error line names the fix first
            raise ValueError(f"the warehouse is not this release's (see the warning): run `{migrate_command(args.warehouse)}` "
                             f"first; the statement failed: {error}") from error
        raise
    write_rows(columns, rows, args.format)
    return 0
