"""The threads of a synthetic community, written in creation order: blog threads, Q&A threads, chains.

In: a :class:`~producers.synthetic_spec.CommunitySpec`. Out: a :class:`Simulation` holding the events
(dicts, no re-deliveries or invalid records yet, each thread's events in creation order) and the planted
pairs. ``producers.synthetic`` adds delivery noise for files and topics; ``producers.synthetic_live``
plays it on the clock. Why apart: the people and their conversations are one idea, delivery another.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Any, Optional

from producers.synthetic_spec import DAY_MS, HOUR_MS, CommunitySpec, Delay

MAX_REPLIES_IN_A_CHAIN = 6


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
        people = People(spec, authors, readers, mentor_of, favorite_of)

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

    def blog_thread(self, site: str, owner: str, people: "People") -> None:
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

    def question_thread(self, site: str, asker: str, people: "People") -> None:
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
class People:
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


