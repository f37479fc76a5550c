"""Display names beside ids: the actors file that importers who know names write
(``import stackexchange|mbox|disqus --actors-out FILE``), read for `query --actors` and `report --actors`,
or loaded into the warehouse's ``actors`` table (`run --actors`, `warehouse load-actors`), where
`query` and `report` find the names without a file.

In: JSONL, one ``{"actor_id": ..., "name": ...[, "site": ..., "signal": ...]}`` a line (the file
`evaluate --actors` reads). Out: :class:`ActorNames`, which finds a person's name and, the other
way, the ids that go by a name.

Ids stay authoritative: names are shown beside them, never instead, because names are neither unique
nor stable. Names come from strangers: they are shortened here, and escaped where they are shown
(HTML by the report, control characters by ``pipelines.commands.output.printable`` on a terminal).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, TypeVar

from transforms.events import MAX_ID_LENGTH

T = TypeVar("T")

MAX_NAME_LENGTH = 80  # a display name longer than a table column is an attack or a mistake


def _shortened(name: str) -> str:
    return name if len(name) <= MAX_NAME_LENGTH else name[:MAX_NAME_LENGTH - 1] + "…"


@dataclass
class ActorNames:
    """Names by (site, actor_id); a record without a site names the actor on every site."""

    names: dict[tuple[Optional[str], str], str] = field(default_factory=dict)

    def name(self, site: Optional[str], actor_id: str) -> Optional[str]:
        """The person's name, or None when the file does not name them."""
        return self.names.get((site, actor_id)) or self.names.get((None, actor_id))

    def label(self, site: Optional[str], actor_id: str) -> str:
        """``name (id)`` as the Stack Exchange pages write it, or the id alone when unnamed."""
        name = self.name(site, actor_id)
        return f"{name} ({actor_id})" if name else actor_id

    def ids_named(self, name: str, site: Optional[str] = None) -> list[str]:
        """Every id going by ``name`` (exactly as written) on ``site`` (None: any site), sorted."""
        return sorted({actor for (actor_site, actor), known in self.names.items()
                       if known == name and (site is None or actor_site in (None, site))})

    def sites_named(self, name: str) -> list[str]:
        """The sites where someone goes by ``name`` (exactly as written), sorted; a record without a
        site names no site here (it names the actor on every site)."""
        return sorted({actor_site for (actor_site, _), known in self.names.items()
                       if known == name and actor_site is not None})

    def knows_id(self, actor_id: str, site: Optional[str] = None) -> bool:
        return any(actor == actor_id and (site is None or actor_site in (None, site))
                   for actor_site, actor in self.names)


NO_NAMES = ActorNames()


def read_actors_file(path: Path, want: str, parse: Callable[[dict], T]) -> Iterator[T]:
    """``parse`` of each record of an actors file (JSONL; blank lines skipped); a line it cannot
    parse is an error naming the line and what a line should hold (``want``)."""
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}:{number}: not UTF-8 text ({error.reason} at byte {error.start}); "
                                 "an actors file is JSON lines") from None
            if not line.strip():
                continue
            try:
                yield parse(json.loads(line))
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise ValueError(f"{path}:{number}: want a JSON object with {want} ({error})") from None


def finite_signal(actor_id: str, value: object) -> float:
    """``value`` as a signal: a finite JSON number. A string ("100"), true/false, NaN or Infinity
    (which Python's JSON reader accepts) is an error naming the actor: a NaN compares false with
    everything, so it would quietly count as a lower signal in every pair of ``evaluate``."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer past a float's range
            pass
    if number is None or not math.isfinite(number):
        shown = json.dumps(value)
        raise ValueError(f"actor {actor_id!r}: signal {shown if len(shown) <= 40 else shown[:39] + '…'} "
                         "is not a finite number")
    return number


def read_actor_rows(path: Path, loaded_at_ms: int) -> list[dict]:
    """The records of an actors file as rows of the warehouse's ``actors`` table: site ("" for a
    record without one: the id on every site), id, name (shortened; None when absent or blank) and
    signal (None when absent; a signal that is not a number is an error naming the line)."""

    def row(record: dict) -> dict:
        site, name, signal = record.get("site"), record.get("name"), record.get("signal")
        if not str(record["actor_id"]).strip():
            raise ValueError("a blank actor_id names no one")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string or null, got {type(name).__name__}")
        for what, value in (("actor_id", str(record["actor_id"])), ("site", site if isinstance(site, str) else "")):
            if len(value) > MAX_ID_LENGTH:  # an event's id this long is a dead letter: no pair holds it
                raise ValueError(f"{what} longer than {MAX_ID_LENGTH} characters")
        return {"site": site if isinstance(site, str) else "", "actor_id": str(record["actor_id"]),
                "name": _shortened(name.strip()) if isinstance(name, str) and name.strip() else None,
                "signal": None if signal is None else finite_signal(str(record["actor_id"]), signal),
                "loaded_at": loaded_at_ms}

    return list(read_actors_file(path, "actor_id, and optionally site, name and a numeric signal", row))


def names_of_rows(rows: Iterable[tuple[str, str, Optional[str]]]) -> ActorNames:
    """ActorNames of (site, actor_id, name) rows as the warehouse's ``actors_latest`` holds them
    (site "" names the id on every site; rows without a name are left out)."""
    return ActorNames({(site or None, actor): name for site, actor, name in rows if name})


def read_actor_names(path: Path) -> ActorNames:
    """The names of an actors file; records without a name (a pseudonymized import) are left out,
    a line that is not a JSON object with an actor_id is an error naming the line."""
    names: dict[tuple[Optional[str], str], str] = {}
    fields = read_actors_file(path, "actor_id and name",
                              lambda record: (str(record["actor_id"]), record.get("name"), record.get("site")))
    for actor, name, site in fields:
        if isinstance(name, str) and name.strip():
            names[(site if isinstance(site, str) else None, actor)] = _shortened(name.strip())
    return ActorNames(names)
