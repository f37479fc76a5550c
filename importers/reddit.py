"""Reddit dumps (Pushshift-style NDJSON, or CSV, of submissions and comments) to events.

A submission (no parent_id) is a POST; a comment is a COMMENT when its parent_id is the submission
(t3_...) and a REPLY when it is another comment (t1_...); the thread is the submission (link_id).
"[deleted]" and "[removed]" authors are skipped and counted. Files are read twice, streaming: once to
index id -> (author, time), once to emit; memory grows with the number of records, not their text.
The site is the subreddit (or --site).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from importers.core import Item, Skipped, event

DELETED = {"[deleted]", "[removed]", "", None}


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(origin, record or None when the line or row is malformed)."""
    with open(path, "rb") as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        if path.suffix == ".csv":
            for number, row in enumerate(csv.DictReader(stream), start=2):
                yield f"{path.name}:{number}", row
            return
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            yield f"{path.name}:{number}", record if isinstance(record, dict) else None


def _created(record: dict[str, Any]) -> Optional[dt.datetime]:
    try:
        return dt.datetime.fromtimestamp(float(record.get("created_utc")), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _bare(fullname: Optional[str]) -> str:
    return (fullname or "").split("_", 1)[-1]


def import_reddit(paths: Iterable[Path], site: Optional[str] = None) -> Iterator[Item]:
    files = [Path(p) for p in paths]
    index: dict[str, tuple[Optional[str], dt.datetime]] = {}  # id -> (author or None if deleted, time)
    for _, record in (r for path in files for r in _records(path)):
        if record and record.get("id") and _created(record):
            author = None if record.get("author") in DELETED else record["author"]
            index[_bare(record.get("name")) or str(record["id"])] = (author, _created(record))
    for origin, record in (r for path in files for r in _records(path)):
        yield from _emit(origin, record, index, site)


def _emit(origin: str, record: Optional[dict[str, Any]], index: dict, site: Optional[str]) -> Iterator[Item]:
    if record is None or not record.get("id"):
        yield Skipped("malformed_row", origin)
        return
    if record.get("author") in DELETED:
        yield Skipped("deleted_author", origin)
        return
    created = _created(record)
    if created is None:
        yield Skipped("bad_date", origin)
        return
    community = site or record.get("subreddit") or "reddit"
    item = str(record["id"])
    parent_full = record.get("parent_id")
    if not parent_full:
        yield event("POST", community, item, item, record["author"], created)
        return
    thread = _bare(record.get("link_id")) or _bare(parent_full)
    parent = index.get(_bare(parent_full))
    if parent is None:
        yield Skipped("parent_missing", origin)
        return
    if parent[0] is None:
        yield Skipped("parent_author_deleted", origin)
        return
    kind = "REPLY" if str(parent_full).startswith("t1_") else "COMMENT"
    yield event(kind, community, thread, item, record["author"], created, _bare(parent_full), parent[0], parent[1])
