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
The shape lives in ``synthetic_spec``, the threads in ``synthetic_simulation``; this module adds
delivery (re-deliveries, lateness, invalid records) and writes the files.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from producers.synthetic_simulation import simulate
from producers.synthetic_spec import DAY_MS, HOUR_MS, MINUTE_MS, START_MS, CommunitySpec, Delay  # noqa: F401


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

