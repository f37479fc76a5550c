"""The streaming resolver over long threads and awkward arrival orders (issue 11): each event is resolved
against compact per-thread state, and the outcomes are the ones the resolver gave before, when it
rebuilt the whole thread from a bag for every event (bench/resolver_cost.py keeps that one, frozen,
as the oracle)."""
import random

from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from bench.resolver_cost import BeforeStreamingResolveThreadFn, resolved
from helpers import DAY_MS, HOUR_MS, T0, event
from transforms.conversations import StreamingResolveThreadFn
from transforms.events import DUPLICATE_ITEM, PARENT_UNRESOLVED
from transforms.thread_ledger import LedgerCache, StreamingThread, ThreadLedger

MINUTE_MS = 60_000
LATENESS_S, HORIZON_S = 2 * 86400.0, 9 * 86400.0


def stream_of(steps):
    """steps: (events, watermark in millis or None) pairs, then the watermark to infinity."""
    stream = TestStream()
    for events, watermark in steps:
        if events:
            stream = stream.add_elements([TimestampedValue(e, e.created_at / 1000) for e in events])
        if watermark is not None:
            stream = stream.advance_watermark_to(watermark / 1000)
    return stream.advance_watermark_to_infinity()


def both(steps, cached_events=200_000):
    """(before, now): the frozen resolver's outputs and the current one's, for the same stream.
    Contributions are compared with their timestamps (the panes window by them); skips and dead letters
    without: the resolver now settles an event once the watermark passes it, so they leave at other
    moments than the frozen one's (which emitted them as events arrived), with nothing reading their time."""
    before = resolved(stream_of(steps), BeforeStreamingResolveThreadFn(LATENESS_S, HORIZON_S))
    now = resolved(stream_of(steps), StreamingResolveThreadFn(LATENESS_S, HORIZON_S, cached_events))
    return comparable(before), comparable(now)


def comparable(outputs):
    timed = ("interactions", "author_replies")
    return sorted(((tag, value, at if tag in timed else None) for tag, value, at in outputs), key=repr)


def tags(outputs):
    counts = {}
    for tag, _, _ in outputs:
        counts[tag] = counts.get(tag, 0) + 1
    return counts


def test_a_long_thread_whose_post_and_comments_arrive_after_their_responses_resolves_whole():
    post = event("p", "POST", "author", T0)
    comments = [event(f"c{i}", "COMMENT", f"reader{i % 7}", T0 + (i + 1) * MINUTE_MS, parent="p") for i in range(40)]
    replies = [event(f"r{i}", "REPLY", "author", T0 + (100 + i) * MINUTE_MS, parent=f"c{i % 40}") for i in range(200)]
    answers = [event(f"a{i}", "REPLY", f"reader{i % 7}", T0 + (400 + i) * MINUTE_MS, parent=f"r{i}") for i in range(200)]
    steps = [(answers[i:i + 20], None) for i in range(0, 200, 20)] + [(replies[i:i + 20], None) for i in range(0, 200, 20)]
    steps += [(comments, None), ([post], T0 + 700 * MINUTE_MS)]
    before, now = both(steps)
    assert now == before
    # 440 responses scored, the post skipped, every reply an author reply of the comment it answers, and
    # an answer an author reply when its reader answers the author's reply to that reader's own comment.
    own = sum(1 for i in range(200) if i % 7 == (i % 40) % 7)
    assert tags(now) == {"interactions": 440, "skipped": 1, "author_replies": 200 + own}


def test_an_item_id_claimed_again_late_in_a_long_thread_is_a_duplicate_and_never_a_parent():
    post = event("p", "POST", "author", T0)
    comments = [event(f"c{i}", "COMMENT", "reader", T0 + (i + 1) * MINUTE_MS, parent="p") for i in range(300)]
    claim = event("c5", "COMMENT", "EVIL", T0 + 400 * MINUTE_MS, parent="p", event_id="evil")
    answer = event("r5", "REPLY", "author", T0 + 401 * MINUTE_MS, parent="c5")
    before, now = both([([post] + comments, T0 + 301 * MINUTE_MS), ([claim], None), ([answer], None)])
    assert now == before
    assert [(v.error_kind, v.event_id) for tag, v, _ in now if tag == "dead_letters"] == [(DUPLICATE_ITEM, "evil")]
    assert [v.author_id for tag, v, _ in now if tag == "author_replies"] == ["author"]  # answers R's c5, not EVIL


def test_after_the_thread_expires_a_late_response_to_an_expired_item_waits_then_is_a_dead_letter():
    post = event("p", "POST", "author", T0)
    comment = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p")
    late = event("r1", "REPLY", "author", T0 + 20 * DAY_MS, parent="c1")
    steps = [([post, comment], T0 + 12 * DAY_MS),  # past newest + the horizon: the thread's state expires
             ([late], T0 + 30 * DAY_MS)]
    before, now = both(steps)
    assert now == before
    dead = [v for tag, v, _ in now if tag == "dead_letters"]
    assert [(v.error_kind, v.event_id) for v in dead] == [(PARENT_UNRESOLVED, "e-r1")]
    # The parent did arrive, 19 days before: the message said "never arrived" (an outside probe). It now
    # names what a stream cannot tell apart, and the ways out.
    assert "never arrived" not in dead[0].message or "--dedupe-horizon" in dead[0].message, dead[0].message
    assert "forgets a quiet thread" in dead[0].message and "bounded run" in dead[0].message
    assert "parent_actor_id" in dead[0].message


def test_timestamps_going_backwards_keep_the_state_until_the_newest_event_plus_the_horizon():
    post = event("p", "POST", "author", T0)
    newest = event("c2", "COMMENT", "reader", T0 + 5 * DAY_MS, parent="p")
    older = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p")
    answer = event("r1", "REPLY", "author", T0 + 12 * DAY_MS, parent="c1")  # after older + 9 days, before newest + 9
    steps = [([post, newest], T0 + 5 * DAY_MS), ([older], T0 + 11 * DAY_MS), ([answer], T0 + 13 * DAY_MS)]
    before, now = both(steps)
    assert now == before
    assert [(v.author_id, v.reader_id) for tag, v, _ in now if tag == "author_replies"] == [("author", "reader")]


def test_an_expired_response_is_not_credited_when_its_parent_comes_but_its_answers_still_resolve():
    reply = event("r1", "REPLY", "author", T0 + 2 * HOUR_MS, parent="c1")
    answer = event("a1", "REPLY", "reader", T0 + 3 * HOUR_MS, parent="r1")
    comment = event("c1", "COMMENT", "reader", T0 + HOUR_MS, parent="p", parent_actor="author")
    steps = [([reply, answer], T0 + 2 * HOUR_MS + 2 * DAY_MS + 1), ([comment], None)]
    before, now = both(steps)
    assert now == before
    assert [(v.error_kind, v.event_id) for tag, v, _ in now if tag == "dead_letters"] == [(PARENT_UNRESOLVED, "e-r1")]


def random_steps(seed, n=600):
    """Two threads of n events: responses to earlier items (some never sent: orphans), a few item ids
    claimed again by other event ids, some parent authors named by the producer, self-responses,
    delivered out of order in batches, the watermark sometimes jumping past deadlines and the horizon."""
    rng = random.Random(seed)
    actors = [f"a{i}" for i in range(6)]
    events = []
    for thread in ("t1", "t2"):
        at = T0
        items = []
        for i in range(n // 2):
            at += rng.choice([MINUTE_MS, HOUR_MS, 6 * HOUR_MS, 3 * DAY_MS if rng.random() < 0.05 else MINUTE_MS,
                              10 * DAY_MS if rng.random() < 0.02 else MINUTE_MS])
            item = f"{thread}-i{i}"
            if not items or rng.random() < 0.05:
                e = event(item, "POST", rng.choice(actors), at, thread=thread)
            else:
                parent = rng.choice(items[-30:]) if rng.random() > 0.05 else f"{thread}-gone{i}"
                named = rng.random() < 0.1
                e = event(item, "REPLY", rng.choice(actors), at, parent=parent, thread=thread,
                          parent_actor=rng.choice(actors) if named else None, parent_at=at - MINUTE_MS if named else None)
            items.append(item)
            events.append(e)
            if rng.random() < 0.03:  # another event id claims the same item, delivered after it
                events.append(e._replace(event_id=f"dup-{thread}-{i}", actor_id=rng.choice(actors),
                                         origin=e.origin + "/again"))
    events.sort(key=lambda e: e.created_at)
    steps, i, watermark = [], 0, T0
    while i < len(events):
        size = rng.randint(1, 25)
        if rng.random() < 0.2 and i + 2 * size < len(events):  # these arrive after the next ones: late
            held = events[i:i + size]
            del events[i:i + size]
            events[i + size:i + size] = held
        batch = events[i:i + size]
        rng.shuffle(batch)
        i += size
        newest = max(e.created_at for e in batch) - rng.choice([0, HOUR_MS, DAY_MS])
        advance = rng.random() < 0.7 and newest > watermark
        watermark = newest if advance else watermark
        steps.append((batch, newest if advance else None))
    return first_delivery_first(steps)


def first_delivery_first(steps):
    """The frozen resolver keeps the claim of an item that arrives first, the resolver the one first by
    origin (the tests below cover that it does so whatever the order): each claim again is swapped with
    its item's first delivery when it would arrive before it, so the two agree."""
    where = {}
    for s, (batch, _) in enumerate(steps):
        for p, e in enumerate(batch):
            where[e.event_id] = (s, p)
    for e_id, (s, p) in list(where.items()):
        if e_id.startswith("dup-"):
            original = steps[s][0][p]
            first = where[f"e-{original.item_id}"]
            if first > (s, p):
                (fs, fp) = first
                steps[s][0][p], steps[fs][0][fp] = steps[fs][0][fp], steps[s][0][p]
                where[e_id], where[f"e-{original.item_id}"] = first, (s, p)
    return steps


def test_the_resolver_gives_what_the_whole_thread_rebuild_gave_on_random_long_threads():
    for seed in (1, 2, 3):
        before, now = both(random_steps(seed))
        assert len(now) == len(before) and now == before, seed
        assert {"interactions", "skipped", "author_replies", "dead_letters"} <= set(tags(now)), seed


def test_with_no_ledger_kept_in_memory_every_event_is_resolved_from_the_state_alone():
    # Each event then reads the thread's bags back and rebuilds: what a worker does on first sight of a
    # thread, after a retried bundle or an eviction.
    before, now = both(random_steps(4), cached_events=0)
    assert now == before


def test_a_ledger_kept_for_another_version_of_the_state_is_never_used():
    cache = LedgerCache(max_events=10)
    thread = StreamingThread(7, ThreadLedger(), None)
    cache.put("k", thread)
    assert cache.take("k", 8) is None  # the state moved on (another worker, or this one's failed bundle)
    assert cache.take("k", 7) is None  # and the stale ledger is gone
    cache.put("k", thread)
    assert cache.take("k", 7) is thread
    assert cache.take("k", 7) is None  # taken out while in use: a call that fails does not put it back


def test_the_least_recently_used_threads_are_evicted_beyond_the_budget():
    cache = LedgerCache(max_events=3)
    for key in ("a", "b", "c"):
        cache.put(key, StreamingThread(1, ThreadLedger(), None))  # 1 event each (an empty ledger counts 1)
    cache.put("a", cache.take("a", 1))  # a used again: b is now the oldest
    cache.put("d", StreamingThread(1, ThreadLedger(), None))
    assert cache.take("b", 1) is None and cache.take("c", 1) is not None and cache.take("a", 1) is not None


# --- a reused item_id: its holder is its first claim, whatever the order of arrival ----------------
# The outside probe: c7 by reader7 at offset 512, then e-dupitem reusing item c7 by reader9 at offset 523;
# the author answers c7. The dedupe shuffle before the resolver can deliver them in either order.
PROBE_POST = event("p", "POST", "author", T0)._replace(origin="kafka:t1/1@500")
PROBE_C7 = event("c7", "COMMENT", "reader7", T0 + HOUR_MS, parent="p")._replace(origin="kafka:t1/1@512")
PROBE_DUP = event("c7", "COMMENT", "reader9", T0 + 2 * HOUR_MS, parent="p", event_id="e-dupitem")._replace(
    origin="kafka:t1/1@523")
PROBE_REPLY = event("r7", "REPLY", "author", T0 + 3 * HOUR_MS, parent="c7")._replace(origin="kafka:t1/1@530")
PROBE_EVENTS = (PROBE_POST, PROBE_C7, PROBE_DUP, PROBE_REPLY)


def streamed(steps):
    return resolved(stream_of(steps), StreamingResolveThreadFn(LATENESS_S, HORIZON_S))


def each_record_once(outputs, events):
    """Every input event is scored, skipped or dead-lettered, and exactly once."""
    seen = []
    for tag, value, _ in outputs:
        if tag == "interactions":
            seen.append(value.record.event_id)
        elif tag == "skipped":
            seen.append(value[1].event_id)
        elif tag == "dead_letters":
            seen.append(value.event_id)
    assert sorted(seen) == sorted(e.event_id for e in events), seen


def assert_reader7_holds_c7(outputs):
    dead = [v for tag, v, _ in outputs if tag == "dead_letters"]
    assert [(d.error_kind, d.event_id, d.origin) for d in dead] == [(DUPLICATE_ITEM, "e-dupitem", "kafka:t1/1@523")]
    assert "'e-c7'" in dead[0].message and "kafka:t1/1@512" in dead[0].message, dead[0].message
    comments = sorted((v.author_id, v.reader_id) for tag, v, _ in outputs if tag == "interactions")
    assert comments == [("author", "reader7"), ("reader7", "author")]  # c7 is reader7's; r7 answers reader7
    assert [(v.author_id, v.reader_id) for tag, v, _ in outputs if tag == "author_replies"] == [("author", "reader7")]
    each_record_once(outputs, PROBE_EVENTS)


def test_a_reused_item_id_is_held_by_its_first_claim_whichever_delivery_reaches_the_resolver_first():
    in_offset_order = streamed([([PROBE_POST], None), ([PROBE_C7], None), ([PROBE_DUP], None), ([PROBE_REPLY], None)])
    reversed_ = streamed([([PROBE_POST], None), ([PROBE_DUP], None), ([PROBE_C7], None), ([PROBE_REPLY], None)])
    assert_reader7_holds_c7(in_offset_order)
    assert_reader7_holds_c7(reversed_)
    assert reversed_ == in_offset_order


def test_the_first_claim_arriving_after_a_reply_to_the_later_one_still_holds_the_item():
    # e-dupitem and the reply arrive first (the resolver credited the reply to reader9 at once, before
    # the fix), the watermark moves on, short of c7's time; then c7, offset 512, arrives.
    outputs = streamed([([PROBE_POST], None), ([PROBE_DUP], None), ([PROBE_REPLY], T0 + HOUR_MS // 2),
                        ([PROBE_C7], None)])
    assert_reader7_holds_c7(outputs)
    assert outputs == streamed([([PROBE_POST, PROBE_C7, PROBE_DUP, PROBE_REPLY], None)])


def test_an_earlier_claim_read_behind_the_watermark_after_the_holder_was_settled_is_a_dead_letter_once():
    # What the watermark cannot order: e-dupitem settled and scored (the watermark passed it) before
    # c7, created earlier, was read (behind the watermark, as a backfill is). c7 cannot take the item
    # back (its credits are out): it is dead-lettered, once, and the message says why and that a bounded
    # run keeps it.
    outputs = streamed([([PROBE_POST, PROBE_DUP], PROBE_DUP.created_at + 1), ([PROBE_C7, PROBE_REPLY], None)])
    dead = [v for tag, v, _ in outputs if tag == "dead_letters"]
    assert [(d.error_kind, d.event_id) for d in dead] == [(DUPLICATE_ITEM, "e-c7")]
    assert "'e-dupitem'" in dead[0].message and "claimed it first" in dead[0].message, dead[0].message
    assert "bounded run over the same input keeps this event" in dead[0].message
    assert sorted((v.author_id, v.reader_id) for tag, v, _ in outputs if tag == "interactions") == [
        ("author", "reader9"), ("reader9", "author")]
    each_record_once(outputs, PROBE_EVENTS)


def test_a_backfilled_reply_waits_for_its_parent_for_the_allowed_lateness_from_its_reading():
    # A comment and the author's answer backfilled into a live stream, the answer read first: its
    # parent deadline (created_at + lateness) was long past, so it was dead-lettered PARENT_UNRESOLVED
    # as soon as the watermark moved, before the comment of the same backfill arrived.
    read_at = T0 + 5 * 86_400_000  # past both deadlines, inside the dedupe horizon
    comment = PROBE_C7._replace(read_watermark_ms=read_at)
    answer = PROBE_REPLY._replace(read_watermark_ms=read_at)
    outputs = streamed([([PROBE_POST], T0 + 30 * 60_000), ([answer], read_at + 60_000), ([comment], None)])
    assert [v for tag, v, _ in outputs if tag == "dead_letters"] == []
    assert sorted((v.author_id, v.reader_id) for tag, v, _ in outputs if tag == "interactions") == [
        ("author", "reader7"), ("reader7", "author")]
    assert [(v.author_id, v.reader_id, v.read_watermark_ms) for tag, v, _ in outputs if tag == "author_replies"] == [
        ("author", "reader7", read_at)]
    each_record_once(outputs, (PROBE_POST, comment, answer))


def test_a_claim_tied_on_created_at_and_read_late_says_the_tie_went_by_delivery():
    # The outside probe: two claims stamped at the same instant, the lower origin read after the
    # other was settled. The message said "created first" beside two equal times.
    tied = PROBE_DUP._replace(created_at=PROBE_C7.created_at)
    outputs = streamed([([PROBE_POST, tied], tied.created_at + 1), ([PROBE_C7, PROBE_REPLY], None)])
    dead = [v for tag, v, _ in outputs if tag == "dead_letters"]
    assert [(d.error_kind, d.event_id) for d in dead] == [(DUPLICATE_ITEM, "e-c7")]
    assert "created at the same instant and delivered first" in dead[0].message, dead[0].message
    assert "created first" not in dead[0].message and "--max-out-of-orderness" in dead[0].message
