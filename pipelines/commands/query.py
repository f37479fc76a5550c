"""``query``: the analysts' questions (mentors, regulars, top, pair, history), by id or by name.

Each question is a SQL file of ``schemas/queries`` that runs on DuckDB and BigQuery alike
(``run_query``); this module parses its arguments, resolves names to ids, and prints the rows, the
``pair`` explanation factor by factor, or a hint saying why nothing was found.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any, Callable, Optional

from analysis.actors import NO_NAMES, ActorNames

from pipelines.commands.names import add_actors, load_names, resolve_people, unknown_person_hint, with_names
from pipelines.commands.options import ROWS, add_warehouse, positive_float
from pipelines.commands.output import QUERY_FLOAT_DIGITS, printable, write_rows
from pipelines.commands.warehouse import require_warehouse, warn_if_partial

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
# mentors --reader X finds nothing when X is only ever the mentor side: the query that lists X then
OTHER_SIDE = {"mentors": ("regulars", "mentor", "--author"), "regulars": ("mentors", "mentee", "--reader")}
AS_OF = ("mentors", "regulars", "top", "pair")
QUERY_HELP = {
    "mentors": "the mentors of a reader, by relationship strength",
    "regulars": "the regulars (mentees) of an author, by relationship strength",
    "top": "the strongest relationships of a site, mentor side first",
    "pair": "one relationship explained: strength, each factor with its weight, the mentor side",
    "history": "every window of one pair, both directions",
}


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
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

    return {"query": cmd_query}


def parse_as_of(value: Any) -> Optional[dt.datetime]:
    """A naive UTC datetime from ISO 8601, epoch millis or a datetime; None stays None (the newest data)."""
    from transforms.events import InvalidEvent, to_millis

    if value is None:
        return None
    if isinstance(value, str) and not value.strip():  # `--as-of "$T"` with T unset: say so, never "newest"
        raise ValueError("--as-of is empty: give a time (ISO 8601, e.g. 2026-03-09T12:00:00Z, or epoch "
                         "milliseconds), or leave the option out for the newest data")
    try:
        millis = to_millis(value, "--as-of")
    except InvalidEvent as error:
        raise ValueError(str(error)) from None  # it names --as-of
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)


def run_query(warehouse_url: str, name: str, values: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    from warehouse import open_warehouse

    params = {"site": values.get("site")}
    for param in QUERY_PARAMS[name]:
        params[param] = values[param]
    if name in RANKED:
        params["top"] = values.get("top", 10)
    if name in AS_OF:
        params["as_of"] = parse_as_of(values.get("as_of"))
        params["half_life_days"] = half_life_days_of(values)
    return open_warehouse(warehouse_url, read_only=True).query(name, params)


def half_life_days_of(values: dict[str, Any]) -> float:
    """--half-life-days, else the scoring default."""
    from transforms.score import ScoringConfig

    return values.get("half_life_days") or ScoringConfig().decay_half_life_days


def cmd_query(args: argparse.Namespace) -> int:
    parse_as_of(getattr(args, "as_of", None))  # a wrong --as-of is the first thing to say
    require_warehouse(args.warehouse)
    warn_if_partial(args.warehouse)
    names = load_names(args.actors, args.warehouse)
    people, site = resolve_people({role: getattr(args, role) for role in QUERY_PARAMS[args.query]}, args.site, names)
    columns, rows = run_query(args.warehouse, args.query, {**vars(args), **people, "site": site})
    hints = [] if rows else list(filter(None, (unknown_person_hint(value, role, site, names)
                                               for role, value in people.items())))
    if args.format == "table" and hints:
        pass  # a hint instead of a bare empty table; jsonl and csv keep their (empty) output for programs
    elif args.query == "pair" and args.format == "table":
        _write_pair(columns, rows, names, anchor_given=parse_as_of(getattr(args, "as_of", None)) is not None)
    else:  # computed values: floats rounded (pipelines/commands/output.py says why)
        write_rows(*with_names(columns, rows, names), args.format, float_digits=QUERY_FLOAT_DIGITS)
    for hint in hints:
        print(hint, file=sys.stderr)
    if rows and args.query in AS_OF:
        _note_an_anchor_past_the_data(args, site)
    if not rows and not hints and args.format == "table":
        print(_no_rows_hint(args, people, site, names), file=sys.stderr)
    return 0


def _note_an_anchor_past_the_data(args: argparse.Namespace, site: Optional[str]) -> None:
    """An --as-of so far past the newest data that every weight is under a millionth: the printed
    strengths round to 0 and their order says little, which the table alone does not show."""
    import math

    from warehouse import open_warehouse

    as_of = parse_as_of(getattr(args, "as_of", None))
    if as_of is None:
        return
    newest = open_warehouse(args.warehouse, read_only=True).query("span", {"site": site})[1][0][1]
    if not newest:
        return
    half_life_days = half_life_days_of(vars(args))
    days = (as_of - newest).total_seconds() / 86400  # both naive UTC: parse_as_of's, and every warehouse's rows
    if days > half_life_days * math.log2(1e6):
        print(f"note: --as-of {as_of.isoformat(timespec='seconds')}Z is {int(days):,} days after the newest data "
              f"({newest:%Y-%m-%d}): with a half-life of {half_life_days:g} days every weight is under a millionth, "
              "so the strengths round to 0 and their order means little; give an --as-of within the data, or a "
              "longer --half-life-days", file=sys.stderr)


def _no_rows_hint(args: argparse.Namespace, people: dict[str, str], site: Optional[str], names: ActorNames) -> str:
    """Why a query found nothing: no pair scores at all (nothing run yet, or a migrate's recompute
    pending), no relationship (top), an --as-of before the people's windows (asked again without
    it), else the id or --site."""
    from warehouse import open_warehouse

    if not open_warehouse(args.warehouse, read_only=True).count("pair_scores"):
        return (f"(no rows: the warehouse holds no pair scores yet: `social-mentors run --input EVENTS --warehouse "
                f"{printable(args.warehouse)}` (or --source kafka) fills it; after `warehouse migrate`, run the "
                "recompute it printed)")
    if site is not None and not open_warehouse(args.warehouse, read_only=True).query("span", {"site": site})[1][0][-1]:
        return (f"(no rows: no pair scores on site {printable(site)!r} in this warehouse: check --site; sites are "
                "case-sensitive, and an importer names its site after the folder unless given --site; "
                "`social-mentors sql \"SELECT DISTINCT site FROM pair_scores\"` lists them)")
    as_of = parse_as_of(getattr(args, "as_of", None))
    when = f" as of {as_of.isoformat(timespec='seconds')}Z" if as_of else ""
    if not people:
        where = f" on site {printable(site)}" if site else ""
        return f"(no rows: the warehouse holds no relationship that answered back{where}{when})"
    if as_of and run_query(args.warehouse, args.query, {**vars(args), **people, "site": site, "as_of": None})[1]:
        return (f"(no rows{when}: none of their windows had counted by then; give a later --as-of, "
                "or none for the newest data)")
    other_side = OTHER_SIDE.get(args.query)
    (role,) = QUERY_PARAMS[args.query] if other_side else (None,)
    if other_side and run_query(args.warehouse, other_side[0], {
            **vars(args), "site": site, QUERY_PARAMS[other_side[0]][0]: people[role]})[1]:
        query, side, option = other_side
        person = printable(getattr(args, role))
        actor = "" if getattr(args, role) == people[role] else f" ({printable(people[role])})"  # a name: its id too
        return (f"(no rows{when}: {person!r}{actor} is the {side} side of every relationship here (the side with "
                f"more partners; on a tie, more responses, then the smaller id: `query pair` says which decided): `social-mentors query {query} {option} {person}` lists them)")
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


def _write_pair(columns: list[str], rows: list[tuple], names: ActorNames, anchor_given: bool = False) -> None:
    """One relationship per block, a factor a line: its value, its weight and what its term adds."""
    def stamp(moment: dt.datetime) -> str:
        return moment.isoformat(timespec="seconds") + "Z"

    for row in rows:
        v = dict(zip(columns, row))
        mentor, mentee = (printable(names.label(v["site"], v[side])) for side in ("mentor_id", "mentee_id"))
        # the same time can be either anchor, and they count a window's late replies differently
        anchor = "given: each window as it stood at its end" if anchor_given else "the newest data: every window as it stands"
        print(f"{printable(v['site'])}: {mentor} (mentor) and {mentee}, as of {stamp(v['as_of'])} ({anchor})")
        # the weights as the query used them: this line cannot drift from the SQL
        print(f"  strength {v['strength']:.4f} = ln(1 + {v['comments_weight']:g}*comments + {v['replies_weight']:g}*replies"
              f" + {v['quick_replies_weight']:g}*quick_replies) + {v['mentor_activity_weight']:g}*ln(1 + mentor_activity)"
              f" + {v['mentee_activity_weight']:g}*ln(1 + mentee_activity)")
        print(f"    comments         {v['comments']:>10.4f}  weight {v['comments_weight']:g}")
        print(f"    replies          {v['replies']:>10.4f}  weight {v['replies_weight']:g}")
        print(f"    quick_replies    {v['quick_replies']:>10.4f}  weight {v['quick_replies_weight']:g}")
        print(f"      conversation term adds {v['conversation_part']:.4f}")
        for side in ("mentor_activity", "mentee_activity"):
            print(f"    {side:<16} {v[side]:>10.4f}  weight {v[side + '_weight']:g}  adds {v[side + '_part']:.4f}")
        print(f"  mentor side: {_mentor_side_rule(v['mentor_partners'], v['mentee_partners'])}")
        # an author reply is also one of the replier's reader comments (of the other direction): a part, not more
        print(f"  written to each other: the mentor {v['mentor_comments']} responses ({v['mentor_replies']} answering "
              f"the other's), the mentee {v['mentee_comments']} ({v['mentee_replies']} answering); {v['windows']} "
              f"windows, last {stamp(v['last_interaction_at'])}")
        print(f"  baselines: decayed reader comments {v['decayed_reader_comments']:.4f}, comments + replies "
              f"{v['decayed_comments_and_replies']:.4f}, mentor_score {v['decayed_mentor_score']:.4f}")
