"""The benchmark: ``python -m bench [--events 100000 300000 1000000] [--repeat 3] [--quick]``.

For each N, on the same synthetic events (bench/events.py, not timed): raw fastavro decode (the floor
any Python pipeline pays), pair_scores by one DuckDB SQL query over a Parquet copy of the events
(bench/reference.py, checked row for row against the pipeline's table), the pipeline file -> embedded
warehouse on the chosen runners (default: the in-process FnApiRunner), a bounded Kafka read of the
same events (when Java is there to run a broker), and the export of the result as JSON Lines. Each
stage runs in its own process (bench/stages.py), so its peak RSS is its own; times are the median of
``--repeat`` runs (one run for the slow stages at 1M events and more). Prints a table and writes
bench/results/<date>.json, with the headline ratios of the largest N under
``ratio_pipeline_vs_fastavro`` and ``ratio_pipeline_vs_duckdb``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

RESULTS = Path(__file__).resolve().parent / "results"
RUNNERS = {
    "fnapi": [],
    "prism": ["--runner=PrismRunner"],
    "flink1": ["--runner=FlinkRunner", "--parallelism=1"],
    "flink2": ["--runner=FlinkRunner", "--parallelism=2"],
}
SLOW_AT = 1_000_000  # from this many events, slow stages run once


def run_stage(name: str, arguments: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Run one stage in a child process; its result plus ``peak_rss_mib``."""
    result_path = folder / f"{name}.result.json"
    result_path.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.stages", name, json.dumps(arguments), str(result_path)],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    stderr_lines: list[bytes] = []
    for line in child.stderr:  # drained as it comes, so a chatty child never blocks on a full pipe
        stderr_lines.append(line)
        del stderr_lines[:-30]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0 or not result_path.exists():
        tail = b"".join(stderr_lines).decode(errors="replace")
        raise RuntimeError(f"stage {name} failed (exit {child.returncode}):\n{tail}")
    result = json.loads(result_path.read_text())
    # The child's own VmHWM; ru_maxrss (KiB) where /proc is missing (it may include this parent's peak)
    own = result.pop("own_peak_rss_mib", None)
    result["peak_rss_mib"] = own if own is not None else usage.ru_maxrss / 1024.0
    return result


def timed(name: str, arguments: dict[str, Any], folder: Path, repeat: int) -> dict[str, Any]:
    runs = [run_stage(name, arguments, folder) for _ in range(repeat)]
    print(f"    {name}: " + ", ".join(f"{r['seconds']:.2f} s" for r in runs), file=sys.stderr, flush=True)
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["cpu_seconds"] = statistics.median(r.get("cpu_seconds", 0.0) for r in runs)
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["runs"] = [round(r["seconds"], 3) for r in runs]
    return best


def check_rows(reference_db: str, warehouse: str) -> list[str]:
    import duckdb

    from bench.reference import COLUMNS, compare, warehouse_sql

    with duckdb.connect(reference_db, read_only=True) as connection:
        expected = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM pair_scores").fetchall()
    with duckdb.connect(warehouse, read_only=True) as connection:
        actual = connection.execute(warehouse_sql()).fetchall()
    return compare(expected, actual)


def bench_one(count: int, args: argparse.Namespace, folder: Path, broker: Optional[Any]) -> dict[str, Any]:
    print(f"  {count:,} events", file=sys.stderr, flush=True)
    avro, parquet = str(folder / "events.avro"), str(folder / "events.parquet")
    generated = run_stage("generate", {"events": count, "avro": avro, "parquet": parquet}, folder)
    slow_repeat = 1 if count >= SLOW_AT else args.repeat
    stages: dict[str, dict[str, Any]] = {
        "fastavro decode": timed("fastavro", {"avro": avro}, folder, args.repeat),
        "duckdb query": timed("duckdb", {"parquet": parquet, "database": str(folder / "reference.duckdb")},
                              folder, args.repeat),
    }
    checks: dict[str, list[str]] = {}
    for runner in args.runners:
        warehouse = str(folder / f"{runner}.duckdb")
        stage = timed("pipeline", {"avro": avro, "warehouse": warehouse, "beam_args": RUNNERS[runner]}, folder,
                      slow_repeat if runner == "fnapi" else 1)
        stages[f"pipeline {runner}"] = stage
        checks[runner] = check_rows(str(folder / "reference.duckdb"), warehouse)
        if stage.get("balanced") is False:
            checks[runner].append("run summary does not balance")
    if "fnapi" in args.runners:
        exported = {"warehouse": str(folder / "fnapi.duckdb")}
        stages["export jsonl"] = timed("export", exported, folder, 1)
        before = timed("export", {**exported, "path": "rows"}, folder, 1)  # the row-by-row way, same run
        new = stages["export jsonl"]
        new["before_us_per_row"], new["before_cpu_us_per_row"] = before["us_per_row"], before["cpu_us_per_row"]
        new["speedup_vs_before"] = before["seconds"] / new["seconds"]
        new["cpu_speedup_vs_before"] = before["cpu_seconds"] / max(new["cpu_seconds"], 1e-9)
        print(f"    export jsonl: {new['us_per_row']:.1f} µs/row ({new['cpu_us_per_row']:.1f} CPU), row by row "
              f"before: {before['us_per_row']:.1f} ({before['cpu_us_per_row']:.1f} CPU): "
              f"{new['speedup_vs_before']:.1f}x by wall, {new['cpu_speedup_vs_before']:.1f}x by CPU", file=sys.stderr)
        if (before["bytes"], before["crc32"]) != (new["bytes"], new["crc32"]):
            checks.setdefault("export", []).append("the export wrote other bytes than the row-by-row way")
    if broker is not None:
        topic = f"bench-{count}"
        produced = run_stage("kafka_produce", {"avro": avro, "bootstrap": broker.bootstrap, "topic": topic}, folder)
        print(f"    kafka produce: {produced['seconds']:.1f} s (not in the table)", file=sys.stderr)
        warehouse = str(folder / "kafka.duckdb")
        stages["kafka bounded read"] = timed(
            "kafka_read", {"bootstrap": broker.bootstrap, "topic": topic, "warehouse": warehouse}, folder, 1)
        checks["kafka"] = check_rows(str(folder / "reference.duckdb"), warehouse)
    floor, query = stages["fastavro decode"], stages["duckdb query"]
    for stage in stages.values():
        stage["events_per_s"] = stage["records"] / stage["seconds"] if stage["seconds"] > 0 else None
        if stage is not floor and stage is not query:
            stage["vs_fastavro"] = floor["seconds"] / stage["seconds"]
            stage["vs_duckdb"] = query["seconds"] / stage["seconds"]
            if stage["cpu_seconds"] > 0:  # fairer on a shared machine; in-process work only
                stage["cpu_vs_fastavro"] = floor["cpu_seconds"] / stage["cpu_seconds"]
                stage["cpu_vs_duckdb"] = query["cpu_seconds"] / stage["cpu_seconds"]
    return {"events": generated["records"], "stages": stages, "checks": checks}


def render(results: list[dict[str, Any]]) -> str:
    """The table: wall seconds and CPU seconds (this process's, all threads), rows (or events) per
    wall second, peak RSS, and each stage's speed as a ratio of fastavro's and DuckDB's (wall / CPU)."""
    lines = [f"{'events':>10}  {'stage':<20} {'wall s':>8} {'cpu s':>8} {'per s':>10} {'peak RSS':>9} "
             f"{'vs fastavro':>13} {'vs duckdb':>13}",
             f"{'':>10}  {'':<20} {'':>8} {'':>8} {'':>10} {'':>9} {'wall / cpu':>13} {'wall / cpu':>13}"]
    for result in results:
        for name, stage in result["stages"].items():
            def ratio(key: str) -> str:
                if key in stage:
                    return f"{stage[key]:.3f} / {stage.get('cpu_' + key, 0):.3f}"
                return "1" if name.startswith("fastavro" if key == "vs_fastavro" else "duckdb") else ""
            rate = f"{stage['events_per_s']:,.0f}"
            lines.append(f"{result['events']:>10,}  {name:<20} {stage['seconds']:>8.2f} {stage['cpu_seconds']:>8.2f} "
                         f"{rate:>10} {stage['peak_rss_mib']:>7.0f} M {ratio('vs_fastavro'):>13} {ratio('vs_duckdb'):>13}")
        for runner, problems in result["checks"].items():
            verdict = "identical, row for row" if not problems else "DIFFERENT:\n      " + "\n      ".join(problems)
            lines.append(f"{'':>10}  check {runner} vs DuckDB: {verdict}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timed stage (median reported)")
    parser.add_argument("--runners", default="fnapi", help=f"comma-separated, of: {', '.join(RUNNERS)} "
                        "(flink = flink1,flink2)")
    parser.add_argument("--no-kafka", action="store_true", help="skip the Kafka rows")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 events, one repetition")
    parser.add_argument("--keep", metavar="FOLDER", help="work in FOLDER and keep its files")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<date>.json, "
                                                 "<date>-quick.json with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.repeat = [5_000], 1
    runners = []
    for name in args.runners.split(","):
        runners.extend(["flink1", "flink2"] if name == "flink" else [name])
    unknown = [r for r in runners if r not in RUNNERS]
    if unknown:
        parser.error(f"unknown runner(s) {', '.join(unknown)}; choose from {', '.join(RUNNERS)}")
    args.runners = runners

    broker = None
    if not args.no_kafka:
        if shutil.which("java") is None:
            print("  no Java on PATH: the Kafka rows are skipped", file=sys.stderr)
        else:
            from services.kafka_broker import KafkaBroker
            from services.maven import free_port

            state = Path(tempfile.mkdtemp(prefix="bench-kafka-"))
            broker = KafkaBroker(state_dir=state, port=free_port())
            try:
                broker.start()
            except Exception as error:
                print(f"  the Kafka broker did not start ({error}): the Kafka rows are skipped", file=sys.stderr)
                broker = None
    results: list[dict[str, Any]] = []
    # a smoke run does not replace the day's full results
    out = args.out or RESULTS / f"{dt.date.today().isoformat()}{'-quick' if args.quick else ''}.json"
    try:
        for count in args.events:
            with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
                folder = Path(args.keep or scratch) / str(count)
                folder.mkdir(parents=True, exist_ok=True)
                results.append(bench_one(count, args, folder, broker))
            print(render(results[-1:]), file=sys.stderr, flush=True)
            write_report(out, args, results)  # after each N, so a long run leaves what it measured
    finally:
        if broker is not None:
            broker.stop()
    print(render(results))
    print(f"written to {out}", file=sys.stderr)
    failed = any(problems for result in results for problems in result["checks"].values())
    return 1 if failed else 0


def write_report(out: Path, args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    largest = results[-1]["stages"]
    headline = largest.get("pipeline fnapi", {})
    report = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "repeat": args.repeat,
        "events": args.events,
        "ratio_pipeline_vs_fastavro": headline.get("vs_fastavro"),
        "ratio_pipeline_vs_duckdb": headline.get("vs_duckdb"),
        "cpu_ratio_pipeline_vs_fastavro": headline.get("cpu_vs_fastavro"),
        "cpu_ratio_pipeline_vs_duckdb": headline.get("cpu_vs_duckdb"),
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
