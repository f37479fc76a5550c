"""`social-mentors demo --live` as a user runs it: its own broker, the live producer and the streaming
pipeline; rows appear in the warehouse while it runs; it stops by itself (--seconds) or on Ctrl-C,
drained and balanced; without Java or Prism it says what to install."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse import open_warehouse

COMMAND = str(Path(sys.executable).with_name("social-mentors"))  # the console script a user types


def start_demo(tmp_path, *options):
    """`social-mentors demo --live ...` in its own process group, as a terminal runs it."""
    out, err = open(tmp_path / "stdout.txt", "w"), open(tmp_path / "stderr.txt", "w")
    warehouse = tmp_path / "live.duckdb"
    process = subprocess.Popen([COMMAND, "demo", "--live", "--rate", "10", "--out", str(tmp_path / "demo"),
                                "--warehouse", str(warehouse), *options],
                               stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    return process, warehouse


def output(tmp_path):
    return (tmp_path / "stdout.txt").read_text(), (tmp_path / "stderr.txt").read_text()


def rows_while_running(process, warehouse, tmp_path, timeout_s=300):
    """The pair rows a reader sees in the warehouse before the demo ends (read-only, as `query` reads)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            rows = open_warehouse(str(warehouse), read_only=True).count("pair_scores")
        except Exception:  # not created yet
            rows = 0
        if rows and process.poll() is None:
            return rows
        time.sleep(2)
    raise AssertionError("no rows appeared while the demo ran:\n" + "\n".join(output(tmp_path))[-4000:])


def left_running(folder):
    """Processes whose command line names ``folder`` (the demo's broker keeps its state there)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(folder).encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            continue
    return found


def assert_ended_balanced(process, tmp_path):
    try:
        code = process.wait(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    out, err = output(tmp_path)
    assert code == 0, f"exit {code}\n{out[-3000:]}\n{err[-3000:]}"
    assert "Run summary" in out and "balanced" in out and "NOT balanced" not in out, out[-3000:]
    assert "Traceback" not in err, err[-4000:]
    assert not left_running(tmp_path / "demo" / "kafka"), "the demo's broker outlived it"
    return out, err


@pytest.mark.slow
def test_the_live_demo_writes_rows_while_it_runs_and_stops_by_itself_balanced(tmp_path, prism_binary):
    process, warehouse = start_demo(tmp_path, "--seconds", "60")
    assert rows_while_running(process, warehouse, tmp_path) > 0
    out, err = assert_ended_balanced(process, tmp_path)
    assert "sent " in out and "pair rows in the warehouse" in out and "records in" in out  # the status line
    assert "--seconds 60: stopping as Ctrl-C does" in err


@pytest.mark.slow
def test_ctrl_c_stops_the_live_demo_drained_and_balanced(tmp_path, prism_binary):
    process, warehouse = start_demo(tmp_path)  # until Ctrl-C
    rows_while_running(process, warehouse, tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in its terminal: to the whole process group
    out, err = assert_ended_balanced(process, tmp_path)
    assert "SIGINT: stopping" in err  # the stream drained


def without(tool, tmp_path):
    """A PATH holding links to Python's folder tools but not ``tool`` (nor Go, so Prism cannot be built)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    if tool != "java":
        import shutil

        (folder / "java").symlink_to(shutil.which("java"))
    env = {k: v for k, v in os.environ.items() if k != "SOCIAL_MENTORS_PRISM"}
    return {**env, "PATH": str(folder), "SOCIAL_MENTORS_CACHE": str(tmp_path / "empty-cache")}


@pytest.mark.parametrize("tool, says", [("java", "needs Java 17 or newer on the PATH"),
                                         ("prism", "Prism runner, which is not built yet: building Prism needs Go")])
def test_without_java_or_prism_the_live_demo_says_what_to_install(tool, says, tmp_path):
    done = subprocess.run([COMMAND, "demo", "--live", "--out", str(tmp_path / "demo"),
                           "--warehouse", str(tmp_path / "live.duckdb")],
                          capture_output=True, text=True, env=without(tool, tmp_path), timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
    assert not (tmp_path / "demo" / "kafka").exists()  # nothing was started


def test_rate_and_seconds_belong_to_the_live_demo(tmp_path):
    done = subprocess.run([COMMAND, "demo", "--seconds", "5", "--out", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "--seconds belongs to the live demo: add --live" in done.stderr, done.stderr


def test_the_live_demo_streams_into_a_warehouse_of_its_own_unless_given_one(tmp_path):
    # `demo` writes weekly windows into social-mentors-demo/warehouse.duckdb; the live stream's
    # 1-minute windows there would be refused (one window length per warehouse).
    from pipelines.cli import parse
    from pipelines.commands.demo_live import LiveDemo

    out = tmp_path / "demo"
    assert LiveDemo(parse(["demo", "--live", "--out", str(out)])).warehouse == str(out / "live.duckdb")
    given = str(tmp_path / "mine.duckdb")
    assert LiveDemo(parse(["demo", "--live", "--out", str(out), "--warehouse", given])).warehouse == given
