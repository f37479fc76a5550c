"""The live community: events stamped with the clock, at a steady rate, with ids no other run uses."""
import itertools

from producers.community_stats import community_statistics
from producers.synthetic import CommunitySpec
from producers.synthetic_live import live_events

SMALL = CommunitySpec(seed=5, sites=1, authors_per_site=3, readers_per_site=20, planted_per_site=3, days=7)


class FakeClock:
    """Time that moves only when the generator sleeps."""

    def __init__(self, now_s):
        self.now_s = now_s
        self.slept = []

    def time(self):
        return self.now_s

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now_s += seconds


def test_live_events_carry_the_clock_at_a_steady_rate():
    clock = FakeClock(1_800_000_000.0)
    events = list(itertools.islice(live_events(SMALL, rate=20, clock=clock.time, sleep=clock.sleep), 400))
    stamps = [e["created_at"] for e in events]
    first_copies = {e["event_id"]: e for e in reversed(events)}
    originals = [e for e in events if first_copies[e["event_id"]] is e]
    assert [e["created_at"] for e in originals] == sorted(e["created_at"] for e in originals)
    assert stamps[0] == 1_800_000_000_000 and 380 * 50 <= max(stamps) - stamps[0] <= 399 * 50
    # one event every 1/20 s (re-deliveries included): originals are stamped on that beat
    assert all((e["created_at"] - stamps[0]) % 50 == 0 for e in originals)
    assert len(originals) < len(events)  # re-deliveries, as the file community has them
    by_item = {e["item_id"]: e for e in events}
    for e in events:  # a parent's time, when given, is the time the parent was stamped
        if e["parent_created_at"] is not None and e["parent_id"] in by_item:
            assert e["parent_created_at"] == by_item[e["parent_id"]]["created_at"] < e["created_at"]


def test_live_runs_never_share_an_id_and_go_on_past_one_community():
    first, second = FakeClock(1_800_000_000.0), FakeClock(1_800_000_000.5)
    one = list(itertools.islice(live_events(SMALL, 1000, clock=first.time, sleep=first.sleep), 3000))
    other = list(itertools.islice(live_events(SMALL, 1000, clock=second.time, sleep=second.sleep), 10))
    assert not {e["event_id"] for e in one} & {e["event_id"] for e in other}
    stats = community_statistics(one)
    assert stats.conflicting_redeliveries == 0 and stats.invalid == 0 and stats.author_replies > 50
    assert len(one) == 3000  # more than one round of SMALL's community
