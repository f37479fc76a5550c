"""bench/latency_stats.py: which published records are reader comments of which (pair, window), and a
comment's delay from its publish to the first poll whose row counted it."""
import pytest

from bench.latency_stats import Comment, CommentLedger, RowWatch, buckets, delays, percentile, summarize

WEEK_MS = 7 * 86_400_000
MONDAY_MS = 4 * 86_400_000 + 2900 * WEEK_MS  # a window start (windows align to Monday 1970-01-05)


def record(event_id, kind, actor, parent=None, parent_actor=None, at=MONDAY_MS + 1000, thread="t1"):
    return {"event_id": event_id, "kind": kind, "site": "s", "thread_id": thread, "item_id": event_id,
            "parent_id": parent, "actor_id": actor, "parent_actor_id": parent_actor, "created_at": at,
            "parent_created_at": None}


def test_the_ledger_counts_what_the_pipeline_counts_as_reader_comments_with_their_ordinals():
    ledger = CommentLedger(WEEK_MS)
    assert ledger.add(record("p1", "POST", "a"), 1.0) is None  # a post is no comment
    first = ledger.add(record("c1", "COMMENT", "r", "p1"), 2.0)  # parent's author found from the post
    assert first == Comment(2.0, ("s", "a", "r", MONDAY_MS), 1)
    assert ledger.add(record("c1", "COMMENT", "r", "p1"), 2.5) is None  # a re-delivery counts once
    assert ledger.add(record("x1", "REPLY", "a", "p1"), 3.0) is None  # a self-response
    assert ledger.add(record("o1", "COMMENT", "r", "gone"), 3.5) is None  # an orphan: its parent never came
    reply = ledger.add(record("r1", "REPLY", "a", "c1"), 4.0)  # the author answering r: a comment of (r, a)
    assert reply.key == ("s", "r", "a", MONDAY_MS) and reply.ordinal == 1
    given = ledger.add(record("c2", "COMMENT", "r", "elsewhere", parent_actor="a", thread="t2"), 5.0)
    assert given.key == ("s", "a", "r", MONDAY_MS) and given.ordinal == 2  # the producer's parent_actor_id wins
    next_week = ledger.add(record("c3", "COMMENT", "r", "p1", at=MONDAY_MS + WEEK_MS), 6.0)
    assert next_week.key == ("s", "a", "r", MONDAY_MS + WEEK_MS) and next_week.ordinal == 1
    assert ledger.counts == {("s", "a", "r", MONDAY_MS): 2, ("s", "r", "a", MONDAY_MS): 1,
                             ("s", "a", "r", MONDAY_MS + WEEK_MS): 1}


def test_a_comment_is_shown_by_the_first_poll_whose_count_reaches_its_ordinal():
    key, other = ("s", "a", "r", MONDAY_MS), ("s", "b", "r", MONDAY_MS)
    watch = RowWatch()
    watch.update(10.0, [("s", "a", "r", MONDAY_MS, 1)])
    watch.update(10.5, [("s", "a", "r", MONDAY_MS, 1)])  # no change: the first sighting stays
    watch.update(11.0, [("s", "a", "r", MONDAY_MS, 3), ("s", "b", "r", MONDAY_MS, 1)])  # 2 and 3 at once
    comments = [Comment(9.0, key, 1), Comment(9.5, key, 2), Comment(10.2, key, 3), Comment(10.9, other, 1),
                Comment(10.95, key, 4)]
    found = delays(comments, watch)
    assert found[:4] == pytest.approx([1.0, 1.5, 0.8, 0.1]) and found[4] is None  # 4 not shown yet
    assert watch.behind({key: 4, other: 1}) == 1


def test_percentiles_count_a_comment_never_shown_as_the_slowest():
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 100) == 4.0
    assert percentile([1.0, None, None], 50) is None  # the median comment never showed
    assert percentile([], 50) is None
    stats = summarize([1.0, 1.0, 1.0, 2.0, 5.0, 9.0, None, 8.0, 9.0])
    assert stats["never_shown"] == 1 and stats["p50_s"] == 5.0 and stats["max_s"] is None
    assert (stats["p50_first_third_s"], stats["p50_last_third_s"]) == (1.0, 9.0)  # the lag grew
    assert (stats["p50_shown_s"], stats["p99_shown_s"]) == (2.0, 9.0)


def test_buckets_group_comments_by_publish_time_with_the_last_lag_sample_of_each():
    key = ("s", "a", "r", MONDAY_MS)
    comments = [Comment(100.0, key, 1), Comment(104.0, key, 2), Comment(112.0, key, 3)]
    rows = buckets(comments, [1.0, 3.0, None], 100.0, 10.0, [(101.0, 50, 5), (109.0, 80, 7), (115.0, 90, 0)])
    assert rows == [
        {"from_s": 0.0, "comments": 2, "never_shown": 0, "p50_s": 1.0, "kafka_end": 80, "kafka_lag": 7},
        {"from_s": 10.0, "comments": 1, "never_shown": 1, "p50_s": None, "kafka_end": 90, "kafka_lag": 0},
    ]
