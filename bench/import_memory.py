"""Peak memory (tracemalloc) and rate of each importer on synthetic archives of two sizes.

The ratio of the two peaks against the ratio of the two sizes says whether an importer streams:
about 1 means memory does not grow with the archive; about the size ratio means it grows with it
(the indexes of message and comment ids do, by design, with a few dozen bytes per record).
Usage: python bench/import_memory.py [--records 20000] [--long-line-mb 0]

``--long-line-mb N`` measures instead the peak resident memory (RSS, of a fresh process) of importing
a gzipped mail archive whose one message has an N MB header line, and a Reddit NDJSON file of one
N MB record: the shape of a hostile archive. Each is a counted skip, read in bounded memory.
"""
from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from importers import import_items


def mbox(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            parent = f"In-Reply-To: <m{i // 3}@x.org>\n" if i % 3 else ""
            out.write(f"From user{i % 97} at x.org  Mon Jan  5 10:00:00 2015\nFrom: user{i % 97} at x.org\n"
                      f"Date: Mon, 05 Jan 2015 10:{i % 60:02d}:00 +0000\nMessage-ID: <m{i}@x.org>\n{parent}\n"
                      + "A body line of an ordinary length, repeated.\n" * 20)
    return path


def reddit(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = {"id": f"k{i}", "author": f"u{i % 97}", "created_utc": 1420452000 + i, "subreddit": "rust",
                      "body": "text " * 40}
            if i % 10:
                record.update(parent_id=f"t3_k{i - i % 10}", link_id=f"t3_k{i - i % 10}")
            out.write(json.dumps(record) + "\n")
    return path


def wordpress(path: Path, n: int) -> Path:
    comment = ("<wp:comment><wp:comment_id>{c}</wp:comment_id><wp:comment_author_email>u{c}@x.org"
               "</wp:comment_author_email><wp:comment_date_gmt>2015-01-01 11:00:00</wp:comment_date_gmt>"
               "<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent>"
               "<wp:comment_content>" + "text " * 40 + "</wp:comment_content></wp:comment>")
    with path.open("w", encoding="utf-8") as out:
        out.write('<rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">'
                  "<channel><link>https://b.example</link>")
        for post in range(n // 10):
            out.write(f"<item><dc:creator>admin</dc:creator><wp:post_id>{post}</wp:post_id><wp:post_date_gmt>"
                      "2015-01-01 10:00:00</wp:post_date_gmt><wp:post_type>post</wp:post_type>"
                      + "".join(comment.format(c=post * 10 + k) for k in range(9)) + "</item>")
        out.write("</channel></rss>")
    return path


def measure(fmt: str, path: Path) -> tuple[int, int, float]:
    tracemalloc.start()
    started = time.perf_counter()
    count = sum(1 for _ in import_items(fmt, [str(path)]))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, peak, count / seconds


def long_lines(megabytes: int, folder: Path) -> None:
    """Peak RSS of a fresh process importing one over-long line (mail header, Reddit record)."""
    size = megabytes * 1_000_000
    mail = folder / "list" / "2015-January.txt.gz"
    mail.parent.mkdir()
    chunk = 1_000_000  # written in chunks: this process must stay small, its children inherit its peak
    with gzip.open(mail, "wb", compresslevel=9) as out:
        out.write(b"From a at x.org  Mon Jan  5 10:00:00 2015\nFrom: a at x.org\nReferences: ")
        for _ in range(size // chunk):
            out.write(b"<r@x> " * (chunk // 6))
        out.write(b"\n\nbody\n")
    reddit_path = folder / "dump.ndjson"
    with reddit_path.open("w") as out:
        out.write('{"id": "k", "author": "a", "created_utc": 1, "body": "')
        for _ in range(size // chunk):
            out.write("x" * chunk)
        out.write('"}\n')
    print(f"{'format':<10} {'file MB':>8} {'line MB':>8} {'peak RSS MB':>12}  outcome")
    for fmt, path in (("mbox", mail.parent), ("reddit", reddit_path)):
        code = ("import resource, sys; from importers import import_items; "
                f"items = list(import_items({fmt!r}, [{str(path)!r}])); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, [getattr(i, 'reason', 'event') for i in items])")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
        on_disk = sum(p.stat().st_size for p in Path(path).rglob("*")) if Path(path).is_dir() else Path(path).stat().st_size
        print(f"{fmt:<10} {on_disk / 1e6:>8.2f} {megabytes:>8} {int(out[0]) / 1024:>12.0f}  {out[1].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--long-line-mb", type=int, default=0, help="measure one over-long line of this size instead")
    args = parser.parse_args()
    if args.long_line_mb:
        with tempfile.TemporaryDirectory() as folder:
            long_lines(args.long_line_mb, Path(folder))
        return
    small, large = args.records // 10, args.records
    print(f"{'format':<10} {'records':>9} {'file MB':>8} {'peak MB':>8} {'records/s':>10}   peak ratio for {large // small}x the data")
    with tempfile.TemporaryDirectory() as folder:
        for fmt, make, suffix in (("mbox", mbox, ".txt"), ("reddit", reddit, ".ndjson"), ("wordpress", wordpress, ".xml")):
            peaks = []
            for n in (small, large):
                path = make(Path(folder) / f"{fmt}-{n}{suffix}", n)
                count, peak, rate = measure(fmt, path)
                peaks.append(peak)
                print(f"{fmt:<10} {count:>9,} {path.stat().st_size / 1e6:>8.1f} {peak / 1e6:>8.2f} {rate:>10,.0f}")
            print(f"{'':<10} {'':>9} {'':>8} {'':>8} {'':>10}   {peaks[1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
