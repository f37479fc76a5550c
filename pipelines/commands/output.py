"""How commands print rows: an aligned table, JSON Lines or CSV, timestamps in ISO 8601 UTC.

JSON Lines and CSV are exports: floats are written at full precision (Python's shortest repr, which
reads back as the same double), so an exported score equals the stored one. Only the aligned table,
for people, rounds floats to 6 decimals.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from typing import Any, Iterable, Optional, TextIO


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    return value


def _display_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value, 6))
    return str(_json_value(value))


def write_rows(columns: list[str], rows: Iterable[tuple], fmt: str, out: Optional[TextIO] = None) -> int:
    """Rows to ``out`` (stdout) as an aligned table, JSON Lines or CSV; timestamps in ISO 8601 UTC."""
    out = out or sys.stdout
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({c: _json_value(v) for c, v in zip(columns, row)}) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _json_value(v) for v in row])
            count += 1
    else:
        cells = [[_display_value(v) for v in row] for row in rows]
        count = len(cells)
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
        for r in cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    return count
