"""pipelines/stopping.py: how a run whose runner died leaves the process."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_whose_runner_was_lost_leaves_without_interpreter_finalization():
    # CI: a stream whose Prism was killed printed its one-line FAILED summary, then the process
    # aborted (SIGABRT, "FATAL: exception not rethrown") while Python finalized with Beam's gRPC
    # threads still attached to the dead runner: exit -6 instead of 1. Once the runner is lost the
    # console entry point flushes and leaves with os._exit, so nothing runs after the summary.
    script = textwrap.dedent("""
        import atexit
        from pipelines import cli, stopping
        atexit.register(lambda: print("finalized", flush=True))
        def failed_run():
            stopping.mark_runner_lost()
            print("summary", end="")  # unflushed: the exit must flush it
            return 1
        cli.main = failed_run
        cli.console_main()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done
    assert done.stdout == "summary", done


def test_any_other_run_exits_as_usual():
    script = textwrap.dedent("""
        import atexit
        from pipelines import cli
        atexit.register(lambda: print("finalized", flush=True))
        cli.main = lambda: 3
        cli.console_main()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and done.stdout == "finalized\n", done


@pytest.mark.parametrize("signum, code, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated (SIGTERM)")])
def test_a_run_on_the_default_runner_stopped_with_a_signal_is_interrupted_not_failed(tmp_path, signum, code, said):
    # An outside probe: Ctrl-C (to the process group, as a terminal sends it) or `timeout` during a
    # run on the default runner printed a summary "NOT balanced: the pipeline did not finish
    # (RuntimeError: KeyboardInterrupt [while running ...])" and exited 1: Beam had wrapped the
    # interrupt raised inside a DoFn. Portable runners' runs said "interrupted" (130/143).
    import os
    import signal
    import time

    from bench.events import write_bench_events
    from warehouse import open_warehouse

    events = tmp_path / "events.avro"
    write_bench_events(150_000, events, tmp_path / "events.parquet")
    warehouse = tmp_path / "w.duckdb"
    run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--input", str(events), "--warehouse",
                            str(warehouse)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    deadline = time.monotonic() + 120
    while not warehouse.exists():  # the run is recorded: its DoFns start
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.2)
    time.sleep(3)
    os.killpg(run.pid, getattr(signal, signum))
    out, err = run.communicate(timeout=120)
    assert run.returncode == code and said in err, (out, err)
    assert "NOT balanced" not in out + err and "Traceback" not in err, (out, err)
    columns, rows = open_warehouse(str(warehouse)).export("runs")
    (row,) = list(rows)
    assert (row[columns.index("status")], row[columns.index("message")]) == (
        "FAILED", "interrupted before the end of a bounded run")


@pytest.mark.parametrize("first, second, pause_s, aborted", [
    ("SIGTERM", "SIGTERM", 0.0, False),  # GNU timeout: the command, then its group
    ("SIGTERM", "SIGTERM", 2.5, True),  # an operator's second `kill`: abort
    ("SIGINT", "SIGINT", 0.0, True),  # a second Ctrl-C, however soon: abort
    ("SIGINT", "SIGTERM", 0.0, True),
], ids=["sigterm twice at once", "sigterm again later", "ctrl-c twice", "ctrl-c then sigterm"])
def test_a_second_stop_signal_aborts_unless_it_is_the_same_sigterm_at_once(first, second, pause_s, aborted):
    script = textwrap.dedent(f"""
        import os, signal, threading, time
        from pipelines import stopping
        stop = threading.Event()
        with stopping.drain_on_signals(stop):
            os.kill(os.getpid(), signal.{first})
            time.sleep({pause_s})
            os.kill(os.getpid(), signal.{second})
            time.sleep(0.2)
        print("drained", stop.is_set(), flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if aborted:
        assert done.returncode == 130 and "aborted" in done.stderr and "drained" not in done.stdout, done
    else:
        assert done.returncode == 0 and done.stdout == "drained True\n" and "aborted" not in done.stderr, done
        # what the operator who sent SIGTERM can do; Ctrl-C was not what they pressed
        assert "send SIGTERM again after 2 s, or press Ctrl-C, to abort" in done.stderr, done
