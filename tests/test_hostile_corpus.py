"""The hostile-input corpus (tests/hostile/, expected.json): each file's own outcome, then every file
through every importer and through `run`: counts that balance or one clear error line, never a crash."""
import json
from pathlib import Path

import pytest

from importers import FORMATS
from pipelines.cli import main

CORPUS = Path(__file__).resolve().parent / "hostile"
EXPECTED = {name: case for name, case in json.loads((CORPUS / "expected.json").read_text()).items() if name != "_about"}
IMPORTS = {name: case for name, case in EXPECTED.items() if case["format"] != "run"}


def _import(fmt, path, out, args=()):
    return main(["import", fmt, str(path), "--to", f"jsonl:{out}", *args])


def _counts(printed):
    read = int(printed.split("records read")[1].split()[0].replace(",", ""))
    converted = int(printed.split("converted")[1].split()[0].replace(",", ""))
    skipped = {}
    block = printed.split("skipped", 1)[1].split("time taken")[0].splitlines()[1:]
    for line in filter(str.strip, block):
        reason, count = line.split()[:2]
        skipped[reason] = int(count.replace(",", ""))
    return read, converted, skipped


@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_each_hostile_archive_comes_to_its_expected_outcome(name, tmp_path, capsys):
    case = IMPORTS[name]
    out = tmp_path / "events.jsonl"
    code = _import(case["format"], CORPUS / name, out, case.get("args", []))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if "error" in case:
        assert code == 2 and case["error"] in captured.err and len(captured.err.strip().splitlines()) == 1
        assert not out.exists()  # nothing half-written
        return
    assert code == 0, captured.err
    read, converted, skipped = _counts(captured.out)
    assert (converted, skipped) == (case["converted"], case["skipped"])
    assert read == converted + sum(skipped.values()) and len(out.read_text().splitlines()) == converted


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_hostile_file_through_every_importer_balances_or_fails_in_one_line(fmt, tmp_path, capsys):
    for number, name in enumerate(sorted(EXPECTED)):
        out = tmp_path / f"{number}.jsonl"
        code = _import(fmt, CORPUS / name, out)
        captured = capsys.readouterr()
        assert code in (0, 2) and "Traceback" not in captured.err, (name, captured.err)
        if code == 2:
            assert len(captured.err.strip().splitlines()) == 1 and not out.exists(), (name, captured.err)
        else:
            read, converted, skipped = _counts(captured.out)
            assert read == converted + sum(skipped.values()), name
            assert len(out.read_text().splitlines()) == converted, name


def test_run_over_every_hostile_file_accounts_for_every_record(tmp_path, capsys):
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file() and p.name != "expected.json")
    args = ["run", "--warehouse", str(tmp_path / "w.duckdb")]
    for path in files:
        args += ["--input", path]
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code == 0 and "accounting      balanced" in captured.out, captured.out + captured.err
