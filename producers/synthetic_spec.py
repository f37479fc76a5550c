"""The shape of a synthetic community: who is in it, how often they post and answer, how long they take.

In: nothing. Out: :class:`CommunitySpec` (frozen, hashable: the same spec gives the same community) and
:class:`Delay`, the log-normal delay every answer takes. ``producers.synthetic`` generates from it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from typing import Optional

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = int(dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc).timestamp() * 1000)


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


