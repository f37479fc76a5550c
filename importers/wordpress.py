"""WordPress WXR exports to events: a post is a POST by its author (dc:creator); an approved comment
is a COMMENT on the post (comment_parent 0) or a REPLY to its parent comment.

Comment authors are identified by their WordPress login when they were logged in, else by e-mail
(lower case); a comment with neither is skipped (a name alone identifies no one), and so is one
whose id is none (:mod:`importers.ids`: control or format characters, bad_actor_id; over the id
limit, actor_id_too_long). Pingbacks,
trackbacks and unapproved comments (spam, trash, pending) are skipped and counted, as are other post
types (attachments, menus, ...). Each <item> holds its own comments, so the file is streamed one item
at a time: memory is one post's comments (a few fields each), whatever the size of the export. Each
field of a post and each comment is read in bounded memory (:mod:`importers.xmlbounded`): a comment
longer than ``max_record_bytes`` (``import --max-line-bytes``, default 1 MiB), or a post with a field
that long (a giant ``<content:encoded>``), is never held whole and is a counted skip,
record_too_large (the comments of such a post: parent_missing).
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Optional

from importers.core import Item, Skipped, event
from importers.ids import actor_id_problem
from importers.lines import DEFAULT_MAX_LINE_BYTES
from importers.xmlmarkup import TOO_LARGE, stand_in_size
from importers.xmlutil import dropped_skip, iterparse, local, text, too_large

CONTENT_TYPES = ("post", "page")
RECORD_DEPTH = 4  # rss > channel > item > its fields and comments: each bounded
POST_FIELDS = ("post_id", "post_type", "creator", "post_date_gmt")  # what is kept of a post


class Comment(NamedTuple):
    """What is read of a <wp:comment>; ``too_large`` is its size when it was over the limit."""

    comment_id: Optional[str]
    created: Optional[dt.datetime]
    kind_of: str
    approved: Optional[str]
    user_id: Optional[str]
    email: Optional[str]
    parent: str
    too_large: Optional[int]


def _comment(element: ElementTree.Element) -> Comment:
    return Comment(text(element, "comment_id"), _gmt(text(element, "comment_date_gmt")),
                   text(element, "comment_type") or "comment", text(element, "comment_approved"),
                   text(element, "comment_user_id"), text(element, "comment_author_email"),
                   text(element, "comment_parent") or "0", too_large(element))


def _gmt(value: Optional[str]) -> Optional[dt.datetime]:
    if not value or value.startswith("0000"):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def import_wordpress(paths: Iterable[Path], site: Optional[str] = None,
                     max_record_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    """Events of the exports; a comment, or a post field, longer than ``max_record_bytes`` is a counted
    skip (record_too_large)."""
    for path in map(Path, paths):
        yield from _import_file(path, site, max_record_bytes)


def _import_file(path: Path, site: Optional[str], max_record_bytes: int) -> Iterator[Item]:
    logins: dict[str, str] = {}  # wp:author_id -> login
    item_number = 0
    depth = 0
    channel = item = None
    comments: list[Comment] = []
    item_too_large: Optional[int] = None
    for action, element in iterparse(path, events=("start", "end"), max_markup_bytes=max_record_bytes,
                                     record_depth=RECORD_DEPTH):
        if action == "dropped":  # markup over the limit between items or fields: a comment, a doctype, ...
            yield dropped_skip(path.name, element)
            continue
        name = local(element.tag)
        if action == "start":
            depth += 1
            if depth == 2:
                channel = element
            elif depth == 3 and name == "item":
                # its own start tag only: the parser may have read (and built) more of it already
                size = element.attrib.get(TOO_LARGE)
                item, comments, item_too_large = element, [], None if size is None else stand_in_size(size)
                kept: set[str] = set()
            continue
        depth -= 1  # now the depth of the element's parent
        if item is not None and depth == 3:  # a field or comment of the post: read, then let go
            if name == "comment":
                comments.append(_comment(element))
            else:
                size = too_large(element)
                item_too_large = max(item_too_large or 0, size) if size is not None else item_too_large
            if name in POST_FIELDS and name not in kept:
                kept.add(name)
            else:
                item.remove(element)  # a post keeps one of each field it needs, nothing else
        elif element is item:
            item_number += 1
            origin = f"{path.name}:item {item_number}"
            if item_too_large is not None:
                yield Skipped("record_too_large", f"{origin} ({item_too_large:,} bytes)")
                for number, comment in enumerate(comments, start=1):
                    yield Skipped("record_too_large" if comment.too_large is not None else "parent_missing",
                                  f"{origin} comment {number}")
            else:
                yield from _item(item, comments, site or path.stem, logins, origin)
            item, comments = None, []
            channel.remove(element)
        elif depth == 2:  # the channel's own elements: its link (the site), its authors
            if name == "link" and site is None and element.text and "://" in element.text:
                site = element.text.split("://", 1)[1].strip("/")  # the channel's link comes before its items
            elif name == "author" and text(element, "author_login"):
                logins[text(element, "author_id") or ""] = text(element, "author_login")
            channel.remove(element)


def _item(item: ElementTree.Element, comments: list[Comment], site: str, logins: dict[str, str],
          origin: str) -> Iterator[Item]:
    post_type = text(item, "post_type") or "post"
    post_id = text(item, "post_id")
    if post_type not in CONTENT_TYPES:
        yield Skipped(f"post_type_{post_type}", origin)
        for number, _ in enumerate(comments, start=1):
            yield Skipped("parent_missing", f"{origin} comment {number}")
        return
    author = text(item, "creator")
    posted = _gmt(text(item, "post_date_gmt"))
    thread = f"post-{post_id}"
    post_ok = bool(post_id and author and posted)
    author_invalid = bool(author) and actor_id_problem(author) is not None
    if not post_id or posted is None:
        yield Skipped("malformed_row" if not post_id else "bad_date", origin)
    elif not author:
        yield Skipped("deleted_user", origin)
    elif author_invalid:  # the checks of every importer's actor ids
        post_ok = False
        yield Skipped(actor_id_problem(author), origin)
    else:
        yield event("POST", site, thread, thread, author, posted, origin=origin)
    known: dict[str, tuple[str, dt.datetime]] = {}  # comment id -> (actor, time), for replies
    pending = []
    claimed: set[str] = set()  # comment ids read in this item
    for number, comment in enumerate(comments, start=1):
        where = f"{origin} comment {number}"
        comment_id, created, kind_of = comment.comment_id, comment.created, comment.kind_of
        if comment.too_large is not None:
            yield Skipped("record_too_large", f"{where} ({comment.too_large:,} bytes)")
            continue
        if comment_id and comment_id in claimed:  # the first comment of an id keeps it, and the replies to it
            yield Skipped("duplicate_id", where)
            continue
        claimed.add(comment_id or "")
        if kind_of in ("pingback", "trackback"):
            yield Skipped(kind_of, where)
            continue
        if comment.approved != "1":
            yield Skipped("unapproved", where)
            continue
        if not comment_id:
            yield Skipped("malformed_row", where)
            continue
        if created is None:
            yield Skipped("bad_date", where)
            continue
        user_id, email = comment.user_id, comment.email
        actor = logins.get(user_id) if user_id and user_id != "0" else None
        actor = actor or (email.lower() if email else None)
        problem = actor_id_problem(actor)
        if problem:
            yield Skipped(problem, where)
            continue
        known[comment_id] = (actor, created)
        pending.append((where, comment_id, actor, created, comment.parent))
    for where, comment_id, actor, created, parent in pending:  # a reply may come before its parent
        item_id = f"comment-{comment_id}"
        if parent == "0":
            if not post_ok:
                yield Skipped("parent_author_invalid" if author_invalid else "parent_author_deleted" if post_id and posted
                              else "parent_missing", where)
                continue
            yield event("COMMENT", site, thread, item_id, actor, created, thread, author, posted, origin=where)
        elif parent in known:
            parent_actor, parent_time = known[parent]
            yield event("REPLY", site, thread, item_id, actor, created, f"comment-{parent}", parent_actor, parent_time,
                        origin=where)
        else:
            yield Skipped("parent_missing", where)
