"""Which waiting events the streaming resolver settles when, and in which order (transforms/pending_events.py)."""
from helpers import HOUR_MS, T0, event
from transforms.pending_events import PendingEvents

GENUINE = event("c7", "COMMENT", "reader7", T0 + HOUR_MS, parent="p")._replace(origin="kafka:t1/1@512")
# the same item at a later offset, written earlier: due first, but it waits for the genuine claim
EARLIER_REUSE = event("c7", "COMMENT", "reader9", T0, parent="p", event_id="e-dupitem")._replace(origin="kafka:t1/1@523")
OTHER = event("c8", "COMMENT", "reader8", T0 + 2 * HOUR_MS, parent="p")._replace(origin="kafka:t1/1@530")


def test_events_are_due_once_the_watermark_passes_them_lowest_origin_first():
    late_reuse = EARLIER_REUSE._replace(created_at=T0 + 2 * HOUR_MS)
    pending = PendingEvents([OTHER, late_reuse, GENUINE])
    assert pending.earliest() == GENUINE.created_at
    assert pending.due(GENUINE.created_at) == []  # the watermark at its created_at is not past it
    assert pending.due(GENUINE.created_at + 1) == [GENUINE]
    assert pending.due(T0 + 2 * HOUR_MS + 1) == [late_reuse, OTHER]  # 523 before 530
    assert len(pending) == 0 and pending.earliest() is None


def test_a_due_claim_waits_for_a_lower_origin_claim_of_its_item_that_is_not_due_yet():
    pending = PendingEvents([EARLIER_REUSE, GENUINE])
    assert pending.due(T0 + 1) == []  # the reuse is due, but offset 512 of its item still waits
    assert pending.earliest() == GENUINE.created_at and len(pending) == 2  # no timer for the blocked one
    assert pending.due(GENUINE.created_at + 1) == [GENUINE, EARLIER_REUSE]


def test_a_claim_with_no_lower_origin_claim_waiting_is_not_held_back():
    pending = PendingEvents([GENUINE, EARLIER_REUSE._replace(created_at=T0 + 2 * HOUR_MS)])
    assert pending.due(GENUINE.created_at + 1) == [GENUINE]


def test_everything_is_due_when_the_thread_expires():
    pending = PendingEvents([OTHER, EARLIER_REUSE, GENUINE])
    assert pending.due(T0 + 1) == []
    assert pending.due(None) == [GENUINE, EARLIER_REUSE, OTHER]
