"""Lines of a file in bounded memory: a line longer than the limit is reported, never held.

Archives come from strangers: one line of a mail archive or an NDJSON dump can be gigabytes (a
765 KB .txt.gz of one long line once took 1.6 GB). :func:`bounded_lines` reads at most ``limit + 1``
bytes at a time, so an over-long line costs one buffer; the caller turns it into a counted skip.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator, Optional

DEFAULT_MAX_LINE_BYTES = 1 << 20  # 1 MiB: far above any real mail header line or Reddit record
_DISCARD_CHUNK = 1 << 16


def bounded_lines(stream: BinaryIO, limit: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[tuple[int, Optional[bytes]]]:
    """(line number from 1, the line with its end of line) for each line; ``None`` instead of a line
    longer than ``limit`` bytes (end of line included), whose rest is read and dropped in chunks."""
    if limit < 1:
        raise ValueError(f"the line limit must be at least 1 byte, not {limit}")
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) <= limit:
            yield number, line
            continue
        while not line.endswith(b"\n"):  # the rest of the over-long line, dropped as it is read
            line = stream.readline(_DISCARD_CHUNK)
            if not line:
                break
        yield number, None
