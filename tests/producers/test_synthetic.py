"""The synthetic community: realistic enough to exercise every definition, reproducible, placeable in time."""
import collections
import dataclasses
import datetime as dt
import statistics

import pytest

from producers.community_stats import community_statistics
from producers.synthetic import (DAY_MS, HOUR_MS, START_MS, CommunitySpec, generate_community,
                                 write_community)
from transforms.events import InvalidEvent, event_from_record

MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def community():
    return generate_community(CommunitySpec(seed=7))


@pytest.fixture(scope="module")
def stats(community):
    return community_statistics(community.events)


def test_author_reply_delays_are_heavy_tailed_from_minutes_to_days(stats):
    delays = stats.author_reply_delay_s
    assert delays["min"] < 10 * 60  # minutes
    assert delays["p99"] > DAY_MS / 1000 and delays["max"] > 3 * DAY_MS / 1000  # days
    assert delays["p90"] > 10 * delays["p10"] and delays["max"] > 50 * delays["p50"]  # a long tail


def test_a_measurable_share_of_author_replies_crosses_a_utc_midnight(stats):
    assert stats.author_replies > 500
    assert 0.05 < stats.author_replies_crossing_midnight / stats.author_replies < 0.6


def test_readers_also_post_so_pairs_exist_both_ways(community, stats):
    assert stats.two_way_pairs > 100
    posters = {e["actor_id"] for e in community.events if e["kind"] == "POST" and "/reader-" in e["actor_id"]}
    assert len(posters) > 20


def test_qa_threads_the_asker_posts_a_helper_answers_and_they_go_on(community):
    """A question (a reader's post), a helper's answer, the asker's follow-up, the helper's answer back."""
    by_item = {(e["site"], e["item_id"]): e for e in community.events if not e["event_id"].startswith("bad:")}
    exchanges = set()
    for e in by_item.values():
        answer = by_item.get((e["site"], e["parent_id"]))
        follow_up = answer and by_item.get((e["site"], answer["parent_id"]))
        question = follow_up and by_item.get((e["site"], follow_up["parent_id"]))
        if (question and question["kind"] == "POST" and "/reader-" in question["actor_id"]
                and follow_up["actor_id"] == e["actor_id"] != question["actor_id"] == answer["actor_id"]):
            exchanges.add(question["item_id"])
    assert community.thread_counts["question"] > 50 and community.thread_counts["blog"] > 300
    assert len(exchanges) > 20


def test_chains_readers_answering_readers_replies_before_parents(stats):
    assert stats.chains_of_four > 100  # A -> R -> A -> R
    assert stats.reader_to_reader > 100
    assert 0.01 < stats.before_parent / stats.responses < 0.2


def test_redeliveries_carry_the_same_content_and_invalid_records_the_configured_rate():
    generated = generate_community(CommunitySpec(seed=7, invalid_rate=0.01))
    stats = community_statistics(generated.events)
    assert stats.redeliveries == generated.duplicate_count > 50 and stats.conflicting_redeliveries == 0
    assert generated.invalid_count == int((len(generated.events) - generated.invalid_count) * 0.01)
    invalid = 0
    for record in generated.events:
        try:
            event_from_record(record, "test")
        except InvalidEvent:
            invalid += 1
    assert invalid == generated.invalid_count == stats.invalid


def test_planted_mentors_answer_their_readers_quickly_and_often(community):
    by_item = {(e["site"], e["item_id"]): e for e in community.events if not e["event_id"].startswith("bad:")}
    planted = {(p["site"], p["author_id"], p["reader_id"]) for p in community.planted_pairs}
    assert len(planted) == 40
    comments = collections.Counter()
    answers = collections.defaultdict(list)
    casual = []
    for e in by_item.values():
        parent = by_item.get((e["site"], e["parent_id"]))
        grand = parent and by_item.get((e["site"], parent["parent_id"]))
        if parent and parent["actor_id"] != e["actor_id"]:
            comments[(e["site"], parent["actor_id"], e["actor_id"])] += 1
        if grand and grand["actor_id"] == e["actor_id"] != parent["actor_id"]:  # an author reply
            key = (e["site"], e["actor_id"], parent["actor_id"])
            (answers[key] if key in planted else casual).append(e["created_at"] - parent["created_at"])
    for key in planted:
        assert comments[key] >= 3 and len(answers[key]) >= max(2, 0.3 * comments[key]), key
    assert sum(len(a) for a in answers.values()) > 0.6 * sum(comments[key] for key in planted)
    assert statistics.median(d for a in answers.values() for d in a) < HOUR_MS < 3 * HOUR_MS < statistics.median(casual)


def test_event_and_item_ids_never_collide_across_seeds():
    one, other = (generate_community(CommunitySpec(seed=s, invalid_rate=0.01)) for s in (7, 8))
    ids = {e["event_id"] for e in one.events}
    assert not ids & {e["event_id"] for e in other.events}
    items = {(e["site"], e["item_id"]) for e in one.events}
    assert not items & {(e["site"], e["item_id"]) for e in other.events}


@pytest.mark.parametrize("name", ["events.avro", "events.jsonl"])
def test_the_same_seed_writes_byte_identical_files(tmp_path, name):
    spec = CommunitySpec(seed=3, invalid_rate=0.01)
    written = []
    for run in ("a", "b", "c"):
        folder = tmp_path / run
        write_community(generate_community(spec if run != "c" else dataclasses.replace(spec, seed=4)),
                        folder / name, folder / "truth.jsonl")
        written.append(((folder / name).read_bytes(), (folder / "truth.jsonl").read_bytes()))
    assert written[0] == written[1]
    assert written[0][0] != written[2][0]


def test_start_places_the_community_in_time():
    start = int(dt.datetime(2026, 11, 20, 13, 30, tzinfo=dt.timezone.utc).timestamp() * 1000)
    generated = generate_community(CommunitySpec(seed=7, days=14, start_ms=start))
    valid = [e for e in generated.events if not e["event_id"].startswith("bad:")]
    posts = [e["created_at"] for e in valid if e["kind"] == "POST"]
    assert start <= min(posts) and max(posts) < start + 14 * DAY_MS
    assert min(e["created_at"] for e in valid) >= start
    assert generate_community(CommunitySpec(seed=7)).events[0]["created_at"] >= START_MS


def test_end_leaves_out_what_has_not_happened_yet():
    spec = CommunitySpec(seed=7, days=14)
    whole = generate_community(spec).events
    end = spec.start_ms + 10 * DAY_MS
    cut = generate_community(dataclasses.replace(spec, end_ms=end)).events
    assert max(e["created_at"] for e in cut) <= end
    assert {e["event_id"] for e in cut} == {e["event_id"] for e in whole if e["created_at"] <= end}
