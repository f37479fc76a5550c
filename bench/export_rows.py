"""Synthetic pair_scores rows straight into a warehouse file, for the export bench: as many rows as
asked (2.5 million in a minute, where the pipeline would need several million events), shaped like
the pipeline's (a few sites, weekly windows, one run, 17-digit floats, a fifth of the latencies and
reply rates null, millisecond timestamps)."""
from __future__ import annotations

import duckdb

from warehouse import open_warehouse


def write_pair_scores(path: str, rows: int) -> int:
    """Create the warehouse at ``path`` with ``rows`` pair_scores rows; returns the count stored."""
    open_warehouse(path)  # tables and views of this release
    with duckdb.connect(path) as connection:
        connection.execute("SELECT setseed(0.11)")
        connection.execute(f"""
            INSERT INTO pair_scores SELECT
              'site-' || (i % 7), 'author-' || (hash(i) % 50000) || '-' || i, 'reader-' || (i * 7919 % 100003),
              TIMESTAMP '2026-01-05' + INTERVAL (i % 20) WEEK, TIMESTAMP '2026-01-12' + INTERVAL (i % 20) WEEK,
              1 + i % 13, i % 5, 1 + i % 7,
              CASE WHEN i % 5 = 0 THEN NULL ELSE random() * 86400 END,
              CASE WHEN i % 5 = 0 THEN NULL ELSE random() END,
              random(), random() * 3,
              TIMESTAMP '2026-01-05' + INTERVAL (i % 20) WEEK + to_milliseconds(i % 604800000),
              TIMESTAMP '2026-01-05' + INTERVAL (i % 20) WEEK + to_milliseconds(604799999 - i % 1000),
              'ON_TIME', 0, i % 2 = 0, TIMESTAMP '2026-11-26 10:00:00.123', TIMESTAMP '2026-11-26 09:59:00.456',
              i % 5 - CASE WHEN i % 3 = 0 AND i % 5 > 0 THEN 1 ELSE 0 END,  -- some replies after the window's end
              CASE WHEN i % 5 = 0 THEN NULL ELSE random() * 86400 END, random() * 3,  -- the window at its end
              TIMESTAMP '2026-01-05' + INTERVAL (i % 20) WEEK + to_milliseconds(604799999 - i % 1000)
            FROM range({int(rows)}) t(i)""")
        return connection.execute("SELECT count(*) FROM pair_scores").fetchone()[0]
