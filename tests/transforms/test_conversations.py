"""Who answers whom: reader comments and author replies, by hand-computed cases, in batch and streaming."""
import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from helpers import DAY_MS, HOUR_MS, T0, event
from transforms.conversations import ResolveConversations
from transforms.thread_ledger import SKIP_POST, SKIP_SELF_RESPONSE, Contribution, ThreadLedger, thread_key
from transforms.events import PARENT_UNRESOLVED

MINUTE_MS = 60_000
POST = event("p1", "POST", "author", T0)
COMMENT = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p1")
REPLY = event("r1", "REPLY", "author", T0 + 2 * HOUR_MS, parent="c1")


def comment(author, reader, at):
    return Contribution("s", author, reader, False, at, at, None)


def reply(author, reader, answered_at, at):
    return Contribution("s", author, reader, True, answered_at, at, (at - answered_at) / 1000)


def run_batch(events):
    with beam.Pipeline("FnApiRunner") as p:
        out = p | beam.Create(events) | ResolveConversations()
        yield out


def without_records(contributions):
    return contributions | "NoRecords" >> beam.Map(lambda c: c._replace(record=None))


def test_a_comment_on_a_post_and_the_authors_answer():
    for out in run_batch([POST, COMMENT, REPLY]):
        # The reader's comment is a reader comment of (author, reader); the author's answer to it is an
        # author reply of (author, reader) in the comment's window, and a reader comment of (reader, author).
        assert_that(out.interactions, equal_to([
            comment("author", "reader", T0 + HOUR_MS), comment("reader", "author", T0 + 2 * HOUR_MS)]))
        assert_that(out.author_replies, equal_to([reply("author", "reader", T0 + HOUR_MS, T0 + 2 * HOUR_MS)]),
                    label="author replies")
        assert_that(out.skipped | beam.Map(lambda s: (s[0], s[1].item_id)), equal_to([(SKIP_POST, "p1")]), label="posts")


def event_times_ms(contributions, label):
    """(anchor_at, whether the element's event time is its anchor_at) of each contribution."""
    return contributions | label >> beam.Map(
        lambda c, at=beam.DoFn.TimestampParam: (c.anchor_at, at.micros // 1000 == c.anchor_at))


def test_batch_contributions_carry_no_event_time_since_nothing_bounded_reads_it():
    # A bounded run windows by anchor_at in the key (transforms.windowing): a TimestampedValue per
    # contribution cost ~2.5 of 19.5 profiled seconds and was never read. Both batch resolvers.
    # (They keep the time of the shuffle's output they came from.)
    for batched in (True, False):
        with beam.Pipeline("FnApiRunner") as p:
            out = p | beam.Create([POST, COMMENT, REPLY]) | ResolveConversations(batched=batched)
            assert_that(event_times_ms(out.interactions, "CommentTimes"),
                        equal_to([(T0 + HOUR_MS, False), (T0 + 2 * HOUR_MS, False)]))
            assert_that(event_times_ms(out.author_replies, "ReplyTimes"), equal_to([(T0 + HOUR_MS, False)]),
                        label="author replies")


def test_a_reply_after_midnight_is_credited_to_the_window_of_the_comment_it_answers():
    late_evening = T0 + DAY_MS - 10 * MINUTE_MS  # 23:50
    after_midnight = T0 + DAY_MS + 10 * MINUTE_MS  # 00:10 the next day
    thread = [POST, event("c1", "COMMENT", "reader", late_evening, parent="p1"),
              event("r1", "REPLY", "author", after_midnight, parent="c1")]
    for out in run_batch(thread):
        assert_that(out.author_replies, equal_to([reply("author", "reader", late_evening, after_midnight)]))
        assert_that(out.author_replies | beam.Map(lambda c: c.latency_s), equal_to([1200.0]), label="latency")


def test_an_author_commenting_on_the_readers_post_is_not_an_author_reply():
    readers_post = event("p2", "POST", "reader", T0)
    authors_comment = event("c2", "COMMENT", "author", T0 + HOUR_MS, parent="p2")
    for out in run_batch([readers_post, authors_comment]):
        # Only a reader comment of (reader, author): the "author" is the reader here.
        assert_that(out.interactions, equal_to([comment("reader", "author", T0 + HOUR_MS)]))
        assert_that(out.author_replies, equal_to([]), label="no author reply")


def test_a_reply_chain_a_r_a_r():
    chain = [
        POST,  # by author
        event("c1", "COMMENT", "reader", T0 + 1 * HOUR_MS, parent="p1"),
        event("r1", "REPLY", "author", T0 + 2 * HOUR_MS, parent="c1"),
        event("r2", "REPLY", "reader", T0 + 3 * HOUR_MS, parent="r1"),
    ]
    for out in run_batch(chain):
        assert_that(out.interactions, equal_to([
            comment("author", "reader", T0 + 1 * HOUR_MS),
            comment("reader", "author", T0 + 2 * HOUR_MS),
            comment("author", "reader", T0 + 3 * HOUR_MS),
        ]))
        # r1: author answers the reader's comment on the author's post. r2: the reader answers the
        # author's response (r1) to the reader's own comment: an author reply of (reader, author).
        assert_that(out.author_replies, equal_to([
            reply("author", "reader", T0 + 1 * HOUR_MS, T0 + 2 * HOUR_MS),
            reply("reader", "author", T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS),
        ]), label="author replies")


def test_a_reader_answering_another_reader_is_a_reader_comment_only():
    thread = [POST, event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p1"),
              event("c2", "REPLY", "other", T0 + 2 * HOUR_MS, parent="c1")]
    for out in run_batch(thread):
        assert_that(out.interactions, equal_to([comment("author", "reader", T0 + HOUR_MS),
                                                comment("reader", "other", T0 + 2 * HOUR_MS)]))
        assert_that(out.author_replies, equal_to([]), label="no author reply")


def test_a_reply_that_arrives_before_its_parent_still_counts():
    for out in run_batch([REPLY, COMMENT, POST]):
        assert_that(out.interactions | beam.Map(lambda c: c.author_id), equal_to(["author", "reader"]))
        assert_that(out.author_replies | beam.combiners.Count.Globally(), equal_to([1]), label="one author reply")
        assert_that(out.dead_letters, equal_to([]), label="no dead letters")


def test_what_the_producer_sent_wins_over_what_resolution_finds():
    named = event("c2", "COMMENT", "reader", T0 + HOUR_MS, parent="p-elsewhere", parent_actor="author", parent_at=T0 - DAY_MS)
    for out in run_batch([named]):
        assert_that(out.interactions, equal_to([comment("author", "reader", T0 + HOUR_MS)]))


def test_a_response_whose_parent_never_arrives_is_a_dead_letter_with_its_record():
    orphan = event("c9", "COMMENT", "reader", T0, parent="gone")
    for out in run_batch([POST, orphan]):
        assert_that(
            out.dead_letters | beam.Map(lambda d: (d.error_kind, d.origin, d.event_id, json.loads(d.raw_payload)["item_id"])),
            equal_to([(PARENT_UNRESOLVED, "test:c9", "e-c9", "c9")]),
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


def test_thread_keys_cannot_collide_across_sites():
    # site "a\x1fb" + thread "c" and site "a" + thread "b\x1fc" made the same key before.
    first = event("p", "POST", "x", T0, site="a\x1fb", thread="c")
    second = event("p", "POST", "x", T0, site="a", thread="b\x1fc")
    assert thread_key(first) != thread_key(second)


def test_the_ledger_rebuilt_from_state_excludes_expired_responses():
    orphan = event("c9", "COMMENT", "reader", T0, parent="gone")
    assert [e.item_id for e in ThreadLedger.rebuild([POST, orphan], set()).all_waiting()] == ["c9"]
    assert ThreadLedger.rebuild([POST, orphan], {"e-c9"}).all_waiting() == []


def test_streaming_credits_each_author_reply_once_whichever_of_the_three_events_comes_last():
    import itertools

    for order in itertools.permutations([POST, COMMENT, REPLY]):
        ledger = ThreadLedger()
        outcomes = [outcome for e in order for outcome in ledger.add(e)]
        replies = [value for kind, value in outcomes if kind == "author_replies"]
        assert replies == [reply("author", "reader", T0 + HOUR_MS, T0 + 2 * HOUR_MS)], order


def _streaming(test_stream, allowed_lateness_s=2 * 86400.0):
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline("BundleBasedDirectRunner", options=options) as p:
        yield p | test_stream | ResolveConversations(streaming=True, allowed_lateness_s=allowed_lateness_s,
                                                     dedupe_horizon_s=9 * 86400.0)


def _at(e):
    return TimestampedValue(e, e.created_at / 1000)


def settled(stream, newest_ms):
    """The stream, its watermark past newest_ms, then at infinity. The resolver settles an event once the
    watermark passes it (a timer); the DirectRunner does not hold the watermark for timers, so what they
    emit when the watermark jumps to infinity would reach assert_that after it has fired."""
    return stream.advance_watermark_to((newest_ms + 1) / 1000 + 1).advance_watermark_to_infinity()


def test_streaming_a_reply_waits_for_its_parent_and_resolves_when_it_arrives():
    stream = (
        TestStream()
        .add_elements([_at(REPLY)])
        .advance_watermark_to((T0 + 3 * HOUR_MS) / 1000)
        .add_elements([_at(COMMENT)])
        .advance_watermark_to((T0 + DAY_MS) / 1000)
        .add_elements([_at(POST)])
        .advance_watermark_to_infinity()
    )
    for out in _streaming(stream):
        assert_that(without_records(out.interactions), equal_to([
            comment("reader", "author", T0 + 2 * HOUR_MS), comment("author", "reader", T0 + HOUR_MS)]))
        assert_that(out.author_replies, equal_to([reply("author", "reader", T0 + HOUR_MS, T0 + 2 * HOUR_MS)]),
                    label="the author reply, once the post says whom the comment answered")
        assert_that(out.dead_letters, equal_to([]), label="no dead letters")


def test_streaming_contributions_are_timestamped_at_their_anchor_for_the_panes():
    stream = TestStream().add_elements([_at(POST), _at(COMMENT), _at(REPLY)])
    for out in _streaming(settled(stream, REPLY.created_at)):
        assert_that(event_times_ms(out.interactions, "CommentTimes"),
                    equal_to([(T0 + HOUR_MS, True), (T0 + 2 * HOUR_MS, True)]))
        assert_that(event_times_ms(out.author_replies, "ReplyTimes"), equal_to([(T0 + HOUR_MS, True)]),
                    label="author replies at the answered comment's time")


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
        # never comes: a dead letter too, once. The expired reply is never credited afterwards.
        assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.event_id)),
                    equal_to([(PARENT_UNRESOLVED, "e-r1"), (PARENT_UNRESOLVED, "e-c1")]))
        assert_that(out.interactions, equal_to([]), label="nothing scored")
        assert_that(out.author_replies, equal_to([]), label="no credit")


# Item c4 claimed three times: d4 and d5 by R at the same instant, d6 by EVIL half an hour later though
# delivered first (in.jsonl:1). Its holder is its first claim: created first, at the same instant
# delivered first.
C4 = event("c4", "COMMENT", "R", T0 + HOUR_MS, parent="p1", event_id="d4")._replace(origin="in.jsonl:2")
C4_AGAIN = event("c4", "COMMENT", "R", T0 + HOUR_MS, parent="p1", event_id="d5")._replace(origin="in.jsonl:3")
C4_EVIL = event("c4", "COMMENT", "EVIL", T0 + 90 * MINUTE_MS, parent="p1", event_id="d6")._replace(origin="in.jsonl:1")
ANSWER_TO_C4 = event("r4", "REPLY", "author", T0 + 2 * HOUR_MS, parent="c4")


def test_an_item_id_claimed_by_another_event_id_is_a_duplicate_item_dead_letter_and_the_first_claim_keeps_it():
    from transforms.events import DUPLICATE_ITEM

    for order in ([POST, C4, C4_AGAIN, C4_EVIL, ANSWER_TO_C4], [ANSWER_TO_C4, C4_EVIL, C4_AGAIN, POST, C4]):
        for out in run_batch(order):
            # R's comment counts once, EVIL gets nothing (though delivered first), and the answer to c4
            # answers R.
            assert_that(out.interactions, equal_to([
                comment("author", "R", T0 + HOUR_MS), comment("R", "author", T0 + 2 * HOUR_MS)]))
            assert_that(out.author_replies, equal_to([reply("author", "R", T0 + HOUR_MS, T0 + 2 * HOUR_MS)]),
                        label="author reply")
            assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.origin, d.event_id, "'d4'" in d.message
                                                               and "in.jsonl:2" in d.message)),
                        equal_to([(DUPLICATE_ITEM, "in.jsonl:3", "d5", True), (DUPLICATE_ITEM, "in.jsonl:1", "d6", True)]),
                        label="duplicates")


def test_the_ledger_keeps_the_first_claim_added_and_the_stream_adds_them_in_claim_order():
    from transforms.events import DUPLICATE_ITEM

    # The ledger keeps the claim added first ...
    ledger = ThreadLedger()
    outcomes = [outcome for e in (POST, C4_EVIL, C4, ANSWER_TO_C4) for outcome in ledger.add(e)]
    dead = [value for kind, value in outcomes if kind == "dead_letters"]
    assert [(d.error_kind, d.event_id) for d in dead] == [(DUPLICATE_ITEM, "d4")] and "'d6'" in dead[0].message
    assert [value.reader_id for kind, value in outcomes if kind == "reader_comment"] == ["EVIL", "author"]
    # ... and the streaming resolver adds them once the watermark passes them, in claim order: R's d4
    # holds c4 though EVIL's d6 (lowest origin) and d5 reach it first: none is due before d4 arrives,
    # since the watermark cannot pass d4's created_at before d4 is read; d4 and d5, created at the same
    # instant, are due together, and d4 (in.jsonl:2) comes first.
    stream = (
        TestStream()
        .add_elements([_at(POST), _at(C4_EVIL)])
        .advance_watermark_to((T0 + MINUTE_MS // 2) / 1000)
        .add_elements([_at(C4_AGAIN)])
        .advance_watermark_to((T0 + 30 * MINUTE_MS) / 1000)  # short of every claim's time
        .add_elements([_at(C4)])
        .add_elements([_at(ANSWER_TO_C4)])
    )
    for out in _streaming(settled(stream, ANSWER_TO_C4.created_at)):
        assert_that(without_records(out.interactions), equal_to([
            comment("author", "R", T0 + HOUR_MS), comment("R", "author", T0 + 2 * HOUR_MS)]))
        assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.event_id)),
                    equal_to([(DUPLICATE_ITEM, "d5"), (DUPLICATE_ITEM, "d6")]), label="duplicates")


def test_a_claim_created_earlier_holds_the_item_whatever_its_origin_in_batch_and_streaming():
    # A producer that writes one thread to several partitions: the claim created first sits at the
    # higher partition. Its origin is later, and it holds the item all the same, in both resolvers.
    from transforms.events import DUPLICATE_ITEM

    first = event("c9", "COMMENT", "W", T0 + 10 * MINUTE_MS, parent="p1", event_id="d9")._replace(origin="kafka:t/2@5")
    later = event("c9", "COMMENT", "L", T0 + 40 * MINUTE_MS, parent="p1", event_id="d10")._replace(origin="kafka:t/0@7")
    answer = event("r9", "REPLY", "author", T0 + HOUR_MS, parent="c9")._replace(origin="kafka:t/0@8")
    post = POST._replace(origin="kafka:t/2@4")
    expected = [comment("author", "W", T0 + 10 * MINUTE_MS), comment("W", "author", T0 + HOUR_MS)]
    for out in run_batch([post, later, answer, first]):
        assert_that(out.interactions, equal_to(expected))
        assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.event_id)),
                    equal_to([(DUPLICATE_ITEM, "d10")]), label="duplicates")
    # The stream reads partition 2 first, then partition 0 once the watermark is past d9's time.
    stream = (
        TestStream()
        .add_elements([_at(post), _at(first)])
        .advance_watermark_to((T0 + 20 * MINUTE_MS) / 1000)
        .add_elements([_at(later), _at(answer)])
    )
    for out in _streaming(settled(stream, answer.created_at)):
        assert_that(without_records(out.interactions), equal_to(expected))
        assert_that(out.dead_letters | beam.Map(lambda d: (d.error_kind, d.event_id)),
                    equal_to([(DUPLICATE_ITEM, "d10")]), label="duplicates")
