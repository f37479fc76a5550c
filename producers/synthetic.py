"""A synthetic community with planted social mentors, reproducible from a seed.

In: a :class:`CommunitySpec`. Out: a :class:`Community`: EngagementEvent records (dicts, timestamps in
epoch millis, in delivery order) and the planted mentor pairs (the ground truth). Shaped like the real
communities the definitions must hold on:

* **blog threads**: an author posts, readers comment, the author answers some comments and the
  conversation may go on (A -> R -> A -> R); other readers answer readers;
* **Q&A threads**: a reader asks (posts), helpers answer, the asker follows up and the helper answers
  back: a blog's roles inverted, the one who posts is the one helped;
* **readers who also post**, on whose posts authors (and their mentors) comment: pairs answer each
  other both ways;
* **heavy-tailed delays**: every delay is log-normal (minutes to days, capped at ``max_delay_s``), so
  some answers cross a UTC midnight and some come days later;
* **planted mentor pairs**: a planted reader R comments on most posts of one author M, and M answers R
  quickly and often, also R's questions and on R's own posts; written as ground truth (site,
  author_id = M, reader_id = R). R comments as often on a favorite author, who answers as rarely as
  anyone: the comments alone do not tell the mentor, the answers do;
* **noise**, as real feeds have it: self-responses, re-deliveries (same event_id, same content),
  responses delivered before their parents, responses naming no parent author (resolution needed),
  orphans whose parent never arrives, and optionally invalid records for the dead-letter path.

Item and event ids carry ``id_prefix`` (default ``s<seed>``), so the communities of two seeds never
share an id and can be published to one topic. The same spec gives the same records in the same order.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import random
from pathlib import Path
from typing import Any, Iterator, Optional

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = int(dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc).timestamp() * 1000)
MAX_REPLIES_IN_A_CHAIN = 6


@dataclasses.dataclass(frozen=True)
class Delay:
    """A log-normal delay: half the draws are shorter than ``median_s``; ``sigma`` sets the tail
    (1.0: the slowest 1% take about 10 times the median; 1.5: about 30 times)."""

    median_s: float
    sigma: float

    def draw_ms(self, rng: random.Random, cap_s: float) -> int:
        seconds = rng.lognormvariate(math.log(self.median_s), self.sigma)
        return int(min(max(seconds, 30.0), cap_s) * 1000)


@dataclasses.dataclass(frozen=True)
class CommunitySpec:
    seed: int = 7
    sites: int = 2
    authors_per_site: int = 12
    readers_per_site: int = 120
    planted_per_site: int = 20
    days: int = 28
    start_ms: int = START_MS  # posts fall in [start_ms, start_ms + days)
    end_ms: Optional[int] = None  # what would happen later is left out: the community as seen then
    id_prefix: Optional[str] = None  # default "s<seed>"
    posts_per_author_per_week: float = 3.0
    posting_reader_share: float = 0.3  # readers who also blog now and then
    posts_per_posting_reader_per_week: float = 0.5
    questions_per_reader_per_week: float = 0.1
    questions_per_mentee_per_week: float = 0.3
    casual_comment_rate: float = 0.05  # chance a casual reader comments on a given post
    mentee_comment_rate: float = 0.6  # chance a planted reader comments on the mentor's post
    mentee_casual_rate: float = 0.03  # chance a planted reader comments on another author's post
    favorite_comment_rate: float = 0.6  # ... on their favorite author's post, who answers as rarely as anyone
    author_comment_rate: float = 0.03  # chance an author comments on another's post
    mentor_on_mentee_post_rate: float = 0.5  # chance a mentor comments on the planted reader's post
    mentor_reply_rate: float = 0.85
    casual_reply_rate: float = 0.2
    follow_up_rate: float = 0.3  # chance the one answered answers again (the chain goes on)
    mentee_follow_up_rate: float = 0.5
    reader_to_reader_rate: float = 0.1  # chance another reader answers a reader's comment
    mentor_answers_question_rate: float = 0.7
    helpers_per_question: float = 1.6
    comment_delay: Delay = Delay(5 * 3600, 1.2)  # post -> comment
    mentor_delay: Delay = Delay(40 * 60, 1.0)  # a planted mentor answering the planted reader
    casual_delay: Delay = Delay(6 * 3600, 1.5)  # anyone else answering
    follow_up_delay: Delay = Delay(3 * 3600, 1.3)  # the one answered answering again
    max_delay_s: float = 7 * 86_400
    late_delivery_rate: float = 0.1  # delivered up to 12 h late (the rest within minutes)
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

    @property
    def prefix(self) -> str:
        return self.id_prefix or f"s{self.seed}"


@dataclasses.dataclass
class Community:
    events: list[dict[str, Any]]
    planted_pairs: list[dict[str, str]]  # site, author_id, reader_id
    invalid_count: int
    duplicate_count: int
    thread_counts: dict[str, int] = dataclasses.field(default_factory=dict)  # blog, question


def generate_community(spec: CommunitySpec = CommunitySpec()) -> Community:
    """The whole community, in delivery order: mostly by time, some records hours late."""
    simulation = simulate(spec)
    rng, events = simulation.rng, simulation.events
    duplicates = [dict(rng.choice(events)) for _ in range(int(len(events) * spec.duplicate_rate))]
    events.extend(duplicates)
    invalid = [_invalid_record(spec, i) for i in range(int(len(events) * spec.invalid_rate))]
    events.extend(invalid)

    def delivered(record: dict[str, Any]) -> int:
        if rng.random() < spec.late_delivery_rate:
            return record["created_at"] + rng.randrange(12 * HOUR_MS)
        return record["created_at"] + int(rng.expovariate(1 / (2 * MINUTE_MS)))

    keys = [delivered(record) for record in events]  # drawn in a fixed order: deterministic
    order = sorted(range(len(events)), key=lambda i: (keys[i], i))
    return Community([events[i] for i in order], simulation.planted, len(invalid), len(duplicates),
                     simulation.thread_counts)


class Simulation:
    """Writes a community's events in creation order (no re-deliveries, no invalid records)."""

    def __init__(self, spec: CommunitySpec, activity_seed: Optional[str] = None):
        self.spec = spec
        self.rng = random.Random(spec.seed if activity_seed is None else activity_seed)
        self.events: list[dict[str, Any]] = []
        self.planted: list[dict[str, str]] = []
        self.thread_counts = {"blog": 0, "question": 0}
        self.counter = 0

    def emit(self, kind: str, site: str, thread: str, actor: str, at: int, parent: Optional[dict],
             letter: str = "") -> dict[str, Any]:
        self.counter += 1
        item = f"{self.spec.prefix}-{letter or {'POST': 'p', 'COMMENT': 'c', 'REPLY': 'r'}[kind]}{self.counter}"
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
        self.events.append(record)
        return record

    def later(self, at: int, delay: Delay) -> int:
        return at + delay.draw_ms(self.rng, self.spec.max_delay_s)

    def count(self, per_week: float) -> int:
        """How many times something happening ``per_week`` happens in the community's days."""
        expected = self.spec.days / 7 * per_week
        return int(expected) + (self.rng.random() < expected - int(expected))

    def when(self) -> int:
        return self.spec.start_ms + self.rng.randrange(self.spec.days * DAY_MS)

    def chain(self, site: str, thread: str, item: dict, turns: list[tuple[str, float, Delay]]) -> None:
        """Answers to ``item`` taking turns (actor, chance, delay), each turn less likely than the last."""
        damping = 1.0
        for turn in range(MAX_REPLIES_IN_A_CHAIN):
            actor, chance, delay = turns[turn % len(turns)]
            if self.rng.random() >= chance * damping:
                return
            item = self.emit("REPLY", site, thread, actor, self.later(item["created_at"], delay), item)
            damping *= 0.8

    def site(self, number: int) -> None:
        spec, rng = self.spec, self.rng
        site = f"blog-{number}"
        authors = [f"{site}/author-{a + 1}" for a in range(spec.authors_per_site)]
        readers = [f"{site}/reader-{r + 1}" for r in range(spec.readers_per_site)]
        mentees = readers[: spec.planted_per_site]
        # Drawn apart from the activity, so every live round of a seed plants the same pairs.
        mentor_rng = random.Random(f"mentors:{spec.seed}:{site}")
        mentor_of = {reader: mentor_rng.choice(authors) for reader in mentees}
        # A planted reader comments as often on a favorite author who rarely answers: counting comments
        # alone does not find the mentor, the answers do.
        favorite_of = {reader: mentor_rng.choice([a for a in authors if a != mentor_of[reader]] or authors)
                       for reader in mentees}
        self.planted.extend({"site": site, "author_id": mentor_of[r], "reader_id": r} for r in mentees)
        posting = [reader for reader in readers if rng.random() < spec.posting_reader_share]
        people = _People(spec, authors, readers, mentor_of, favorite_of)

        for author in authors:
            for _ in range(self.count(spec.posts_per_author_per_week)):
                self.blog_thread(site, author, people)
        for reader in posting:
            for _ in range(self.count(spec.posts_per_posting_reader_per_week)):
                self.blog_thread(site, reader, people)
        for reader in readers:
            rate = spec.questions_per_mentee_per_week if reader in mentor_of else spec.questions_per_reader_per_week
            for _ in range(self.count(rate)):
                self.question_thread(site, reader, people)

    def blog_thread(self, site: str, owner: str, people: "_People") -> None:
        spec, rng = self.spec, self.rng
        self.thread_counts["blog"] += 1
        post = self.emit("POST", site, "", owner, self.when(), None)
        thread = post["item_id"]
        for person in people.everyone:
            if person == owner:
                continue
            comment_rate, reply_rate, reply_delay, follow_rate = people.engagement(owner, person)
            if rng.random() >= comment_rate:
                continue
            comment = self.emit("COMMENT", site, thread, person, self.later(post["created_at"], spec.comment_delay), post)
            self.chain(site, thread, comment, [(owner, reply_rate, reply_delay),
                                               (person, follow_rate, spec.follow_up_delay)])
            if rng.random() < spec.reader_to_reader_rate:  # another reader answers this one
                other = rng.choice(people.readers)
                if other not in (owner, person):
                    answer = self.emit("REPLY", site, thread, other, self.later(comment["created_at"], spec.casual_delay), comment)
                    self.chain(site, thread, answer, [(person, spec.follow_up_rate, spec.follow_up_delay),
                                                      (other, spec.follow_up_rate, spec.follow_up_delay)])
        if rng.random() < 0.1:  # the owner adds to their own post: a self-response
            self.emit("COMMENT", site, thread, owner, self.later(post["created_at"], spec.follow_up_delay), post)

    def question_thread(self, site: str, asker: str, people: "_People") -> None:
        spec, rng = self.spec, self.rng
        self.thread_counts["question"] += 1
        question = self.emit("POST", site, "", asker, self.when(), None, letter="q")
        thread = question["item_id"]
        helpers = []
        mentor = people.mentor_of.get(asker)
        if mentor and rng.random() < spec.mentor_answers_question_rate:
            helpers.append(mentor)
        extra = spec.helpers_per_question - len(helpers)
        for _ in range(int(extra) + (rng.random() < extra - int(extra))):  # helpers_per_question on average
            helper = people.helper(rng)
            if helper != asker and helper not in helpers:
                helpers.append(helper)
        for helper in helpers:
            delay = spec.mentor_delay if helper == mentor else spec.casual_delay
            answer = self.emit("COMMENT", site, thread, helper, self.later(question["created_at"], delay), question)
            follow = spec.mentee_follow_up_rate if helper == mentor else spec.follow_up_rate + 0.2
            self.chain(site, thread, answer, [(asker, follow, spec.follow_up_delay),
                                              (helper, spec.casual_reply_rate + 0.4, delay)])

    def noise(self) -> None:
        """Orphans, and parent details a producer often does not know."""
        spec, rng = self.spec, self.rng
        posts = [e for e in self.events if e["kind"] == "POST"]
        for _ in range(int(len(self.events) * spec.orphan_rate)):
            host = rng.choice(posts)
            self.counter += 1
            ghost = {"item_id": f"{spec.prefix}-gone{self.counter}", "actor_id": None, "created_at": None}
            self.emit("COMMENT", host["site"], host["thread_id"], f"{host['site']}/reader-orphan",
                      host["created_at"] + HOUR_MS, ghost)
        for record in self.events:
            if record["kind"] != "POST" and rng.random() < spec.missing_parent_info_rate:
                record["parent_actor_id"] = None
                record["parent_created_at"] = None


def simulate(spec: CommunitySpec, activity_seed: Optional[str] = None) -> Simulation:
    """Every site's threads and the noise, in creation order per thread (see :class:`Simulation`).
    ``activity_seed`` (default: the spec's seed) draws who does what; the planted pairs depend on the
    spec's seed alone."""
    simulation = Simulation(spec, activity_seed)
    for number in range(1, spec.sites + 1):
        simulation.site(number)
    simulation.noise()
    if spec.end_ms is not None:  # a later event answers only earlier ones: no answer loses its parent
        simulation.events = [e for e in simulation.events if e["created_at"] <= spec.end_ms]
    return simulation


@dataclasses.dataclass(frozen=True)
class _People:
    """Who engages with whom, and how: the planted pairs' strong ties among casual ones."""

    spec: CommunitySpec
    authors: list[str]
    readers: list[str]
    mentor_of: dict[str, str]
    favorite_of: dict[str, str]

    @property
    def everyone(self) -> list[str]:
        return self.authors + self.readers

    def engagement(self, owner: str, person: str) -> tuple[float, float, Delay, float]:
        """(chance ``person`` comments on ``owner``'s post, chance the owner answers, the owner's
        delay, chance the commenter answers the answer)."""
        spec = self.spec
        casual = (spec.casual_reply_rate, spec.casual_delay, spec.follow_up_rate)
        if self.mentor_of.get(person) == owner:  # a planted reader on the mentor's post
            return (spec.mentee_comment_rate, spec.mentor_reply_rate, spec.mentor_delay, spec.mentee_follow_up_rate)
        if self.mentor_of.get(owner) == person:  # the mentor on the planted reader's post
            return (spec.mentor_on_mentee_post_rate, *casual)
        if self.favorite_of.get(person) == owner and owner != self.mentor_of[person]:
            return (spec.favorite_comment_rate, *casual)
        if person in self.mentor_of:
            return (spec.mentee_casual_rate, *casual)
        if person in self.authors:
            return (spec.author_comment_rate, *casual)
        return (spec.casual_comment_rate, *casual)

    def helper(self, rng: random.Random) -> str:
        """Who answers a question: authors four times as likely as a reader."""
        if rng.random() < 4 * len(self.authors) / (4 * len(self.authors) + len(self.readers)):
            return rng.choice(self.authors)
        return rng.choice(self.readers)


def _invalid_record(spec: CommunitySpec, i: int) -> dict[str, Any]:
    """A record that must be dead-lettered, of a kind the Avro schema can still carry."""
    base = {
        "event_id": f"bad:{spec.prefix}:{i}", "kind": "COMMENT", "site": "blog-1", "thread_id": f"{spec.prefix}-p1",
        "item_id": f"{spec.prefix}-bad{i}", "parent_id": f"{spec.prefix}-p1", "actor_id": "blog-1/reader-x",
        "parent_actor_id": None, "created_at": spec.start_ms, "parent_created_at": None,
    }
    flaw = i % 3
    if flaw == 0:
        base["actor_id"] = ""  # missing actor
    elif flaw == 1:
        base["parent_id"] = None  # a COMMENT without parent
    else:
        base["created_at"] = spec.start_ms // 1000  # seconds sent as millis: 1970
    return base


def write_community(community: Community, events_path: Path, truth_path: Path) -> int:
    """Write the events (Avro or JSONL by extension) and the planted pairs (JSONL); the same
    community gives byte-identical files (the Avro sync marker is derived from the content)."""
    from producers.event_files import write_events

    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with truth_path.open("w", encoding="utf-8") as out:
        for pair in community.planted_pairs:
            out.write(json.dumps(pair) + "\n")
    first = community.events[0]["event_id"] if community.events else ""
    marker = hashlib.sha256(f"social-mentors synthetic {first} {len(community.events)}".encode()).digest()[:16]
    return write_events(events_path, community.events, sync_marker=marker)


def iter_planted(truth_path: Path) -> Iterator[dict[str, str]]:
    with truth_path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
