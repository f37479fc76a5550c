"""Python's cyclic garbage collector, tuned for a worker that holds many live objects.

Why: CPython runs a young collection every 700 net container allocations and, as the heap grows, full
collections that walk every live object. A bundle allocates several containers per element (Events,
wire tuples, accumulators, batches) that reference counting alone frees, while a worker holds
hundreds of thousands of live ones (shard buffers, accumulators, the resolver's caches): each
collection walks them and finds almost nothing. On the bounded pipeline that was about 30% of the
CPU (``bench/results/2026-11-27-gc.txt``: 300,000 events, 27.7 to 28.4 CPU-s at Python's
defaults, 19.4 with these thresholds; 18.9 with the collector off).

Only the young generation's threshold changes (700 -> 200,000); the older generations keep Python's
10 and 10, so full collections still come, 300 times less often, for the rare real cycles (tracebacks
kept by a retried bundle, Beam's own structures). Peak RSS at 1M events: 1,072 MiB at Python's
defaults, 1,090 tuned (71.2 CPU-s against 98.4); an older generation's threshold raised to 50 or 100
saved no CPU.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator

WORKER_THRESHOLDS = (200_000, 10, 10)


def tune_worker_gc() -> None:
    """Raise this process's collector thresholds to ``WORKER_THRESHOLDS`` (never lower them: a
    process that chose higher ones keeps them). For a DoFn's ``setup``, which runs in the worker
    process whichever runner started it."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(now, tuned) for now, tuned in zip(current, WORKER_THRESHOLDS)))


@contextlib.contextmanager
def worker_gc() -> Iterator[None]:
    """Tuned thresholds while a pipeline runs in this process (the in-process runners' workers are
    threads of it), the caller's own restored after: a test session or an analyst's shell that runs
    a pipeline keeps its collector as it was."""
    saved = gc.get_threshold()
    tune_worker_gc()
    try:
        yield
    finally:
        gc.set_threshold(*saved)
