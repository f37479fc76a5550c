"""Profile the bounded pipeline in-process: ``python -m bench.profile_pipeline EVENTS.avro [--top 40]``.

Runs the pipeline (file -> embedded DuckDB on the FnApiRunner, whose SDK harness runs in this
process, so one profiler sees the decoder, every DoFn and Beam's own per-element work) under cProfile
and prints the functions by cumulative and by own CPU time, with the run's CPU seconds. The events
file is one of ``bench.stages generate``. ``--cpu-only`` skips the profiler (its overhead inflates
Python-heavy code) and prints the CPU seconds alone, the figure to compare before and after a change.
"""
from __future__ import annotations

import argparse
import cProfile
import importlib
import contextlib
import io
import os
import pstats
import sys
import tempfile
import time


def run(avro: str, warehouse: str) -> object:
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from transforms.decode import ReadEventFiles

    with contextlib.suppress(FileNotFoundError):
        os.remove(warehouse)
    return run_scoring(ReadEventFiles([avro]), RunSettings(warehouse=warehouse), [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_pipeline", description=__doc__)
    parser.add_argument("avro")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--warehouse", help="DuckDB file to write (default: a temporary one)")
    parser.add_argument("--stats", help="also save the raw profile here (for pstats or snakeviz)")
    args = parser.parse_args(argv)
    importlib.import_module("pipelines.scoring")  # before timing: Beam's imports take seconds

    with tempfile.TemporaryDirectory(prefix="profile-") as scratch:
        warehouse = args.warehouse or os.path.join(scratch, "profile.duckdb")
        profiler = None if args.cpu_only else cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        summary = run(args.avro, warehouse)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"cpu {cpu:.2f} s, wall {wall:.2f} s, load {os.getloadavg()[0]:.1f}; records_in "
          f"{summary.records_in:,}, pair rows {summary.pair_score_rows:,}, balanced {summary.balanced}")
    if profiler is not None:
        if args.stats:
            profiler.dump_stats(args.stats)
        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
            print(text.getvalue())
    return 0 if summary.balanced else 1


if __name__ == "__main__":
    sys.exit(main())
