"""Names for `query` and `report`: beside ids, and a name accepted for an id.

The names come from ``--actors FILE`` (the file `import stackexchange|mbox|disqus --actors-out FILE`
writes, ``analysis.actors``), else from the warehouse's ``actors`` table (loaded from such a file by
`run --actors` or `warehouse load-actors`). Ids stay
authoritative: `query` adds a ``<role>_name`` column right after each id column and keeps the id;
a name given for ``--reader``/``--author`` is turned into its id (and says so on stderr) only when
exactly one person goes by it. Ids are per site: a name the file gives on one site only keeps the
query to that site, and names on different sites are refused (a pair never crosses sites).
"""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any, Optional

from analysis.actors import NO_NAMES, ActorNames, names_of_rows, read_actor_names
from pipelines.commands.output import printable

# the id columns of the analyst queries, each with the name column it gets
ACTOR_COLUMNS = {"mentor_id": "mentor_name", "mentee_id": "mentee_name", "author_id": "author_name",
                 "reader_id": "reader_name"}


def add_actors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actors", default=None, metavar="FILE",
                        help="JSONL naming the people, e.g. from `import stackexchange|mbox|disqus --actors-out FILE`: "
                             "names are shown beside ids and accepted for them (default: the names the warehouse "
                             "holds, loaded by `run --actors` or `warehouse load-actors`; else ids only)")


def load_names(path: Optional[str], warehouse_url: Optional[str] = None) -> ActorNames:
    """The names the warehouse at ``warehouse_url`` holds (its actors_latest view), with those of
    ``path`` over them person by person (a file naming a few people hides no one else's name)."""
    names: dict = {}
    if warehouse_url is not None:
        from warehouse import open_warehouse

        _, rows = open_warehouse(warehouse_url, read_only=True).sql(
            "SELECT site, actor_id, name FROM actors_latest WHERE name IS NOT NULL")
        names.update(names_of_rows(rows).names)
    if path:
        names.update(read_actor_names(Path(path)).names)
    return ActorNames(names) if names else NO_NAMES


def read_actors_to_load(path: str) -> list[dict]:
    """The whole actors file as rows of the ``actors`` table, read before anything is written or
    created: a bad line stops the command with nothing changed."""
    import time

    from analysis.actors import read_actor_rows

    rows = read_actor_rows(Path(path), int(time.time() * 1000))
    kept: dict[tuple[str, str], tuple] = {}
    differing = []
    for row in rows:  # the warehouse keeps one record a person: say when the file disagrees with itself
        key, value = (row["site"], row["actor_id"]), (row["name"], row["signal"])
        if key in kept and kept[key] != value:
            differing.append(key)
        kept[key] = value
    note_differing(path, differing, "name or signal")
    return rows


def note_differing(path: str, differing: list[tuple[Optional[str], str]], what: str) -> None:
    """Say on stderr that an actors file gives people (site, actor_id) more than one ``what``; the
    last line of each is the one kept. Nothing when ``differing`` is empty."""
    if differing:
        site, actor = differing[0]
        print(printable(f"note: {path} gives {len(set(differing)):,} people more than one {what} (e.g. "
                        f"{actor!r}{' on site ' + site if site else ''}): the last line of each is kept"),
              file=sys.stderr)


def load_actors_into(url: str, rows: list[dict], create: bool = True) -> int:
    """Store ``rows`` (:func:`read_actors_to_load`) in the warehouse's ``actors`` table; returns how
    many. The warehouse is prepared first, as a run's launch prepares it (one of another schema
    version stops here, naming `warehouse migrate`); without ``create`` (`warehouse load-actors`) a
    warehouse that does not exist is refused, not created, so a mistyped path is not a new file."""
    from warehouse import open_warehouse

    warehouse = open_warehouse(url, create=create)
    if not create and url.startswith("bigquery://"):
        warehouse.check_initialised()
    warehouse.prepare()
    warehouse.write_actors(rows)
    return len(rows)


def with_names(columns: list[str], rows: list[tuple], names: ActorNames) -> tuple[list[str], list[tuple]]:
    """``columns`` and ``rows`` with a name column after each actor id column (None where unnamed)."""
    if names is NO_NAMES:
        return columns, rows
    site_at = columns.index("site") if "site" in columns else None
    id_columns = [i for i, c in enumerate(columns) if c in ACTOR_COLUMNS]
    named_columns = []
    for i, column in enumerate(columns):
        named_columns.append(column)
        if i in id_columns:
            named_columns.append(ACTOR_COLUMNS[column])
    named_rows = []
    for row in rows:
        site = row[site_at] if site_at is not None else None
        values: list[Any] = []
        for i, value in enumerate(row):
            values.append(value)
            if i in id_columns:
                values.append(names.name(site, value) if value is not None else None)
        named_rows.append(tuple(values))
    return named_columns, named_rows


def resolve_people(values: dict[str, str], site: Optional[str],
                   names: ActorNames) -> tuple[dict[str, str], Optional[str]]:
    """The ids ``values`` (role -> id or name) stand for, and the site the query keeps to: ``site``,
    or without it the one site where the names given are names (an id means that id on every site,
    as before). A name on several sites asks for --site; names on different sites are refused;
    ``--author`` and ``--reader`` that are the same person are refused."""
    if names is not NO_NAMES and site is None:
        found = {role: names.sites_named(value) for role, value in values.items() if not names.knows_id(value)}
        found = {role: sites for role, sites in found.items() if sites}
        if found:
            common = sorted(set.intersection(*map(set, found.values())))
            if not common:
                where = " and ".join(f"--{role} {printable(values[role])!r} is a name on {_sites(sites)}"
                                     for role, sites in found.items())
                raise ValueError(f"{where}: pairs never cross sites; give two people of one site")
            if len(common) > 1:
                who = " and ".join(f"--{role} {printable(values[role])!r}" for role in found)
                raise ValueError(f"{who} {'is a name' if len(found) == 1 else 'are names'} on {_sites(common)}: "
                                 "give --site")
            site = common[0]
    people = {role: resolve_person(value, role, site, names) for role, value in values.items()}
    if "author" in people and people.get("author") == people.get("reader"):
        given = ("--author and --reader are" if values["author"] == values["reader"] else
                 f"--author {printable(values['author'])!r} and --reader {printable(values['reader'])!r} are")
        raise ValueError(f"{given} the same person, {printable(people['author'])!r}: a pair is two people")
    return people, site


def _sites(sites: list[str]) -> str:
    return f"site{'s' if len(sites) > 1 else ''} {', '.join(map(printable, sites))}"


def resolve_person(value: str, role: str, site: Optional[str], names: ActorNames) -> str:
    """The id ``value`` stands for: itself when it is an id (or no name matches), else the one id
    going by that name. Several people with the name: an error listing their ids."""
    if names is NO_NAMES or names.knows_id(value, site):
        return value
    ids = names.ids_named(value, site)
    if len(ids) > 1:
        raise ValueError(f"--{role} {printable(value)!r} names {len(ids)} people ({', '.join(map(printable, ids))}): "
                         "give the id")
    if ids:
        on_site = f" on site {printable(site)}" if site is not None else ""
        print(f"--{role} {printable(value)!r} is actor {printable(ids[0])}{on_site}", file=sys.stderr)
        return ids[0]
    return value


def unknown_person_hint(value: str, role: str, site: Optional[str], names: ActorNames) -> Optional[str]:
    """A hint for a ``--reader``/``--author`` that is neither an id nor a name in the file: the
    closest names, or None when the file knows it (or there is no file)."""
    if names is NO_NAMES or names.knows_id(value, site) or names.ids_named(value, site):
        return None
    known = {name: (s, actor) for (s, actor), name in names.names.items() if site is None or s in (None, site)}
    close = [names.label(*known[name]) for name in difflib.get_close_matches(value, list(known), n=3)]
    suggestion = f"; did you mean {', '.join(printable(c) for c in close)}?" if close else ""
    elsewhere = [other for other in names.sites_named(value) if other != site]
    if site is not None and elsewhere:  # --site keeps the query off the site where the name is
        suggestion = f"; it is a name on {_sites(elsewhere)}{suggestion}"
    on_site = f" on site {printable(site)}" if site is not None else ""
    return f"--{role} {printable(value)!r} is neither an id nor a name{on_site} among the actors{suggestion}"
