"""Replay benchmark: events/s of the whole batch pipeline, as a ratio of fastavro's decode rate.

Both figures are measured in the same run on the same file, so the ratio is comparable across
machines. With ``--flink N`` the same file is also scored on Beam's FlinkRunner (embedded mini-cluster,
parallelism N; the job server's start is not timed), as a ratio of the in-process run.
Usage: python bench/replay.py [--scale 20] [--workers 1] [--flink 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import fastavro

from pipelines.scoring import run_scoring
from pipelines.settings import RunSettings
from producers.synthetic import CommunitySpec, generate_community, write_community
from transforms.decode import ReadEventFiles


def fastavro_decode_rate(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with path.open("rb") as stream:
        count = sum(1 for _ in fastavro.reader(stream))
    return count, count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=20.0, help="synthetic community size multiplier")
    parser.add_argument("--workers", type=int, default=1, help="--direct_num_workers for the FnApiRunner")
    parser.add_argument("--flink", type=int, default=0, metavar="PARALLELISM", help="also run on Flink")
    args = parser.parse_args()
    flink_summary = None
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.avro"
        community = generate_community(CommunitySpec(seed=1).scaled(args.scale))
        write_community(community, events, Path(folder) / "truth.jsonl")
        count, baseline = fastavro_decode_rate(events)
        beam_args = [f"--direct_num_workers={args.workers}"]
        if args.workers > 1:
            beam_args.append("--direct_running_mode=multi_threading")
        summary = run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=str(Path(folder) / "w.duckdb")), beam_args)
        if args.flink:
            from pipelines.runners import runner_services

            flink_args = ["--runner=FlinkRunner", f"--parallelism={args.flink}"]
            with runner_services(flink_args) as runner_args:
                flink_summary = run_scoring(ReadEventFiles([str(events)]),
                                            RunSettings(warehouse=str(Path(folder) / "flink.duckdb")), runner_args)
    pipeline_rate = summary.records_in / summary.seconds
    print(f"events                  {count:>12,}")
    print(f"fastavro decode         {baseline:>12,.0f} records/s  (baseline)")
    print(f"pipeline replay         {pipeline_rate:>12,.0f} records/s  ({summary.seconds:.1f} s, workers={args.workers})")
    print(f"ratio pipeline/decode   {pipeline_rate / baseline:>12.3f}")
    if flink_summary is not None:
        flink_rate = flink_summary.records_in / flink_summary.seconds
        print(f"flink replay            {flink_rate:>12,.0f} records/s  ({flink_summary.seconds:.1f} s, parallelism={args.flink})")
        print(f"ratio flink/in-process  {flink_rate / pipeline_rate:>12.3f}")


if __name__ == "__main__":
    main()
