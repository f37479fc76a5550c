"""A progress line redrawn with \\r: what a terminal shows at the end, never a stale or mixed line."""
import datetime as dt
import io

from importers.core import ImportSummary, event, validated
from importers.pseudonymize import Pseudonymizer
from services.progress import ProgressLine


def screen(written: str) -> list[str]:
    """What a terminal shows for ``written``: \\r returns to the line's start and overwrites."""
    lines, column = [[]], 0
    for char in written:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            line[column:column + 1] = [char]
            column += 1
    return ["".join(line).rstrip() for line in lines]


def test_a_shorter_redraw_leaves_nothing_of_the_longer_one():
    out = io.StringIO()
    progress = ProgressLine(out)
    progress.show("  producing 6,041/6,041 records (1,234/s)")
    progress.show("  short")
    assert screen(out.getvalue()) == ["  short"]
    progress.done()
    assert screen(out.getvalue() + "sent 6,041 records") == ["sent 6,041 records"]


def test_an_import_s_progress_ends_on_its_final_count_not_its_first():
    out = io.StringIO()
    items = [event("POST", "s", f"t{n}", f"p{n}", "a", dt.datetime(2026, 1, 1)) for n in range(3)]
    list(validated(items, ImportSummary(), Pseudonymizer(None), out))
    shown = [line for line in screen(out.getvalue()) if line]
    assert shown and shown[-1].startswith("  importing: 3 read, 3 converted")
