"""Reddit dumps (Pushshift-style NDJSON, or CSV, of submissions and comments) to events.

A submission (no parent_id) is a POST; a comment is a COMMENT when its parent_id is the submission
(t3_...) and a REPLY when it is another comment (t1_...); the thread is the submission (link_id).
"[deleted]" and "[removed]" authors are skipped and counted. Files are read twice, streaming: once to
index id -> (author, time), once to emit; memory grows with the number of records, not their text.
Lines are read in bounded memory: a line over ``max_line_bytes`` (default 1 MiB) is a counted skip
(line_too_long), and so is a CSV row spanning one; a record that is not a JSON object, or whose ids
and author are not text, is a malformed_row. An author gets the checks of every importer's actor ids
(:mod:`importers.ids`): blank (no_author_id), longer than an id may be (actor_id_too_long), or holding
control or format characters (bad_actor_id) is a counted skip, and a reply to such a record is
parent_author_invalid. The site is the subreddit (or --site).

Subreddits are named as Reddit names them, so that a look-alike name never joins a community it is
not: ASCII letters, digits and ``_``, 2 to 21 characters, not starting with ``_`` (Reddit's rule is 3
to 21; two-letter language subreddits are older), or a user profile's ``u_`` and a user name (3 to 20
ASCII letters, digits, ``_`` and ``-``); case-insensitive, so the site is the name in lower case. A
record whose subreddit is anything else (a fullwidth or Cyrillic letter, a zero-width space, a blank)
is a counted skip, bad_subreddit, never folded into the name it looks like. A comment whose parent, or
whose thread's submission, is in another subreddit is a counted skip, parent_in_other_subreddit: a
comment answers within its own subreddit, whatever ``--site`` says.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import deque
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from importers.core import Item, Skipped, event
from importers.ids import actor_id_problem
from importers.lines import DEFAULT_MAX_LINE_BYTES, bounded_lines

DELETED = {"[deleted]", "[removed]", "", None}
INVALID_AUTHOR = "\0invalid author"  # in the index: an author that is no actor id (importers.ids)


TOO_LONG = "line_too_long"
_BOM = b"\xef\xbb\xbf"
_TEXT_FIELDS = ("name", "author", "parent_id", "link_id", "subreddit")
_SUBREDDIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}|u_[A-Za-z0-9_-]{3,20}", re.ASCII)
BAD_SUBREDDIT = "\0bad subreddit"  # a subreddit that is not a name Reddit allows


def subreddit_of(record: dict[str, Any]) -> Optional[str]:
    """The record's subreddit as Reddit identifies it (lower case), None when it names none, or
    BAD_SUBREDDIT when the name is not one Reddit allows."""
    name = record.get("subreddit")
    if name is None:
        return None
    return name.lower() if _SUBREDDIT.fullmatch(name) else BAD_SUBREDDIT


def _records(path: Path, limit: int) -> Iterator[tuple[str, Any]]:
    """(origin, record, or None when the line or row is malformed, or TOO_LONG)."""
    with open(path, "rb") as raw:
        if path.suffix == ".csv":
            yield from _csv_records(path.name, raw, limit)
            return
        for number, line in bounded_lines(raw, limit):
            if line is None:
                yield f"{path.name}:{number}", TOO_LONG
                continue
            if number == 1 and line.startswith(_BOM):  # a byte-order mark is not part of the first record
                line = line[len(_BOM):]
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):  # not JSON, too deep, or an int past Python's digit limit
                record = None
            yield f"{path.name}:{number}", _checked(record)


def _csv_records(name: str, raw: Any, limit: int) -> Iterator[tuple[str, Any]]:
    """CSV rows; a row that spans an over-long physical line is TOO_LONG (the line is never held).

    A quote left open (a stray '"') makes csv take every later line as the text of that field, to the
    end of the file or past csv's field limit. So a row over several lines is believed only when it
    has the header's width and none of its later lines is a row of that width on its own: otherwise
    its first line is a malformed row and its later lines are read again as rows of their own."""
    too_long: set[int] = set()
    source = bounded_lines(raw, limit)
    replay: deque[tuple[int, str]] = deque()  # lines taken by a broken row, to be read again
    taken: list[tuple[int, str]] = []  # the physical lines of the row being read

    def lines() -> Iterator[str]:
        while True:
            if replay:
                number, text = replay.popleft()
            else:
                try:
                    number, line = next(source)
                except StopIteration:
                    return
                if line is None:
                    too_long.add(number)
                    text = "\n"  # a stand-in, so that line counts stay true
                else:
                    text = line.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace")
            taken.append((number, text))
            yield text

    header: Optional[list[str]] = None
    reader = csv.reader(lines())
    while True:
        taken.clear()
        try:
            row: Optional[list[str]] = next(reader)
        except StopIteration:
            return
        except csv.Error:  # a field over csv's own size limit, a NUL byte, ...
            row = None
        if not taken:
            return
        first = taken[0][0]
        if too_long.intersection(number for number, _ in taken):
            yield f"{name}:{first}", TOO_LONG
            continue
        if header is None:
            header = row or []
            continue
        if len(taken) > 1 and (row is None or len(row) != len(header) or _holds_rows(taken[1:], len(header))):
            yield f"{name}:{first}", None
            replay.extendleft(reversed(taken[1:]))
            reader = csv.reader(lines())  # the old reader is inside the broken quote
            continue
        if row:  # a row of another width than the header is malformed
            yield f"{name}:{first}", _checked(dict(zip(header, row))) if len(row) == len(header) else None


def _holds_rows(lines: list[tuple[int, str]], width: int) -> bool:
    """Whether any of ``lines`` is, on its own, a CSV row of ``width`` fields: the sign of a quote
    left open above it rather than a field's text over several lines."""
    for _, text in lines:
        try:
            rows = list(csv.reader([text]))
        except csv.Error:
            continue
        if len(rows) == 1 and len(rows[0]) == width:
            return True
    return False


def _checked(record: Any) -> Optional[dict[str, Any]]:
    """The record when it is an object whose id is a string or number and whose names are text."""
    if not isinstance(record, dict):
        return None
    if not isinstance(record.get("id"), (str, int)) or isinstance(record.get("id"), bool):
        return None
    if any(record.get(f) is not None and not isinstance(record.get(f), str) for f in _TEXT_FIELDS):
        return None
    return record


def _created(record: dict[str, Any]) -> Optional[dt.datetime]:
    try:
        return dt.datetime.fromtimestamp(float(record.get("created_utc")), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _bare(fullname: Optional[str]) -> str:
    return (fullname or "").split("_", 1)[-1]


def _claims(record: Any, seen: set[str]) -> bool:
    """Whether ``record`` is the first with its ids (its fullname and its id); marks them as seen."""
    if not isinstance(record, dict) or not record.get("id"):
        return False
    ids = {_bare(record.get("name")) or str(record["id"]), str(record["id"])}
    if ids & seen:
        return False
    seen |= ids
    return True


def import_reddit(paths: Iterable[Path], site: Optional[str] = None,
                  max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    """Events of the dumps; the first record of an id is kept, a later one is a counted skip
    (duplicate_id) that never changes whom a reply to that id answers."""
    files = [Path(p) for p in paths]
    # id -> (author or None if deleted, time, subreddit)
    index: dict[str, tuple[Optional[str], dt.datetime, Optional[str]]] = {}
    seen: set[str] = set()
    for _, record in (r for path in files for r in _records(path, max_line_bytes)):
        if _claims(record, seen) and _created(record):
            author = (None if record.get("author") in DELETED
                      else INVALID_AUTHOR if actor_id_problem(record["author"]) else record["author"])
            index[_bare(record.get("name")) or str(record["id"])] = (author, _created(record), subreddit_of(record))
    seen.clear()
    for origin, record in (r for path in files for r in _records(path, max_line_bytes)):
        yield from _emit(origin, record, index, site, seen)


def _emit(origin: str, record: Optional[dict[str, Any]], index: dict, site: Optional[str],
          seen: set[str]) -> Iterator[Item]:
    if record is TOO_LONG:
        yield Skipped(TOO_LONG, origin)
        return
    if record is None or not record.get("id"):
        yield Skipped("malformed_row", origin)
        return
    if not _claims(record, seen):
        yield Skipped("duplicate_id", origin)
        return
    if record.get("author") in DELETED:
        yield Skipped("deleted_author", origin)
        return
    problem = actor_id_problem(record["author"])  # the checks of every importer's actor ids
    if problem:
        yield Skipped(problem, origin)
        return
    created = _created(record)
    if created is None:
        yield Skipped("bad_date", origin)
        return
    subreddit = subreddit_of(record)
    if subreddit is BAD_SUBREDDIT:
        yield Skipped("bad_subreddit", origin)
        return
    community = site or subreddit or "reddit"
    item = str(record["id"])
    parent_full = record.get("parent_id")
    if not parent_full:
        yield event("POST", community, item, item, record["author"], created, origin=origin)
        return
    thread = _bare(record.get("link_id")) or _bare(parent_full)
    parent = index.get(_bare(parent_full))
    if parent is None:
        yield Skipped("parent_missing", origin)
        return
    submission = index.get(thread)
    if parent[2] != subreddit or (submission is not None and submission[2] != subreddit):
        yield Skipped("parent_in_other_subreddit", origin)
        return
    if parent[0] is None:
        yield Skipped("parent_author_deleted", origin)
        return
    if parent[0] is INVALID_AUTHOR:  # skipped itself: its author is no id to answer
        yield Skipped("parent_author_invalid", origin)
        return
    kind = "REPLY" if str(parent_full).startswith("t1_") else "COMMENT"
    yield event(kind, community, thread, item, record["author"], created, _bare(parent_full), parent[0], parent[1],
                origin=origin)
