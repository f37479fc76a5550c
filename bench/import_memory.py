"""Peak memory (tracemalloc) and rate of each importer on synthetic archives of two sizes.

The ratio of the two peaks against the ratio of the two sizes says whether an importer streams:
about 1 means memory does not grow with the archive; about the size ratio means it grows with it
(the indexes of message and comment ids do, by design, with a few dozen bytes per record).
Usage: python bench/import_memory.py [--records 20000]
"""
from __future__ import annotations

import argparse
import json
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
            record = {"id": f"k{i}", "author": f"u{i % 97}", "created_utc": 1420452000 + i, "subreddit": "r",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
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
