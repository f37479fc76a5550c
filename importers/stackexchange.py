"""Stack Exchange data dumps (Posts.xml and Comments.xml of any site) to EngagementEvents.

Mapping:
* a question (PostTypeId 1) is a POST and starts its own thread;
* an answer (PostTypeId 2) is a COMMENT on its question (thread = the question);
* a comment is a COMMENT when it is on a question and a REPLY when it is on an answer;
* item ids are ``p<Id>`` for posts and ``c<Id>`` for comments (the two number spaces overlap).
Parent authors and times come from the dump itself: Posts.xml is read first into a small index
(id -> type, question, owner, time), then Comments.xml. Both files are streamed with iterparse and
each row is cleared once read, so memory grows with the number of posts in the index, not with the
size of the files. A row is read in bounded memory (:mod:`importers.xmlbounded`): one longer than
``max_row_bytes`` (``import --max-line-bytes``, default 1 MiB) is never held whole and is a counted
skip, row_too_large. Rows without a user (deleted accounts) are counted and skipped, and so are
responses whose parent is missing or has no user, and other post types (wikis, ...). The first row
of an Id is kept: a later row with the same Id is a counted skip, duplicate_id, and never changes the
index, so it cannot take over the replies to the first.
:func:`stackexchange_actors` reads Users.xml: each user's reputation, the outside signal that
`social-mentors evaluate --actors` checks the mentor side against.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Optional, Union

from importers.core import Item, Skipped, event
from importers.ids import actor_id_problem, clean_name
from importers.lines import DEFAULT_MAX_LINE_BYTES
from importers.xmlmarkup import TOO_LARGE, stand_in_size
from importers.xmlutil import dropped_skip, iterparse

QUESTION, ANSWER = "1", "2"


class IndexedPost(NamedTuple):
    post_type: str
    question_id: str
    owner: Optional[str]
    created_at: dt.datetime


def _rows(path: Path, max_row_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Union[tuple[str, dict[str, str]], Skipped]]:
    """(origin ``File.xml:row N``, attributes) of each row; a row over the limit is its row_too_large
    skip, other markup over it (a comment, a doctype, ...) its markup_too_large skip."""
    number = 0
    root = None
    for action, element in iterparse(path, events=("start", "end"), max_markup_bytes=max_row_bytes):
        if action == "dropped":
            yield dropped_skip(path.name, element)
        elif action == "start":
            root = root if root is not None else element
        elif element.tag == "row":
            number += 1
            origin, row = f"{path.name}:row {number}", dict(element.attrib)
            yield _too_large(row, origin) or (origin, row)
            root.clear()  # the only children are rows: drop what was read


def _time(text: Optional[str]) -> Optional[dt.datetime]:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
        # the dumps write UTC without an offset; a date that names one keeps its instant
        return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):  # not a date, or an offset that moves it past year 1 or 9999
        return None


_USER_ID = re.compile(r"-?[0-9]+", re.ASCII)  # -1 is the Community user
_REPUTATION = re.compile(r"-?[0-9]{1,18}", re.ASCII)
_INVALID = "\0invalid"  # a user id that is not an integer: the row is malformed


def _user(text: Optional[str]) -> Optional[str]:
    """A row's user id: None when absent or blank (a deleted account), ``_INVALID`` when it is not a
    whole number (``26.5``, ``x``), else the digits as written."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    return text if _USER_ID.fullmatch(text) else _INVALID


def _too_large(row: dict[str, str], origin: str) -> Optional[Skipped]:
    if TOO_LARGE in row:
        return Skipped("row_too_large", f"{origin} ({stand_in_size(row[TOO_LARGE]):,} bytes)")
    return None


def import_stackexchange(folder: Path, site: Optional[str] = None,
                         max_row_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    """Events of one site's dump folder (holding Posts.xml and, optionally, Comments.xml); a row
    longer than ``max_row_bytes`` is a counted skip (row_too_large)."""
    folder = Path(folder)
    site = site or folder.name
    posts_path = folder / "Posts.xml"
    if not posts_path.exists():
        raise FileNotFoundError(f"no Posts.xml in {folder}: point at the folder of one site's dump")
    index: dict[str, IndexedPost] = {}
    seen: set[str] = set()  # every post id read: the first row of an id wins, a later one is a duplicate_id
    pending: list[tuple[int, dict[str, str]]] = []  # answers seen before their question
    for read in _rows(posts_path, max_row_bytes):
        if isinstance(read, Skipped):
            yield read
            continue
        origin, row = read
        created = _time(row.get("CreationDate"))
        post_id, post_type = row.get("Id"), row.get("PostTypeId")
        if not post_id or created is None:
            yield Skipped("malformed_row", origin)
            continue
        if post_id in seen:  # never re-assign the post, nor the replies to it, to a later row's owner
            yield Skipped("duplicate_id", origin)
            continue
        seen.add(post_id)
        if post_type not in (QUESTION, ANSWER):
            yield Skipped(f"post_type_{post_type}", origin)
            continue
        question_id = post_id if post_type == QUESTION else row.get("ParentId", "")
        if question_id == post_id and post_type == ANSWER:  # an answer to itself: no thread to join
            yield Skipped("malformed_row", origin)
            continue
        owner = _user(row.get("OwnerUserId"))
        if owner is _INVALID:
            yield Skipped("malformed_row", origin)
            continue
        if owner is not None and actor_id_problem(owner):  # digits, but more than an id may hold
            yield Skipped(actor_id_problem(owner), origin)
            continue
        index[post_id] = IndexedPost(post_type, question_id, owner, created)
        if owner is None:
            yield Skipped("deleted_user", origin)
            continue
        if post_type == QUESTION:
            yield event("POST", site, f"p{post_id}", f"p{post_id}", owner, created, origin=origin)
        elif question_id in index:
            yield from _response(site, "COMMENT", f"p{post_id}", owner, created, index[question_id], question_id, origin)
        else:
            pending.append((origin, row))
    for origin, row in pending:  # answers that came before their question, once all are indexed
        question = index.get(row.get("ParentId", ""))
        yield from _response(site, "COMMENT", f"p{row['Id']}", _user(row["OwnerUserId"]), _time(row["CreationDate"]),
                             question, row.get("ParentId"), origin)
    comments_path = folder / "Comments.xml"
    if not comments_path.exists():
        return
    seen.clear()
    for read in _rows(comments_path, max_row_bytes):
        if isinstance(read, Skipped):
            yield read
            continue
        origin, row = read
        created = _time(row.get("CreationDate"))
        if not row.get("Id") or not row.get("PostId") or created is None:
            yield Skipped("malformed_row", origin)
            continue
        if row["Id"] in seen:
            yield Skipped("duplicate_id", origin)
            continue
        seen.add(row["Id"])
        user = _user(row.get("UserId"))
        if user is _INVALID:
            yield Skipped("malformed_row", origin)
            continue
        if user is None:
            yield Skipped("deleted_user", origin)
            continue
        if actor_id_problem(user):
            yield Skipped(actor_id_problem(user), origin)
            continue
        parent = index.get(row["PostId"])
        kind = "REPLY" if parent is not None and parent.post_type == ANSWER else "COMMENT"
        yield from _response(site, kind, f"c{row['Id']}", user, created, parent, row["PostId"], origin)


def _response(site: str, kind: str, item_id: str, actor: str, created: dt.datetime,
              parent: Optional[IndexedPost], parent_post_id: Optional[str], origin: str) -> Iterator[Item]:
    if parent is None:
        yield Skipped("parent_missing", origin)
        return
    if parent.owner is None:
        yield Skipped("parent_author_deleted", origin)
        return
    yield event(kind, site, f"p{parent.question_id}", item_id, actor, created,
                parent_id=f"p{parent_post_id}", parent_actor_id=parent.owner, parent_created_at=parent.created_at, origin=origin)


def stackexchange_actors(folder: Path, site: Optional[str] = None,
                         max_row_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Union[dict[str, Any], Skipped]]:
    """One record per user of the dump's Users.xml: site, actor_id (as in the events), signal (the
    user's reputation, an outside rank signal for ``social-mentors evaluate --actors``) and name.
    A row that names no user the events could (an id that is not an integer within the id limit) or without a numeric reputation is a counted skip (malformed_row), and so
    are a row and other markup over ``max_row_bytes`` (row_too_large, markup_too_large)."""
    folder = Path(folder)
    site = site or folder.name
    users_path = folder / "Users.xml"
    if not users_path.exists():
        raise FileNotFoundError(f"no Users.xml in {folder}: --actors-out needs the dump's Users.xml")
    for read in _rows(users_path, max_row_bytes):
        if isinstance(read, Skipped):
            yield read
            continue
        origin, row = read
        actor, reputation = _user(row.get("Id")), row.get("Reputation", "")
        if actor is None or actor is _INVALID or actor_id_problem(actor) or not _REPUTATION.fullmatch(reputation):
            yield Skipped("malformed_row", origin)
            continue
        yield {"site": site, "actor_id": actor, "signal": int(reputation), "name": clean_name(row.get("DisplayName"))}
