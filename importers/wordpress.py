"""WordPress WXR exports to events: a post is a POST by its author (dc:creator); an approved comment
is a COMMENT on the post (comment_parent 0) or a REPLY to its parent comment.

Comment authors are identified by their WordPress login when they were logged in, else by e-mail
(lower case); a comment with neither is skipped (a name alone identifies no one). Pingbacks,
trackbacks and unapproved comments (spam, trash, pending) are skipped and counted, as are other post
types (attachments, menus, ...). Each <item> holds its own comments, so the file is streamed one item
at a time: memory is one post's comments, whatever the size of the export.
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Iterable, Iterator, Optional

from importers.core import Item, Skipped, event
from importers.xmlutil import iterparse, local, text

CONTENT_TYPES = ("post", "page")


def _gmt(value: Optional[str]) -> Optional[dt.datetime]:
    if not value or value.startswith("0000"):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def import_wordpress(paths: Iterable[Path], site: Optional[str] = None) -> Iterator[Item]:
    for path in map(Path, paths):
        yield from _import_file(path, site)


def _import_file(path: Path, site: Optional[str]) -> Iterator[Item]:
    logins: dict[str, str] = {}  # wp:author_id -> login
    item_number = 0
    channel = None
    for action, element in iterparse(path, events=("start", "end")):
        name = local(element.tag)
        if action == "start":
            if name == "channel":
                channel = element
            continue
        if name == "link" and site is None and element.text and "://" in element.text:
            site = element.text.split("://", 1)[1].strip("/")  # the channel's link comes first
        elif name == "author" and text(element, "author_login"):
            logins[text(element, "author_id") or ""] = text(element, "author_login")
        elif name == "item":
            item_number += 1
            yield from _item(element, site or path.stem, logins, f"{path.name}:item {item_number}")
            element.clear()
            if channel is not None:  # drop the emptied item too, or the channel keeps one per post
                channel.remove(element)


def _item(item: ElementTree.Element, site: str, logins: dict[str, str], origin: str) -> Iterator[Item]:
    post_type = text(item, "post_type") or "post"
    post_id = text(item, "post_id")
    comments = [c for c in item if local(c.tag) == "comment"]
    if post_type not in CONTENT_TYPES:
        yield Skipped(f"post_type_{post_type}", origin)
        for number, _ in enumerate(comments, start=1):
            yield Skipped("parent_missing", f"{origin} comment {number}")
        return
    author = text(item, "creator")
    posted = _gmt(text(item, "post_date_gmt"))
    thread = f"post-{post_id}"
    post_ok = bool(post_id and author and posted)
    if not post_id or posted is None:
        yield Skipped("malformed_row" if not post_id else "bad_date", origin)
    elif not author:
        yield Skipped("deleted_user", origin)
    else:
        yield event("POST", site, thread, thread, author, posted, origin=origin)
    known: dict[str, tuple[str, dt.datetime]] = {}  # comment id -> (actor, time), for replies
    pending = []
    claimed: set[str] = set()  # comment ids read in this item
    for number, comment in enumerate(comments, start=1):
        where = f"{origin} comment {number}"
        comment_id = text(comment, "comment_id")
        created = _gmt(text(comment, "comment_date_gmt"))
        kind_of = text(comment, "comment_type") or "comment"
        if comment_id and comment_id in claimed:  # the first comment of an id keeps it, and the replies to it
            yield Skipped("duplicate_id", where)
            continue
        claimed.add(comment_id or "")
        if kind_of in ("pingback", "trackback"):
            yield Skipped(kind_of, where)
            continue
        if text(comment, "comment_approved") != "1":
            yield Skipped("unapproved", where)
            continue
        if not comment_id:
            yield Skipped("malformed_row", where)
            continue
        if created is None:
            yield Skipped("bad_date", where)
            continue
        user_id = text(comment, "comment_user_id")
        email = text(comment, "comment_author_email")
        actor = logins.get(user_id) if user_id and user_id != "0" else None
        actor = actor or (email.lower() if email else None)
        if actor is None:
            yield Skipped("no_author_id", where)
            continue
        known[comment_id] = (actor, created)
        pending.append((where, comment_id, actor, created, text(comment, "comment_parent") or "0"))
    for where, comment_id, actor, created, parent in pending:  # a reply may come before its parent
        item_id = f"comment-{comment_id}"
        if parent == "0":
            if not post_ok:
                yield Skipped("parent_author_deleted" if post_id and posted else "parent_missing", where)
                continue
            yield event("COMMENT", site, thread, item_id, actor, created, thread, author, posted, origin=where)
        elif parent in known:
            parent_actor, parent_time = known[parent]
            yield event("REPLY", site, thread, item_id, actor, created, f"comment-{parent}", parent_actor, parent_time,
                        origin=where)
        else:
            yield Skipped("parent_missing", where)
