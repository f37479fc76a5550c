"""Shared test helpers: event builders and timestamps."""
from __future__ import annotations

import datetime as dt
import os
from typing import Any, Optional

from transforms.events import Event

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# 2026-03-02 00:00 UTC: a window boundary for 1-day windows.
T0 = int(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc).timestamp() * 1000)


def event(
    item_id: str,
    kind: str,
    actor: str,
    at: int,
    parent: Optional[str] = None,
    parent_actor: Optional[str] = None,
    parent_at: Optional[int] = None,
    thread: str = "t1",
    site: str = "s",
    event_id: Optional[str] = None,
) -> Event:
    return Event(
        event_id or f"e-{item_id}", kind, site, thread, item_id, parent, actor, parent_actor, at, parent_at,
        f"test:{item_id}",
    )


def record(**fields: Any) -> dict[str, Any]:
    """A valid COMMENT record, with fields overridden."""
    base = {
        "event_id": "e1", "kind": "COMMENT", "site": "s", "thread_id": "t1", "item_id": "c1",
        "parent_id": "p1", "actor_id": "reader", "parent_actor_id": None,
        "created_at": T0, "parent_created_at": None,
    }
    base.update(fields)
    return base


E = T0 + 28 * DAY_MS  # end of the newest window in the data set


def score_row(author, reader, window_end, score, site="s", rc=2, ar=1, days=1, pane=0, timing="ON_TIME", run=T0):
    return {
        "site": site, "author_id": author, "reader_id": reader,
        "window_start": window_end - DAY_MS, "window_end": window_end,
        "reader_comments": rc, "author_replies": ar, "reader_active_days": days,
        "reply_latency_p50_s": 60.0 if ar else None, "reply_rate": min(1.0, ar / rc) if rc else None,
        "reciprocity": 0.5, "mentor_score": score,
        "first_interaction_at": window_end - DAY_MS + 1, "last_interaction_at": window_end - 1,
        "pane_timing": timing, "pane_index": pane, "is_final_pane": False, "computed_at": T0,
        "run_started_at": run,
    }


# An Avro file to damage: 31 records in blocks of 7, 7, 7, 7 and 3 (null codec: bytes can be edited in place).
BLOCK_SIZES = (7, 7, 7, 7, 3)


def five_block_avro() -> tuple[bytearray, list[tuple[int, int]]]:
    """(file bytes, [(offset, size) of each block, its sync marker included]); record n has event_id rNN."""
    import io

    import fastavro

    from schemas import engagement_event_schema

    buffer = io.BytesIO()
    writer = fastavro.write.Writer(buffer, engagement_event_schema(), codec="null")
    number = 0
    for size in BLOCK_SIZES:
        for _ in range(size):
            number += 1
            writer.write(record(event_id=f"r{number:02d}"))
        writer.flush()
    data = buffer.getvalue()
    blocks = list(fastavro.block_reader(io.BytesIO(data)))
    assert [b.num_records for b in blocks] == list(BLOCK_SIZES)
    return bytearray(data), [(b.offset, b.size) for b in blocks]


def process_alive(pid: int) -> bool:
    """Whether a process runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs, alive or not yet reaped, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found
