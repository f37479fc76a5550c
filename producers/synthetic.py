"""A synthetic community with planted social mentors, reproducible from a seed.

Bloggers post; casual readers comment now and then and get an occasional, slow answer; each planted
reader keeps commenting on one author's posts and that author answers often and fast: the planted
mentor pairs, written to a ground-truth file. Noise on top, as real feeds have it: readers answering
each other, authors answering themselves, re-delivered duplicates, responses that arrive before their
parents, responses without parent author (resolution needed), orphans whose parent never arrives,
and (optionally) invalid records for the dead-letter path.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any, Iterator

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = int(dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc).timestamp() * 1000)


@dataclasses.dataclass(frozen=True)
class CommunitySpec:
    seed: int = 7
    sites: int = 2
    authors_per_site: int = 12
    readers_per_site: int = 120
    planted_per_site: int = 20
    days: int = 28
    posts_per_author_per_week: float = 3.0
    casual_comment_rate: float = 0.05  # chance a casual reader comments on a given post
    mentee_comment_rate: float = 0.6  # chance a planted reader comments on the mentor's post
    mentee_casual_rate: float = 0.03  # chance a planted reader comments on another author's post
    mentor_reply_rate: float = 0.85
    casual_reply_rate: float = 0.15
    duplicate_rate: float = 0.03
    missing_parent_info_rate: float = 0.3
    orphan_rate: float = 0.005
    invalid_rate: float = 0.0

    def scaled(self, factor: float) -> "CommunitySpec":
        """The same community shape with ``factor`` times the people (and so the events)."""
        return dataclasses.replace(
            self,
            authors_per_site=max(1, round(self.authors_per_site * factor)),
            readers_per_site=max(1, round(self.readers_per_site * factor)),
            planted_per_site=max(1, round(self.planted_per_site * factor)),
        )


@dataclasses.dataclass
class Community:
    events: list[dict[str, Any]]
    planted_pairs: list[dict[str, str]]  # site, author_id, reader_id
    invalid_count: int
    duplicate_count: int


def generate_community(spec: CommunitySpec = CommunitySpec()) -> Community:
    rng = random.Random(spec.seed)
    events: list[dict[str, Any]] = []
    planted: list[dict[str, str]] = []
    counter = 0

    def new_id(prefix: str) -> str:
        nonlocal counter
        counter += 1
        return f"{prefix}{counter}"

    def emit(kind: str, site: str, thread: str, actor: str, at: int, parent: dict | None) -> dict:
        item = new_id({"POST": "p", "COMMENT": "c", "REPLY": "r"}[kind])
        record = {
            "event_id": f"{site}:{item}",
            "kind": kind,
            "site": site,
            "thread_id": thread or item,
            "item_id": item,
            "parent_id": parent["item_id"] if parent else None,
            "actor_id": actor,
            "parent_actor_id": parent["actor_id"] if parent else None,
            "created_at": at,
            "parent_created_at": parent["created_at"] if parent else None,
        }
        events.append(record)
        return record

    for s in range(spec.sites):
        site = f"blog-{s + 1}"
        authors = [f"{site}/author-{a + 1}" for a in range(spec.authors_per_site)]
        readers = [f"{site}/reader-{r + 1}" for r in range(spec.readers_per_site)]
        mentees = readers[: spec.planted_per_site]
        mentor_of = {reader: rng.choice(authors) for reader in mentees}
        planted.extend({"site": site, "author_id": mentor_of[r], "reader_id": r} for r in mentees)
        post_count = int(spec.days / 7 * spec.posts_per_author_per_week)
        for author in authors:
            for _ in range(post_count):
                posted = START_MS + rng.randrange(spec.days * DAY_MS)
                post = emit("POST", site, "", author, posted, None)
                thread = post["item_id"]
                for reader in readers:
                    mentor = mentor_of.get(reader)
                    if mentor == author:
                        rate, reply_rate, latency_h = spec.mentee_comment_rate, spec.mentor_reply_rate, (0.1, 2.0)
                    elif mentor is not None:
                        rate, reply_rate, latency_h = spec.mentee_casual_rate, spec.casual_reply_rate, (6.0, 72.0)
                    else:
                        rate, reply_rate, latency_h = spec.casual_comment_rate, spec.casual_reply_rate, (6.0, 72.0)
                    if rng.random() >= rate:
                        continue
                    comment = emit("COMMENT", site, thread, reader, posted + rng.randrange(1, 3 * DAY_MS), post)
                    if rng.random() < reply_rate:
                        answered = comment["created_at"] + int(rng.uniform(*latency_h) * HOUR_MS)
                        reply = emit("REPLY", site, thread, author, answered, comment)
                        if rng.random() < 0.3:  # the reader thanks the author
                            emit("REPLY", site, thread, reader, answered + rng.randrange(1, 6 * HOUR_MS), reply)
                    if rng.random() < 0.1:  # another reader chimes in
                        other = rng.choice(readers)
                        if other != reader:
                            emit("REPLY", site, thread, other, comment["created_at"] + rng.randrange(1, DAY_MS), comment)
                if rng.random() < 0.1:  # the author adds to their own post: a self-response
                    emit("COMMENT", site, thread, author, posted + rng.randrange(1, DAY_MS), post)

    # Orphans: responses whose parent never arrives and that name no parent author.
    for _ in range(int(len(events) * spec.orphan_rate)):
        host = rng.choice([e for e in events[:200] if e["kind"] == "POST"] or events[:1])
        ghost = {"item_id": new_id("gone"), "actor_id": None, "created_at": None}
        emit("COMMENT", host["site"], host["thread_id"], f"{host['site']}/reader-orphan", host["created_at"] + HOUR_MS, ghost)

    # Producers often know only the parent's id: drop what resolution must find.
    for record in events:
        if record["kind"] != "POST" and rng.random() < spec.missing_parent_info_rate:
            record["parent_actor_id"] = None
            record["parent_created_at"] = None

    duplicates = [dict(rng.choice(events)) for _ in range(int(len(events) * spec.duplicate_rate))]
    events.extend(duplicates)
    invalid = [_invalid_record(rng, i) for i in range(int(len(events) * spec.invalid_rate))]
    events.extend(invalid)
    # Delivery order: mostly by time, with local shuffles that put some replies before their parents.
    events.sort(key=lambda e: (e["created_at"] or 0) + rng.randrange(0, 12 * HOUR_MS))
    return Community(events, planted, len(invalid), len(duplicates))


def _invalid_record(rng: random.Random, i: int) -> dict[str, Any]:
    """A record that must be dead-lettered, of a kind the Avro schema can still carry."""
    base = {
        "event_id": f"bad:{i}", "kind": "COMMENT", "site": "blog-1", "thread_id": "p1", "item_id": f"bad{i}",
        "parent_id": "p1", "actor_id": "blog-1/reader-x", "parent_actor_id": None,
        "created_at": START_MS, "parent_created_at": None,
    }
    flaw = i % 3
    if flaw == 0:
        base["actor_id"] = ""  # missing actor
    elif flaw == 1:
        base["parent_id"] = None  # a COMMENT without parent
    else:
        base["created_at"] = START_MS // 1000  # seconds sent as millis: 1970
    return base


def write_community(community: Community, events_path: Path, truth_path: Path) -> int:
    """Write the events (Avro or JSONL by extension) and the planted pairs (JSONL)."""
    from producers.event_files import write_events

    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with truth_path.open("w", encoding="utf-8") as out:
        for pair in community.planted_pairs:
            out.write(json.dumps(pair) + "\n")
    return write_events(events_path, community.events)


def iter_planted(truth_path: Path) -> Iterator[dict[str, str]]:
    with truth_path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
