"""Commands for analysts and the warehouse: ``query``, ``export``, ``sql`` and ``warehouse init``,
``migrate`` and ``check``.

Readers (``query``, ``export``, ``report``, ``evaluate``, ``status``) check first that the warehouse is
this release's (``require_warehouse``): one of an older schema version, or with a view replaced,
stops with the exact ``social-mentors warehouse migrate`` command; ``sql`` only warns (it may be
looking at why)."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import schemas
from analysis.actors import NO_NAMES, ActorNames

from pipelines.commands.names import (add_actors, load_actors_into, load_names, read_actors_to_load, resolve_people,
                                      unknown_person_hint, with_names)
from pipelines.commands.options import ROWS, add_warehouse, positive_float
from pipelines.commands.output import QUERY_FLOAT_DIGITS, printable, write_rows

# Each query's own arguments; every one also takes --site. The ranked ones (and pair) take --as-of
# and --half-life-days, and all ranked ones --top.
QUERY_PARAMS = {
    "mentors": ("reader",),
    "regulars": ("author",),
    "top": (),
    "pair": ("author", "reader"),
    "history": ("author", "reader"),
}
RANKED = ("mentors", "regulars", "top")
AS_OF = ("mentors", "regulars", "top", "pair")
QUERY_HELP = {
    "mentors": "the mentors of a reader, by relationship strength",
    "regulars": "the regulars (mentees) of an author, by relationship strength",
    "top": "the strongest relationships of a site, mentor side first",
    "pair": "one relationship explained: strength, each factor with its weight, the mentor side",
    "history": "every window of one pair, both directions",
}


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

    query = commands.add_parser("query", help=f"ask the warehouse: {', '.join(QUERY_PARAMS)}")
    query_kinds = query.add_subparsers(dest="query", required=True)
    for name, needed in QUERY_PARAMS.items():
        q = query_kinds.add_parser(name, help=QUERY_HELP[name])
        for param in needed:
            q.add_argument(f"--{param}", required=True,
                           help=f"the {param}'s id, as in the warehouse (case-sensitive), or their name (from the warehouse's "
                                "actors or --actors)")
        q.add_argument("--site", default=None, help="only this site (default: every site)")
        if name in RANKED:
            q.add_argument("--top", type=ROWS, default=10, help="rows to print (default 10)")
        if name in AS_OF:
            q.add_argument("--as-of", default=None, metavar="TIME",
                           help="rank as of this time, ISO 8601 or epoch ms (default: the newest data in the warehouse)")
            q.add_argument("--half-life-days", type=positive_float, default=None, help="decay half-life (default 14)")
        q.add_argument("--format", choices=("table", "jsonl", "csv"), default="table", help="output format (default table)")
        add_actors(q)
        add_warehouse(q)

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
    return {"warehouse": cmd_warehouse, "query": cmd_query, "export": cmd_export, "sql": cmd_sql}


def parse_as_of(value: Any) -> Optional[dt.datetime]:
    """A naive UTC datetime from ISO 8601, epoch millis or a datetime; None stays None (the newest data)."""
    from transforms.events import InvalidEvent, to_millis

    if value is None or value == "":
        return None
    try:
        millis = to_millis(value, "--as-of")
    except InvalidEvent as error:
        raise ValueError(str(error)) from None  # it names --as-of
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)


def run_query(warehouse_url: str, name: str, values: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    from transforms.score import ScoringConfig
    from warehouse import open_warehouse

    params = {"site": values.get("site")}
    for param in QUERY_PARAMS[name]:
        params[param] = values[param]
    if name in RANKED:
        params["top"] = values.get("top", 10)
    if name in AS_OF:
        params["as_of"] = parse_as_of(values.get("as_of"))
        params["half_life_days"] = values.get("half_life_days") or ScoringConfig().decay_half_life_days
    return open_warehouse(warehouse_url, read_only=True).query(name, params)


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


def _warn_if_partial(warehouse_url: str) -> None:
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


def cmd_query(args: argparse.Namespace) -> int:
    require_warehouse(args.warehouse)
    _warn_if_partial(args.warehouse)
    names = load_names(args.actors, args.warehouse)
    people, site = resolve_people({role: getattr(args, role) for role in QUERY_PARAMS[args.query]}, args.site, names)
    columns, rows = run_query(args.warehouse, args.query, {**vars(args), **people, "site": site})
    hints = [] if rows else list(filter(None, (unknown_person_hint(value, role, site, names)
                                               for role, value in people.items())))
    if args.format == "table" and hints:
        pass  # a hint instead of a bare empty table; jsonl and csv keep their (empty) output for programs
    elif args.query == "pair" and args.format == "table":
        _write_pair(columns, rows, names)
    else:  # computed values: floats rounded (pipelines/commands/output.py says why)
        write_rows(*with_names(columns, rows, names), args.format, float_digits=QUERY_FLOAT_DIGITS)
    for hint in hints:
        print(hint, file=sys.stderr)
    if not rows and not hints and args.format == "table":
        print(_no_rows_hint(args, people, site, names), file=sys.stderr)
    return 0


def _no_rows_hint(args: argparse.Namespace, people: dict[str, str], site: Optional[str], names: ActorNames) -> str:
    """Why a query found nothing: no relationship (top), an --as-of before the people's windows
    (asked again without it), else the id or --site."""
    as_of = parse_as_of(getattr(args, "as_of", None))
    when = f" as of {as_of.isoformat(timespec='seconds')}Z" if as_of else ""
    if not people:
        where = f" on site {printable(site)}" if site else ""
        return f"(no rows: the warehouse holds no relationship that answered back{where}{when})"
    if as_of and run_query(args.warehouse, args.query, {**vars(args), **people, "site": site, "as_of": None})[1]:
        return (f"(no rows{when}: none of their windows had counted by then; give a later --as-of, "
                "or none for the newest data)")
    named = [f"{printable(getattr(args, role))!r} ({printable(actor)})" for role, actor in people.items()
             if getattr(args, role) != actor]
    if named:  # the name was found: the person is right, they just have no such rows
        where = f" on site {printable(site)}" if site else ""
        return f"(no rows: {' and '.join(named)} {'has' if len(named) == 1 else 'have'} none{where}{when})"
    if names is NO_NAMES:  # a name means nothing here yet
        return ("(no rows: check the id and --site; ids are case-sensitive; to ask by name, load the names first: "
                "`social-mentors warehouse load-actors --actors FILE`)")
    return "(no rows: check the id and --site; ids are case-sensitive)"


def _mentor_side_rule(mentor_partners: int, mentee_partners: int) -> str:
    """Why this side is the mentor, as _pair_strength.sql decides it."""
    if mentor_partners == mentee_partners:
        partners = f"{mentor_partners} partner{'' if mentor_partners == 1 else 's'} each"
        return f"{partners}, a tie: decided by more responses written on the site, then the smaller id"
    return f"{mentor_partners} partners against {mentee_partners} (more partners = mentor)"


def _write_pair(columns: list[str], rows: list[tuple], names: ActorNames) -> None:
    """One relationship per block, a factor a line: its value, its weight and what its term adds."""
    def stamp(moment: dt.datetime) -> str:
        return moment.isoformat(timespec="seconds") + "Z"

    for row in rows:
        v = dict(zip(columns, row))
        mentor, mentee = (printable(names.label(v["site"], v[side])) for side in ("mentor_id", "mentee_id"))
        print(f"{printable(v['site'])}: {mentor} (mentor) and {mentee}, as of {stamp(v['as_of'])}")
        # the weights as the query used them: this line cannot drift from the SQL
        print(f"  strength {v['strength']:.4f} = ln(1 + {v['comments_weight']:g} comments + {v['replies_weight']:g} replies"
              f" + {v['quick_replies_weight']:g} quick_replies) + {v['mentor_activity_weight']:g} ln(1 + mentor_activity)"
              f" + {v['mentee_activity_weight']:g} ln(1 + mentee_activity)")
        print(f"    comments         {v['comments']:>10.4f}  weight {v['comments_weight']:g}")
        print(f"    replies          {v['replies']:>10.4f}  weight {v['replies_weight']:g}")
        print(f"    quick_replies    {v['quick_replies']:>10.4f}  weight {v['quick_replies_weight']:g}")
        print(f"      conversation term adds {v['conversation_part']:.4f}")
        for side in ("mentor_activity", "mentee_activity"):
            print(f"    {side:<16} {v[side]:>10.4f}  weight {v[side + '_weight']:g}  adds {v[side + '_part']:.4f}")
        print(f"  mentor side: {_mentor_side_rule(v['mentor_partners'], v['mentee_partners'])}")
        print(f"  written to each other: mentor {v['mentor_comments']} comments, {v['mentor_replies']} replies; "
              f"mentee {v['mentee_comments']} comments, {v['mentee_replies']} replies; {v['windows']} windows, "
              f"last {stamp(v['last_interaction_at'])}")
        print(f"  baselines: decayed reader comments {v['decayed_reader_comments']:.4f}, comments + replies "
              f"{v['decayed_comments_and_replies']:.4f}, mentor_score {v['decayed_mentor_score']:.4f}")


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse import open_warehouse

    require_warehouse(args.warehouse)
    _warn_if_partial(args.warehouse)
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
