"""The statistics of an event stream, pinned on small hand-made threads."""
import json

from helpers import DAY_MS, HOUR_MS, T0
from producers.community_stats import community_statistics

MINUTE_MS = 60_000


def rec(item, actor, at, parent=None, kind=None, thread="p1", site="s", event_id=None):
    return {"event_id": event_id or f"e-{item}", "kind": kind or ("POST" if parent is None else "REPLY"),
            "site": site, "thread_id": thread, "item_id": item, "parent_id": parent, "actor_id": actor,
            "parent_actor_id": None, "created_at": at, "parent_created_at": None}


def test_a_chain_across_midnight_with_a_reader_answering_a_reader_and_a_reply_before_its_parent():
    late = T0 + DAY_MS - 10 * MINUTE_MS  # 23:50
    events = [
        rec("p1", "A", T0),
        rec("c1", "R", late, "p1", "COMMENT"),
        rec("r2", "A", late + 20 * MINUTE_MS, "c1"),          # A answers back across midnight: 20 min
        rec("r4", "X", late + 3 * HOUR_MS, "c1"),             # a reader answers a reader
        rec("r3", "R", late + 2 * HOUR_MS, "r2"),             # A -> R -> A -> R
        rec("r5", "R", late + 4 * HOUR_MS, "r6"),             # delivered before its parent
        rec("r6", "A", late + 3 * HOUR_MS, "r4"),             # A answers X's reply to R: not an author reply
        rec("c1", "R", late, "p1", "COMMENT"),                # a re-delivery, same content
    ]
    stats = community_statistics(events)
    assert stats.records == 8 and stats.redeliveries == 1 and stats.conflicting_redeliveries == 0
    assert stats.responses == 6
    # r2 answers R's comment on A's post; r3 answers A's reply to R's comment: both directions count
    assert stats.author_replies == 2 and stats.author_replies_crossing_midnight == 1
    assert stats.author_reply_delay_s["min"] == 20 * 60 and stats.author_reply_delay_s["max"] == 100 * 60
    assert stats.chains_of_four == 1
    assert stats.reader_to_reader == 1  # r4 (X to R); r5 answers A, the post's author
    assert stats.before_parent == 1
    assert stats.two_way_pairs == 1  # {A, R}; A answered X and X answered R, one way each
    assert stats.answered_back_pairs == 2  # (A, R) and (R, A)


def test_conflicting_redeliveries_and_invalid_records_are_counted_apart():
    events = [rec("p1", "A", T0), rec("p1", "B", T0, event_id="e-p1"),
              {**rec("c1", "", T0 + 1, "p1", "COMMENT")}]
    stats = community_statistics(events)
    assert stats.conflicting_redeliveries == 1 and stats.invalid == 1 and stats.responses == 0


def test_the_statistics_render_as_text_and_json():
    stats = community_statistics([rec("p1", "A", T0), rec("c1", "R", T0 + HOUR_MS, "p1", "COMMENT"),
                                  rec("r1", "A", T0 + 2 * HOUR_MS, "c1")])
    assert "crossing a UTC midnight" in stats.render()
    assert json.loads(json.dumps(stats.as_dict()))["author_replies"] == 1
