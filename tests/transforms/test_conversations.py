import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from helpers import DAY_MS, HOUR_MS, T0, event
from transforms.conversations import (
    SKIP_POST, SKIP_SELF_RESPONSE, Interaction, ResolveConversations, ThreadLedger,
)
from transforms.events import PARENT_UNRESOLVED

POST = event("p1", "POST", "author", T0)
COMMENT = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p1")
REPLY = event("r1", "REPLY", "author", T0 + 2 * HOUR_MS, parent="c1")


def run_batch(events):
    with beam.Pipeline("FnApiRunner") as p:
        out = p | beam.Create(events) | ResolveConversations()
        yield out


def test_a_comment_resolves_its_parent_author_and_time_from_the_post():
    for out in run_batch([POST, COMMENT, REPLY]):
        assert_that(out.interactions, equal_to([
            Interaction("s", "reader", "author", T0 + HOUR_MS, T0),
            Interaction("s", "author", "reader", T0 + 2 * HOUR_MS, T0 + HOUR_MS),
        ]))
        assert_that(out.skipped | beam.Map(lambda s: (s[0], s[1].item_id)), equal_to([(SKIP_POST, "p1")]), label="posts")


def test_a_reply_that_arrives_before_its_parent_still_counts():
    for out in run_batch([REPLY, COMMENT, POST]):
        assert_that(out.interactions | beam.Map(lambda i: i.parent_actor_id), equal_to(["author", "reader"]))
        assert_that(out.dead_letters, equal_to([]), label="no dead letters")


def test_the_same_event_delivered_twice_counts_once():
    for out in run_batch([POST, COMMENT, COMMENT._replace(origin="again:1"), COMMENT, REPLY]):
        assert_that(out.interactions | beam.combiners.Count.Globally(), equal_to([2]))
        assert_that(out.duplicates | beam.Map(lambda e: e.event_id), equal_to(["e-c1", "e-c1"]), label="dups")


def test_what_the_producer_sent_wins_over_what_resolution_finds():
    named = event("c2", "COMMENT", "reader", T0 + HOUR_MS, parent="p-elsewhere", parent_actor="author", parent_at=T0 - DAY_MS)
    for out in run_batch([named]):
        assert_that(out.interactions, equal_to([Interaction("s", "reader", "author", T0 + HOUR_MS, T0 - DAY_MS)]))


def test_a_response_whose_parent_never_arrives_is_a_dead_letter():
    orphan = event("c9", "COMMENT", "reader", T0, parent="gone")
    for out in run_batch([POST, orphan]):
        assert_that(
            out.dead_letters | beam.Map(lambda d: (d.error_kind, d.origin, d.event_id)),
            equal_to([(PARENT_UNRESOLVED, "test:c9", "e-c9")]),
        )


def test_self_responses_are_counted_not_scored():
    self_reply = event("c3", "COMMENT", "author", T0 + HOUR_MS, parent="p1")
    for out in run_batch([POST, self_reply]):
        assert_that(out.interactions, equal_to([]))
        assert_that(out.skipped | beam.Map(lambda s: s[0]), equal_to([SKIP_POST, SKIP_SELF_RESPONSE]), label="skips")


def test_pairs_never_cross_sites_or_threads():
    other_site = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p1", site="elsewhere", event_id="x")
    for out in run_batch([POST, other_site]):
        assert_that(out.interactions, equal_to([]))
        assert_that(out.dead_letters | beam.Map(lambda d: d.event_id), equal_to(["x"]), label="unresolved")


def test_the_ledger_rebuilt_from_state_excludes_expired_responses():
    orphan = event("c9", "COMMENT", "reader", T0, parent="gone")
    assert [e.item_id for e in ThreadLedger.rebuild([POST, orphan], set()).all_waiting()] == ["c9"]
    assert ThreadLedger.rebuild([POST, orphan], {"e-c9"}).all_waiting() == []


def _streaming(test_stream, allowed_lateness_s=2 * 86400.0):
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        yield p | test_stream | ResolveConversations(streaming=True, allowed_lateness_s=allowed_lateness_s,
                                                     dedupe_horizon_s=7 * 86400.0)


def _at(e):
    return TimestampedValue(e, e.created_at / 1000)


def test_streaming_a_reply_waits_for_its_parent_and_resolves_when_it_arrives():
    stream = (
        TestStream()
        .add_elements([_at(REPLY)])
        .advance_watermark_to((T0 + 3 * HOUR_MS) / 1000)
        .add_elements([_at(COMMENT), _at(COMMENT)])  # the parent, delivered twice
        .advance_watermark_to((T0 + DAY_MS) / 1000)
        .add_elements([_at(POST)])
        .advance_watermark_to_infinity()
    )
    for out in _streaming(stream):
        assert_that(out.interactions, equal_to([
            Interaction("s", "author", "reader", T0 + 2 * HOUR_MS, T0 + HOUR_MS),
            Interaction("s", "reader", "author", T0 + HOUR_MS, T0),
        ]))
        assert_that(out.duplicates | beam.Map(lambda e: e.item_id), equal_to(["c1"]), label="dups")
        assert_that(out.dead_letters, equal_to([]), label="no dead letters")


def test_streaming_a_parent_later_than_the_allowed_lateness_leaves_a_dead_letter():
    stream = (
        TestStream()
        .add_elements([_at(REPLY)])
        .advance_watermark_to((T0 + 2 * HOUR_MS + 2 * DAY_MS + 1000) / 1000)  # the reply's deadline passes
        .add_elements([_at(COMMENT)])
        .advance_watermark_to_infinity()
    )
    for out in _streaming(stream):
        # The reply expired before its parent came; the comment itself waits for the post, which
        # never comes: a dead letter too, once.
        assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.event_id)),
                    equal_to([(PARENT_UNRESOLVED, "e-r1"), (PARENT_UNRESOLVED, "e-c1")]))
        assert_that(out.interactions, equal_to([]), label="nothing scored")
