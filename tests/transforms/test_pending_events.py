"""Which waiting events the streaming resolver settles when, and in which order (transforms/pending_events.py)."""
from helpers import HOUR_MS, T0, event
from transforms.pending_events import PendingEvents

GENUINE = event("c7", "COMMENT", "reader7", T0 + HOUR_MS, parent="p")._replace(origin="kafka:t1/1@512")
# the same item at a lower origin (another partition), created later: it does not hold the item
LATER_REUSE = event("c7", "COMMENT", "reader9", T0 + 2 * HOUR_MS, parent="p", event_id="e-dupitem")._replace(
    origin="kafka:t1/0@3")
SAME_INSTANT = event("c7", "COMMENT", "reader9", T0 + HOUR_MS, parent="p", event_id="e-same")._replace(
    origin="kafka:t1/1@523")
OTHER = event("c8", "COMMENT", "reader8", T0 + 2 * HOUR_MS, parent="p")._replace(origin="kafka:t1/1@530")


def test_events_are_due_once_the_watermark_passes_them_in_claim_order():
    pending = PendingEvents([OTHER, LATER_REUSE, GENUINE])
    assert pending.earliest() == GENUINE.created_at
    assert pending.due(GENUINE.created_at) == []  # the watermark at its created_at is not past it
    assert pending.due(GENUINE.created_at + 1) == [GENUINE]
    assert pending.due(T0 + 2 * HOUR_MS + 1) == [LATER_REUSE, OTHER]  # same instant: partition 0 first
    assert len(pending) == 0 and pending.earliest() is None


def test_claims_created_at_the_same_instant_are_due_together_first_delivered_first():
    pending = PendingEvents([SAME_INSTANT, GENUINE])
    assert pending.due(GENUINE.created_at) == [] and len(pending) == 2
    assert pending.due(GENUINE.created_at + 1) == [GENUINE, SAME_INSTANT]  # offset 512 before 523


def test_everything_is_due_when_the_thread_expires():
    pending = PendingEvents([OTHER, LATER_REUSE, SAME_INSTANT, GENUINE])
    assert pending.due(T0 + 1) == []
    assert pending.due(None) == [GENUINE, SAME_INSTANT, LATER_REUSE, OTHER]
