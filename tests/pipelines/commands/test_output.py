"""How commands print rows: exports must give back exactly what the warehouse stores."""
import csv
import datetime as dt
import io
import json

from helpers import E, score_row
from pipelines.cli import main
from pipelines.commands.output import write_rows
from warehouse import open_warehouse

PRECISE = 0.12345678901234567  # needs 17 significant digits


def test_jsonl_and_csv_write_floats_at_full_precision():
    for fmt in ("jsonl", "csv"):
        out = io.StringIO()
        write_rows(["score", "at"], [(PRECISE, dt.datetime(2026, 3, 2))], fmt, out)
        text = out.getvalue()
        value = json.loads(text)["score"] if fmt == "jsonl" else float(list(csv.DictReader(io.StringIO(text)))[0]["score"])
        assert value == PRECISE, (fmt, text)


def test_an_exported_score_equals_the_stored_one(warehouse_path, capsys):
    row = score_row("a", "r", E, PRECISE)
    row["reply_latency_p50_s"] = 1234.5678901234567
    open_warehouse(warehouse_path).write_scores([row])
    assert main(["export", "pair_scores", "--warehouse", warehouse_path]) == 0
    (exported,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert exported["mentor_score"] == PRECISE and exported["reply_latency_p50_s"] == 1234.5678901234567


def test_export_and_query_share_the_exact_formats():
    # the sql fix (strict JSON, microseconds, exact DECIMALs) is write_rows', which export and query use too
    import decimal

    row = (float("nan"), dt.datetime(2026, 3, 2, 0, 0, 0, 5), decimal.Decimal("0.30"))
    out = io.StringIO()
    write_rows(["score", "at", "weight"], [row], "jsonl", out)
    assert out.getvalue() == '{"score": "NaN", "at": "2026-03-02T00:00:00.000005Z", "weight": 0.30}\n'
    out = io.StringIO()
    write_rows(["score", "at", "weight"], [row], "csv", out)
    assert out.getvalue().splitlines()[1] == "NaN,2026-03-02T00:00:00.000005Z,0.30"


def test_every_invisible_or_format_character_is_shown_as_an_escape():
    """Ids `AUTH` and `AUTH\\u200b` looked the same in a table, and LRM, RLM and ALM (bidi marks), soft
    hyphens, byte-order marks, tag characters and line separators reached the terminal raw. Every
    format character of this Python's Unicode (category Cf), and U+2028/2029, is an escape now."""
    import sys
    import unicodedata

    from pipelines.commands.output import printable

    hidden = [chr(c) for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp", "Cc")]
    shown = printable("".join(hidden))
    assert all(c.isascii() and c.isprintable() for c in shown), [c for c in shown if not c.isascii()][:5]
    assert printable("AUTH\u200b") == "AUTH\\u200b" and printable("tag\U000e0041") == "tag\\U000e0041"
    assert printable("lrm\u200e x\u061c") == "lrm\\u200e x\\u061c"
    assert printable("ordinary text: é, 漢字, emoji 🙂") == "ordinary text: é, 漢字, emoji 🙂"
