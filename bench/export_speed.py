"""The export bench: ``python -m bench.export_speed [--rows 1000000 2500000] [--formats jsonl,csv]``.

For each N, a warehouse of N synthetic pair_scores rows (bench/export_rows.py, not timed), then
``export pair_scores`` in each format, each run in its own process (bench/stages.py, so its peak RSS
is its own): the command as it is (column by column) and, up to ``--rows-path-up-to`` rows, the
row-by-row way it was before (Warehouse.export and write_rows), in the same run. Prints µs a row
(wall and CPU), peak RSS, the ratio of the two ways, and whether they wrote the same bytes (size and
CRC-32); writes bench/results/<date>-export.json. Exit 1 when the two ways' bytes differ.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from bench.__main__ import RESULTS, run_stage, timed


def bench_rows(rows: int, formats: list[str], rows_path_up_to: int, repeat: int, folder: Path) -> dict[str, Any]:
    warehouse = str(folder / "export.duckdb")
    made = run_stage("export_warehouse", {"warehouse": warehouse, "rows": rows}, folder)
    print(f"  {made['records']:,} rows", file=sys.stderr, flush=True)
    stages: dict[str, Any] = {}
    for fmt in formats:
        stages[f"{fmt} columnar"] = timed("export", {"warehouse": warehouse, "fmt": fmt}, folder, repeat)
        if rows <= rows_path_up_to:
            old = stages[f"{fmt} rows (before)"] = timed(
                "export", {"warehouse": warehouse, "fmt": fmt, "path": "rows"}, folder, 1)
            new = stages[f"{fmt} columnar"]
            new["speedup_wall"] = old["seconds"] / new["seconds"]
            new["speedup_cpu"] = old["cpu_seconds"] / new["cpu_seconds"]
            new["same_bytes"] = (old["bytes"], old["crc32"]) == (new["bytes"], new["crc32"])
    return {"rows": made["records"], "stages": stages}


def render(results: list[dict[str, Any]]) -> str:
    lines = [f"{'rows':>10}  {'export':<18} {'wall s':>8} {'cpu s':>8} {'µs/row':>8} {'cpu µs/row':>10} "
             f"{'peak RSS':>9} {'vs before (wall / cpu)':>23}  same bytes"]
    for result in results:
        for name, stage in result["stages"].items():
            ratio = (f"{stage['speedup_wall']:.1f}x / {stage['speedup_cpu']:.1f}x" if "speedup_wall" in stage else "")
            same = {True: "yes", False: "NO", None: ""}[stage.get("same_bytes")]
            lines.append(f"{result['rows']:>10,}  {name:<18} {stage['seconds']:>8.2f} {stage['cpu_seconds']:>8.2f} "
                         f"{1e6 * stage['seconds'] / result['rows']:>8.1f} "
                         f"{1e6 * stage['cpu_seconds'] / result['rows']:>10.1f} {stage['peak_rss_mib']:>7.0f} M "
                         f"{ratio:>23}  {same}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_500_000])
    parser.add_argument("--formats", default="jsonl,csv")
    parser.add_argument("--rows-path-up-to", type=int, default=1_000_000,
                        help="time the row-by-row way too up to this many rows (it takes ~170 µs a row)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the columnar export (median reported)")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<date>-export.json)")
    args = parser.parse_args(argv)
    out = args.out or RESULTS / f"{dt.date.today().isoformat()}-export.json"
    results = []
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
            results.append(bench_rows(rows, args.formats.split(","), args.rows_path_up_to, args.repeat, Path(scratch)))
        print(render(results[-1:]), file=sys.stderr, flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                   "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(),
                                   "results": results}, indent=2) + "\n")
    print(render(results))
    print(f"written to {out}", file=sys.stderr)
    return 1 if any(s.get("same_bytes") is False for r in results for s in r["stages"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
