"""The batched bounded transforms (shuffles per shard, transforms/batching.py) against the element-wise
ones they replace, which stay as the oracle: same rows, same dead letters, same skips and duplicates."""
import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from producers.synthetic import CommunitySpec, generate_community
from transforms.batching import shard_of
from transforms.conversations import ResolveConversations
from transforms.dedupe import DedupeEvents
from transforms.events import Event, event_from_record
from transforms.score import ScorePairs, ScoringConfig
from transforms.windowing import KeyByWindow

T0 = 1_767_571_200_000  # 2026-01-05 00:00 UTC, a Monday
HOUR_MS = 3_600_000


def tricky_events() -> list[Event]:
    """Copies across threads and sites, a thread id on two sites, a conflicting copy, a copy earlier in time but later in file
    order, a reply before its parent, an orphan."""
    def ev(event_id, kind, thread, item, parent, actor, at, origin, site="s", parent_actor=None):
        return Event(event_id, kind, site, thread, item, parent, actor, parent_actor, at, None, origin)

    return [
        ev("p1", "POST", "t1", "p1", None, "author", T0, "f:1"),
        ev("r1", "REPLY", "t1", "r1", "c1", "author", T0 + 2 * HOUR_MS, "f:2"),  # before its parent
        ev("c1", "COMMENT", "t1", "c1", "p1", "reader", T0 + HOUR_MS, "f:3"),
        ev("c1", "COMMENT", "t1", "c1", "p1", "reader", T0 + HOUR_MS, "f:4"),  # a re-delivery
        ev("c1", "COMMENT", "t2", "c9", "p1", "reader", T0 - HOUR_MS, "f:5"),  # same id, another thread
        ev("c1", "COMMENT", "t1", "c1", "p1", "reader", T0 + HOUR_MS, "g:1", site="other"),  # another site
        ev("o1", "COMMENT", "t1", "c1", "p1", "reader", T0, "g:2", site="other"),  # same thread id, other site
        ev("x1", "COMMENT", "t3", "x1", "gone", "someone", T0, "f:6"),  # orphan: PARENT_UNRESOLVED
        ev("x2", "COMMENT", "t3", "x2", "gone", "someone", T0, "f:10"),
        ev("x2", "COMMENT", "t3", "x2", "gone", "someone", T0, "f:9"),  # earlier in file order (9 < 10)
    ]


def community_events() -> list[Event]:
    records = generate_community(CommunitySpec(seed=3)).events
    return [event_from_record(record, f"events.avro:{n}") for n, record in enumerate(records, start=1)]


def differences(fast, slow, label):
    """(element, {side: count}) for each element the two PCollections do not hold equally often."""
    def counted(pcoll, side):
        return (pcoll | f"{label}Repr{side}" >> beam.Map(repr)
                | f"{label}Count{side}" >> beam.combiners.Count.PerElement())

    return (
        {"fast": counted(fast, "fast"), "slow": counted(slow, "slow")}
        | f"{label}Join" >> beam.CoGroupByKey()
        | f"{label}Differ" >> beam.Filter(lambda kv: list(kv[1]["fast"]) != list(kv[1]["slow"]))
    )


def run_both(events: list[Event]) -> None:
    with TestPipeline() as p:
        source = p | beam.Create(events)
        outputs = {}
        for batched in (True, False):
            name = "Fast" if batched else "Slow"
            unique = source | f"Dedupe{name}" >> DedupeEvents(batched=batched)
            resolved = unique.events | f"Resolve{name}" >> ResolveConversations(batched=batched)
            rows = (
                (resolved.interactions, resolved.author_replies)
                | f"All{name}" >> beam.Flatten()
                | f"Window{name}" >> KeyByWindow(7 * 86400)
                | f"Score{name}" >> ScorePairs(ScoringConfig(), run_started_at=1, batched=batched)
                | f"NoClock{name}" >> beam.Map(lambda row: sorted((k, v) for k, v in row.items() if k != "computed_at"))
            )
            outputs[name] = {
                "events": unique.events, "duplicates": unique.duplicates, "conflicts": unique.dead_letters,
                "interactions": resolved.interactions, "author_replies": resolved.author_replies,
                "skipped": resolved.skipped, "unresolved": resolved.dead_letters, "rows": rows,
            }
        for what in outputs["Fast"]:
            assert_that(differences(outputs["Fast"][what], outputs["Slow"][what], what), equal_to([]),
                        label=f"same {what}")


def test_batched_transforms_match_the_element_wise_ones_on_tricky_events():
    run_both(tricky_events())


def test_batched_transforms_match_the_element_wise_ones_on_a_community():
    run_both(community_events())


def test_shards_are_stable_across_processes_and_in_range():
    # crc32, not hash(): Python salts str hashes per process, which would split a key across shards.
    assert shard_of("1:s/t1", 32) == 11  # zlib.crc32(b"1:s/t1") % 32, the same in every process
    assert {shard_of(f"id{n}", 8) for n in range(200)} == set(range(8))
    assert shard_of(("s", "a", "r", 1, 2), 32) in range(32)
