"""How commands print rows: an aligned table, JSON Lines or CSV, timestamps in ISO 8601 UTC.

JSON Lines and CSV write stored values at full precision (Python's shortest repr, which reads back
as the same double), so an exported score equals the stored one. Every value stays what it was:
timestamps to the microsecond (``2026-03-02T00:00:00.123456Z``, naive ones read as UTC), dates and
times in ISO 8601, a DECIMAL as its exact digits (a JSON number written as stored, never through a
double; in CSV the same digits), and the floats JSON cannot hold, NaN and the infinities, as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (BigQuery's TO_JSON writes them so; Python's
json wrote bare NaN, which is not JSON). CSV writes the same texts. The aligned table, for people,
rounds floats to 6 decimals, and so does every format of what a query computes (``float_digits``):
a strength is a sum of floats in whatever order the engine aggregates, so its last digits differ
between BigQuery and DuckDB and even between two runs of one query.

Ids come from strangers, so output is defused: CSV cells that a spreadsheet would run as a formula
(starting with = + - @, tab or carriage return) get a leading single quote (OWASP's advice), and the
table, which goes to a terminal, shows control characters (ANSI and OSC escapes, bidirectional
overrides) as visible ``\\xNN`` escapes instead of sending them. JSON Lines escape them already.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import re
import sys
from typing import Any, Iterable, Optional, TextIO

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Unicode's format characters (category Cf, as of Unicode 14: bidirectional marks, overrides and
# isolates, zero-width spaces and joiners, the soft hyphen, byte-order marks, tag characters, ...)
# and the line and paragraph separators: invisible, or moving the text around them, so two ids that
# differ only by them would look the same, and a name could reorder the line it is printed on.
_INVISIBLE = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
              "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
              "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
# C0 and C1 controls and DEL, and the invisible characters above
_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_CONTROLS_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` safe for a terminal: every control or invisible character shown as an escape, not sent."""
    return (_CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS).sub(_escape, text)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string that starts a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):  # text from strangers, not a number's text
        return "'" + value
    return _csv_value(value)


NOT_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _json_value(value: Any) -> Any:
    """A value as JSON can hold it; a DECIMAL stays a Decimal (see :func:`json_line`)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_FINITE[repr(value)]
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _json_text(value: Any) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value)  # its exact digits, a JSON number (the query path turns DuckDB's DECIMAL literals into floats)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


def json_line(columns: list[str], row: tuple) -> str:
    """One JSON Lines record of ``row``: strict JSON (no NaN), every value as exact as stored."""
    return _json_text({c: _json_value(v) for c, v in zip(columns, row)})


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):  # as JSON writes them; Python's True/False puzzle other tools
        return "true" if value else "false"
    value = _json_value(value)
    return _json_text(value) if isinstance(value, (dict, list)) else value


def _display_value(value: Any) -> str:
    """A table cell: floats rounded for people (exports keep every digit), controls escaped."""
    if value is None:
        return ""
    if isinstance(value, float):
        return printable(str(round(value, 6)))
    return printable(str(_json_value(value)))


QUERY_FLOAT_DIGITS = 6  # decimals of a computed float (see the module docstring)


def write_rows(columns: list[str], rows: Iterable[tuple], fmt: str, out: Optional[TextIO] = None,
               float_digits: Optional[int] = None) -> int:
    """Rows to ``out`` (stdout) as an aligned table, JSON Lines or CSV; timestamps in ISO 8601 UTC.
    ``float_digits`` rounds floats in every format (computed values); None keeps them exact."""
    out = out or sys.stdout
    count = 0
    if float_digits is not None:
        rows = (tuple(round(v, float_digits) if isinstance(v, float) else v for v in row) for row in rows)
    if fmt == "jsonl":
        for row in rows:
            out.write(json_line(columns, row) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(v) for v in row])
            count += 1
    else:
        cells = [[_display_value(v) for v in row] for row in rows]
        count = len(cells)
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
        for r in cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    return count
