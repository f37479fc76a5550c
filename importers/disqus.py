"""Disqus XML exports to events: a thread (a blog post) is a POST by its author; a post (a comment) is
a COMMENT on the thread, or a REPLY when it names a parent post.

Authors are identified by Disqus username, else e-mail (lower case); a comment with neither is
skipped, and one that is no actor id (:mod:`importers.ids`: control or format characters,
bad_actor_id; over the id limit, actor_id_too_long) is a counted skip. Deleted and spam posts are skipped and counted. Threads and posts reference each other by
dsq:id, so the file is streamed twice: once to index (id -> author, time, thread, parent), once to
emit; memory grows with the number of comments, not with their text. Each thread and post is read in
bounded memory (:mod:`importers.xmlbounded`): one longer than ``max_record_bytes`` (``import
--max-line-bytes``, default 1 MiB), however its bytes are spread (a giant ``<message>``, a CDATA
section, thousands of small elements), is never held whole and is a counted skip, record_too_large. :func:`disqus_actors` names
the authors, for ``import disqus --actors-out``.
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple, Optional, Union

from importers.core import Item, Skipped, event, first_problem
from importers.ids import actor_id_problem, clean_name
from importers.lines import DEFAULT_MAX_LINE_BYTES
from importers.xmlutil import MARKUP_TOO_LARGE, attribute, child, dropped_skip, iterparse, local, text, too_large

RECORD_DEPTH = 2  # <disqus> holds the threads and posts
_TOO_LARGE = ("record_too_large", MARKUP_TOO_LARGE)  # read no further: skipped with their size


class Entry(NamedTuple):
    origin: str
    kind: str  # "thread", "post", or "markup" (over the limit and dropped, outside threads and posts)
    dsq_id: Optional[str]
    actor: Optional[str]
    created: Optional[dt.datetime]
    thread: Optional[str]
    parent: Optional[str]
    flag: Optional[str]  # "deleted", "spam", "record_too_large", "markup_too_large" or None
    forum: Optional[str]
    name: Optional[str] = None  # the author's display name, kept only for the actors file


def _time(value: Optional[str]) -> Optional[dt.datetime]:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def _actor(element: ElementTree.Element) -> Optional[str]:
    author = child(element, "author")
    username = text(author, "username")
    email = text(author, "email")
    return username or (email.lower() if email else None)


def _entries(path: Path, max_record_bytes: int, with_names: bool = False) -> Iterator[Entry]:
    counts = {"thread": 0, "post": 0}
    depth = 0
    root = None
    for action, element in iterparse(path, events=("start", "end"), max_markup_bytes=max_record_bytes,
                                     record_depth=RECORD_DEPTH):
        if action == "dropped":  # markup over the limit outside any thread or post: a comment, a doctype, ...
            skip = dropped_skip(path.name, element)
            yield Entry(skip.origin, "markup", None, None, None, None, None, skip.reason, None)
            continue
        if action == "start":
            depth += 1
            root = element if root is None else root
            continue
        depth -= 1
        name = local(element.tag)
        if depth != 1:  # top-level <thread> and <post> only
            continue
        if name in counts:
            counts[name] += 1
            origin, size = f"{path.name}:{name} {counts[name]}", too_large(element)
            if size is not None:
                yield Entry(f"{origin} ({size:,} bytes)", name, None, None, None, None, None, "record_too_large", None)
            else:
                flag = ("deleted" if text(element, "isDeleted") == "true"
                        else "spam" if text(element, "isSpam") == "true" else None)
                yield Entry(
                    origin, name, attribute(element, "id"), _actor(element),
                    _time(text(element, "createdAt")), attribute(child(element, "thread"), "id"),
                    attribute(child(element, "parent"), "id"), flag, text(element, "forum"),
                    " ".join((text(child(element, "author"), "name") or "").split()) or None if with_names else None,
                )
        root.remove(element)  # read: the root keeps nothing, whatever the number of entries


def disqus_actors(paths: Iterable[Path], site: Optional[str] = None,
                  max_record_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Union[dict[str, Any], Skipped]]:
    """One record per author of a thread or post that is neither deleted nor spam, in order of first
    entry: site and actor_id as in the events, and the Disqus display name (the first one given;
    None when there is none); a thread or post, or other markup, over ``max_record_bytes`` is a
    counted skip (its author unknown)."""
    for path in map(Path, paths):
        names: dict[str, Optional[str]] = {}
        forum = None
        for entry in _entries(path, max_record_bytes, with_names=True):
            if entry.flag in _TOO_LARGE:
                yield Skipped(entry.flag, entry.origin)
                continue
            forum = forum or entry.forum
            if entry.actor and entry.flag is None and actor_id_problem(entry.actor) is None and not names.get(entry.actor):
                names[entry.actor] = clean_name(entry.name)
        for actor, name in names.items():
            yield {"site": site or forum or path.stem, "actor_id": actor, "name": name}


def import_disqus(paths: Iterable[Path], site: Optional[str] = None,
                  max_record_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    """Events of the exports; a thread or post longer than ``max_record_bytes`` is a counted skip
    (record_too_large)."""
    for path in map(Path, paths):
        threads: dict[str, Entry] = {}
        posts: dict[str, Entry] = {}
        forum = None
        seen: set[tuple[str, str]] = set()  # (kind, dsq:id): the first entry of an id wins
        try:
            for entry in _entries(path, max_record_bytes):
                forum = forum or entry.forum
                if not entry.dsq_id or (entry.kind, entry.dsq_id) in seen:
                    continue
                seen.add((entry.kind, entry.dsq_id))
                if entry.actor and entry.created and entry.flag is None and actor_id_problem(entry.actor) is None:
                    (threads if entry.kind == "thread" else posts)[entry.dsq_id] = entry
        except ValueError:  # the file cannot be read on: the second pass stops at the same place, once
            pass            # the entries before it are counted, and reports it with their counts
        seen.clear()
        for entry in _entries(path, max_record_bytes):
            yield from _emit(entry, threads, posts, site or forum or path.stem, seen)


def _emit(entry: Entry, threads: dict[str, Entry], posts: dict[str, Entry], site: str,
          seen: set[tuple[str, str]]) -> Iterator[Item]:
    if entry.flag in _TOO_LARGE:
        yield Skipped(entry.flag, entry.origin)
        return
    if entry.dsq_id and (entry.kind, entry.dsq_id) in seen:  # a later entry never takes over an id
        yield Skipped("duplicate_id", entry.origin)
        return
    if entry.dsq_id:
        seen.add((entry.kind, entry.dsq_id))
    actor_problem = actor_id_problem(entry.actor) if entry.actor is not None else None
    problem = first_problem(entry.origin, [
        (entry.flag is None, entry.flag or ""),
        (bool(entry.dsq_id), "malformed_row"),
        (entry.created is not None, "bad_date"),
        (entry.actor is not None, "no_author_id" if entry.kind == "post" else "thread_author_unknown"),
        (actor_problem is None, actor_problem or ""),
    ])
    if problem:
        yield problem
        return
    if entry.kind == "thread":
        yield event("POST", site, f"thread-{entry.dsq_id}", f"thread-{entry.dsq_id}", entry.actor, entry.created,
                    origin=entry.origin)
        return
    thread = threads.get(entry.thread or "")
    if entry.parent:
        parent = posts.get(entry.parent)
        if parent is None:
            yield Skipped("parent_missing", entry.origin)
            return
        yield event("REPLY", site, f"thread-{entry.thread}", f"post-{entry.dsq_id}", entry.actor, entry.created,
                    f"post-{entry.parent}", parent.actor, parent.created, origin=entry.origin)
    elif thread is None:
        yield Skipped("parent_missing", entry.origin)
    else:
        yield event("COMMENT", site, f"thread-{entry.thread}", f"post-{entry.dsq_id}", entry.actor, entry.created,
                    f"thread-{entry.thread}", thread.actor, thread.created, origin=entry.origin)
