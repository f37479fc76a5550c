"""pipelines/stopping.py: how a run whose runner died leaves the process."""
import subprocess
import sys
import textwrap
from pathlib import Path

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
