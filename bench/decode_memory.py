"""Peak RSS of decoding a JSON Lines file made of one huge line and one ordinary record.

Issue 12: `run`'s JSONL reader iterated whole lines, so one 100 MB line cost hundreds of MB. The
reader now holds at most --max-record-bytes of a line and skips the rest in chunks. Each measurement
runs in a fresh child process (peak RSS is per process); the baseline child only imports the decoder.
Usage: python bench/decode_memory.py [--line-mb 200] [--code DIR]
(--code DIR: the checkout whose transforms/decode.py to measure, e.g. an older one for a "before".)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import resource, sys, time
    sys.path.insert(0, sys.argv[1])
    from transforms.decode import iter_event_file
    counts = {}
    started = time.perf_counter()
    if len(sys.argv) > 2:
        with open(sys.argv[2], "rb") as stream:
            for item in iter_event_file(sys.argv[2], stream):
                kind = getattr(item, "error_kind", "event")
                counts[kind] = counts.get(kind, 0) + 1
    seconds = time.perf_counter() - started
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, seconds, counts)
""")


def one_long_line(path: Path, megabytes: int) -> Path:
    valid = {"event_id": "after", "kind": "POST", "site": "s", "thread_id": "t", "item_id": "i",
             "actor_id": "a", "created_at": "2026-03-02T00:00:00Z"}
    with path.open("w", encoding="utf-8") as out:
        out.write('{"event_id": "long", "kind": "POST", "actor_id": "')
        for _ in range(megabytes):
            out.write("a" * 1_000_000)
        out.write('"}\n' + json.dumps(valid) + "\n")
    return path


def child_peak(code: Path, *paths: str) -> tuple[float, float, str]:
    output = subprocess.run([sys.executable, "-c", CHILD, str(code), *paths], check=True, capture_output=True,
                            text=True).stdout.split(maxsplit=2)
    return int(output[0]) / 1024, float(output[1]), output[2].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--line-mb", type=int, default=200, help="length of the long line in MB (default 200)")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout to measure (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = one_long_line(Path(folder) / "one-long-line.jsonl", args.line_mb)
        print(f"wrote {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s; code: {args.code}")
        baseline, _, _ = child_peak(args.code)
        peak, seconds, counts = child_peak(args.code, str(path))
    print(f"peak RSS importing the decoder only   {baseline:>8,.0f} MB")
    print(f"peak RSS decoding the file            {peak:>8,.0f} MB  (+{peak - baseline:,.0f} MB, {seconds:.1f} s)")
    print(f"outcome                               {counts}")


if __name__ == "__main__":
    main()
