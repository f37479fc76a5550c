"""The synthetic community played live: events stamped with the clock, at a steady rate, without end.

In: a :class:`~producers.synthetic.CommunitySpec` and a rate (events per second). Out: an endless
iterator of EngagementEvent records whose ``created_at`` is the wall clock when each is handed out, so
a streaming pipeline whose watermark follows the clock sees them on time (the file community lives
in a fixed past). Why: the live demo and tests that need traffic now.

The community is played round after round, each round a fresh simulation of the spec's days in
creation order, squeezed onto the beat: a reply comes some events after its parent, not hours later.
The planted pairs are the same every round (they depend on the seed only), so their relationships
grow while the stream runs. Ids carry the run's start time and the round, so no two runs (and no file
community) share an id. Re-deliveries repeat an earlier record unchanged, at the spec's duplicate
rate; there are no invalid records.
"""
from __future__ import annotations

import dataclasses
import random
import time
from typing import Any, Callable, Iterator, Optional

from producers.synthetic_simulation import simulate
from producers.synthetic_spec import CommunitySpec


def live_events(spec: CommunitySpec, rate: float, clock: Callable[[], float] = time.time,
                sleep: Callable[[float], None] = time.sleep, run_id: Optional[str] = None) -> Iterator[dict[str, Any]]:
    """Records at ``rate`` per second (re-deliveries included), stamped with ``clock()`` (seconds)."""
    if rate <= 0:
        raise ValueError(f"the rate must be positive, got {rate}")
    started = clock()
    run_id = run_id or f"live{round(started * 1000)}"
    rng = random.Random(f"live:{spec.seed}:{run_id}")
    beat = 0
    sent: list[dict[str, Any]] = []  # what a re-delivery may repeat (the current round's records)

    def on_the_beat() -> int:
        nonlocal beat, started
        if beat == 0:  # the beat starts with the first event, not before the first simulation
            started = clock()
        due = started + beat / rate
        beat += 1
        now = clock()
        if due > now:
            sleep(due - now)
            now = clock()
        return round(now * 1000)

    for round_number in range(1_000_000_000):
        played = dataclasses.replace(spec, id_prefix=f"{run_id}r{round_number}", duplicate_rate=0.0, invalid_rate=0.0)
        simulation = simulate(played, activity_seed=f"{spec.seed}:{run_id}:{round_number}")
        stamped_at: dict[str, int] = {}  # item_id -> its live created_at
        sent.clear()
        for record in sorted(simulation.events, key=lambda r: r["created_at"]):
            if sent and rng.random() < spec.duplicate_rate:
                on_the_beat()
                yield dict(rng.choice(sent))
            live = dict(record, created_at=on_the_beat())
            stamped_at[live["item_id"]] = live["created_at"]
            if live["parent_created_at"] is not None:
                live["parent_created_at"] = stamped_at.get(live["parent_id"])
            sent.append(live)
            yield live
