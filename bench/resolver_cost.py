"""The streaming resolver's cost per event against the length of its thread (issue 11: "the resolver's
cost per event independent of the thread's length").

One thread of N events (a post, then responses to random earlier items by 20 actors, one a minute,
delivered in batches of ``--batch`` with the order shuffled inside each batch, so some responses wait
for their parent), fed by a TestStream (the watermark advanced after each batch) to
``ResolveConversations(streaming=True)`` on the runner(s) asked: the BundleBasedDirectRunner (what the
streaming tests use) and Prism (what ``run --streaming`` uses; loopback, so the SDK harness and its
state reads run in this process). For each it prints the wall seconds of the whole pipeline, the CPU
seconds of this process (the SDK harness included; Prism's own process not), the wall time spent inside
the resolver's ``process`` calls (state reads included; writes are committed after the bundle; on the
DirectRunner several threads' calls overlap, so it can exceed the wall time), per event, and that
per-event time's ratio to the smallest N's.

``--impl before`` is the resolver as it was (a frozen copy below: a bag of every event of the thread,
read whole and rebuilt into a ThreadLedger for each event), ``after`` the one in transforms/. The frozen
copy and ``resolved()`` are also the oracle of tests/transforms/test_conversations_streaming.py.

Usage: python bench/resolver_cost.py [--events 100 1000 4000] [--runners direct prism] [--impl before after]
"""
from __future__ import annotations

import argparse
import functools
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import apache_beam as beam  # noqa: E402
from apache_beam.coders import FastPrimitivesCoder, StrUtf8Coder  # noqa: E402
from apache_beam.testing.test_stream import TestStream  # noqa: E402
from apache_beam.transforms.timeutil import TimeDomain  # noqa: E402
from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer  # noqa: E402
from apache_beam.transforms.window import TimestampedValue  # noqa: E402
from apache_beam.utils.timestamp import Timestamp  # noqa: E402

import transforms.conversations as conversations  # noqa: E402
from pipelines.scoring import pipeline_options  # noqa: E402
from transforms.events import Event  # noqa: E402
from transforms.thread_ledger import ThreadLedger  # noqa: E402

T0 = 1_772_409_600_000  # 2026-03-02 00:00 UTC
MINUTE_MS = 60_000
HOURS = 3_600.0
DAYS = 86_400.0


def thread_events(n: int, seed: int = 11) -> list[Event]:
    """A post and n - 1 responses to random earlier items (recent ones more often), one a minute."""
    rng = random.Random(seed)
    actors = [f"a{i}" for i in range(20)]
    events = [Event("e0", "POST", "s", "t", "i0", None, actors[0], None, T0, None, "bench:0")]
    for i in range(1, n):
        parent = max(0, i - 1 - int(rng.expovariate(0.1)))
        kind = "COMMENT" if parent == 0 else "REPLY"
        events.append(Event(f"e{i}", kind, "s", "t", f"i{i}", f"i{parent}", rng.choice(actors), None,
                            T0 + i * MINUTE_MS, None, f"bench:{i}"))
    return events


def delivered(events: list[Event], batch: int, seed: int = 12) -> list[list[Event]]:
    rng = random.Random(seed)
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    for b in batches:
        rng.shuffle(b)
    return batches


class BeforeStreamingResolveThreadFn(beam.DoFn):
    """The streaming resolver before issue 11 (transforms/conversations.py at fc3247b), frozen here as
    the baseline: the whole thread in a bag, rebuilt into a ThreadLedger for every event."""

    EVENTS = BagStateSpec("events", FastPrimitivesCoder())
    EXPIRED = BagStateSpec("expired_event_ids", StrUtf8Coder())
    PARENT_DEADLINE = TimerSpec("parent_deadline", TimeDomain.WATERMARK)
    STATE_EXPIRY = TimerSpec("state_expiry", TimeDomain.WATERMARK)

    def __init__(self, allowed_lateness_s: float, dedupe_horizon_s: float):
        self.allowed_lateness_ms = int(allowed_lateness_s * 1000)
        self.dedupe_horizon_ms = int(dedupe_horizon_s * 1000)

    def setup(self) -> None:
        self.out = conversations._CountedOutputs()

    def process(self, keyed_event, events_state=beam.DoFn.StateParam(EVENTS),
                expired_state=beam.DoFn.StateParam(EXPIRED),
                parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE),
                state_expiry=beam.DoFn.TimerParam(STATE_EXPIRY)):
        _, event = keyed_event
        stored = list(events_state.read())
        ledger = ThreadLedger.rebuild(stored, set(expired_state.read()))
        for outcome, value in ledger.add(event):
            yield self.out.emit(outcome, value)
        if ledger.items[event.item_id].event_id != event.event_id:
            return
        events_state.add(event)
        stored.append(event)
        waiting = ledger.all_waiting()
        if waiting:
            earliest = min(e.created_at for e in waiting)
            parent_deadline.set(Timestamp(micros=(earliest + self.allowed_lateness_ms) * 1000))
        newest = max(e.created_at for e in stored)
        state_expiry.set(Timestamp(micros=(newest + self.dedupe_horizon_ms) * 1000))

    @on_timer(PARENT_DEADLINE)
    def dead_letter_unresolved(self, fired_at=beam.DoFn.TimestampParam, events_state=beam.DoFn.StateParam(EVENTS),
                               expired_state=beam.DoFn.StateParam(EXPIRED),
                               parent_deadline=beam.DoFn.TimerParam(PARENT_DEADLINE)):
        ledger = ThreadLedger.rebuild(events_state.read(), set(expired_state.read()))
        now_ms = fired_at.micros // 1000
        later = []
        for event in ledger.all_waiting():
            if event.created_at + self.allowed_lateness_ms <= now_ms:
                expired_state.add(event.event_id)
                yield self.out.dead_letter(event)
            else:
                later.append(event.created_at)
        if later:
            parent_deadline.set(Timestamp(micros=(min(later) + self.allowed_lateness_ms) * 1000))

    @on_timer(STATE_EXPIRY)
    def expire_thread(self, events_state=beam.DoFn.StateParam(EVENTS), expired_state=beam.DoFn.StateParam(EXPIRED)):
        for event in ThreadLedger.rebuild(events_state.read(), set(expired_state.read())).all_waiting():
            yield self.out.dead_letter(event)
        events_state.clear()
        expired_state.clear()


# Time inside process() and what it output, by the DoFn classes below: made at import, so a pickled DoFn
# names its class and these globals are this module's (the DirectRunner and Prism's loopback worker run
# it in this process; the DirectRunner's metrics missed bundles).
SPENT = {"seconds": 0.0, "calls": 0}
COUNTS: dict[str, int] = {}


def timed(fn_class: type) -> type:
    """fn_class with its process() timed (the generator drained inside the timing: state reads are lazy)."""

    @functools.wraps(fn_class.process)  # the same signature: Beam finds the state and timer parameters there
    def process(self, *args, **kwargs):
        started = time.perf_counter()
        out = list(fn_class.process(self, *args, **kwargs))
        SPENT["seconds"] += time.perf_counter() - started
        SPENT["calls"] += 1
        for value in out:
            tag = getattr(value, "tag", "interactions")
            COUNTS[tag] = COUNTS.get(tag, 0) + 1
        return out

    return type(f"Timed{fn_class.__name__}", (fn_class,), {"process": process, "__module__": __name__})


TimedBeforeStreamingResolveThreadFn = timed(BeforeStreamingResolveThreadFn)
TimedStreamingResolveThreadFn = timed(conversations.StreamingResolveThreadFn)


OUTPUTS: list[tuple[str, Any, int]] = []


class CollectOutputs(beam.DoFn):
    """Keeps (output tag, value, timestamp in micros) in OUTPUTS (in-process runners only)."""

    def process(self, value: Any, tag: str, timestamp=beam.DoFn.TimestampParam) -> None:
        OUTPUTS.append((tag, value, timestamp.micros))


def resolved(stream: TestStream, fn: beam.DoFn, runner_args: list[str] | None = None) -> list[tuple[str, Any, int]]:
    """Everything ``fn`` (a streaming resolver DoFn) outputs for ``stream``'s events, keyed by thread as
    ResolveConversations keys them, sorted: (tag, value, timestamp in micros). What the tests compare
    the resolver with the frozen one by (tests/transforms/test_conversations_streaming.py)."""
    from transforms.thread_ledger import AUTHOR_REPLIES, DEAD_LETTERS, SKIPPED, thread_key

    OUTPUTS.clear()
    args = runner_args or ["--runner=BundleBasedDirectRunner"]
    with beam.Pipeline(options=pipeline_options(args, streaming=True)) as p:
        out = (p | stream | beam.Map(lambda e: (thread_key(e), e))
               | beam.ParDo(fn).with_outputs(AUTHOR_REPLIES, SKIPPED, DEAD_LETTERS, main="interactions"))
        for tag in ("interactions", AUTHOR_REPLIES, SKIPPED, DEAD_LETTERS):
            _ = out[tag] | f"Collect{tag}" >> beam.ParDo(CollectOutputs(), tag)
    return sorted(OUTPUTS, key=repr)


def run_once(runner: str, impl: str, n: int, batch: int) -> dict[str, Any]:
    original = conversations.StreamingResolveThreadFn
    conversations.StreamingResolveThreadFn = (
        TimedBeforeStreamingResolveThreadFn if impl == "before" else TimedStreamingResolveThreadFn)  # ResolveConversations looks it up at expand
    stream = TestStream()
    for b in delivered(thread_events(n), batch):
        stream = stream.add_elements([TimestampedValue(e, e.created_at / 1000) for e in b])
        stream = stream.advance_watermark_to(max(e.created_at for e in b) / 1000)
    stream = stream.advance_watermark_to_infinity()
    args = ["--runner=BundleBasedDirectRunner"] if runner == "direct" else [
        "--runner=PrismRunner", f"--prism_location={prism_location()}", "--environment_type=LOOPBACK"]
    SPENT.update(seconds=0.0, calls=0)
    COUNTS.clear()
    cpu0, wall0 = os.times(), time.perf_counter()
    try:
        p = beam.Pipeline(options=pipeline_options(args, streaming=True))
        _ = p | stream | conversations.ResolveConversations(
            streaming=True, allowed_lateness_s=2 * DAYS, dedupe_horizon_s=14 * DAYS)
        result = p.run()
        result.wait_until_finish()
    finally:
        conversations.StreamingResolveThreadFn = original
    wall = time.perf_counter() - wall0
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system) + (cpu1.children_user - cpu0.children_user) \
        + (cpu1.children_system - cpu0.children_system)
    return {"runner": runner, "impl": impl, "events": n, "wall_s": wall, "cpu_s": cpu,
            "process_s": SPENT["seconds"], "calls": SPENT["calls"], "counts": dict(COUNTS)}


def prism_location() -> str:
    from services.prism import ensure_prism

    return str(ensure_prism())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100, 1000, 4000])
    parser.add_argument("--runners", nargs="+", choices=("direct", "prism"), default=["direct", "prism"])
    parser.add_argument("--impl", nargs="+", choices=("before", "after"), default=["before", "after"])
    parser.add_argument("--batch", type=int, default=10, help="events per TestStream step (default 10)")
    args = parser.parse_args(argv)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(f"{'runner':7} {'impl':7} {'events':>7} {'wall s':>8} {'cpu s':>8} {'process s':>10} "
          f"{'µs/event':>10} {'vs ' + str(min(args.events)):>8}  outputs (comments/replies/skipped/dead)", flush=True)
    for runner in args.runners:
        for impl in args.impl:
            base = None
            for n in sorted(args.events):
                r = run_once(runner, impl, n, args.batch)
                per_event = r["process_s"] / max(1, r["calls"]) * 1e6
                base = base or per_event
                c = r["counts"]
                seen = "" if r["calls"] == n else f"  (process calls seen: {r['calls']})"
                print(f"{runner:7} {impl:7} {n:>7,} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {r['process_s']:>10.3f} "
                      f"{per_event:>10.1f} {per_event / base:>7.1f}x  {c.get('interactions', 0)}/"
                      f"{c.get('author_replies', 0)}/{c.get('skipped', 0)}/{c.get('dead_letters', 0)}{seen}",
                      flush=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    # Run from the importable module, so the pipeline's pickled DoFns refer to its classes.
    from bench import resolver_cost

    sys.exit(resolver_cost.main())
