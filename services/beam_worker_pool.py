"""Beam's SDK worker pool on 127.0.0.1: Python workers in processes of their own, for the embedded Flink.

Why: an embedded Flink run's SDK workers run by default in the launching process (LOOPBACK), as
threads. Python runs one thread at a time (the GIL), so ``--parallelism 2`` gave two slots that took
turns: the same CPU time, no speed-up (README, "Big files in ranges, and Flink at parallelism 2").
Beam's worker pool (``python -m apache_beam.runners.worker.worker_pool_main``) starts each worker the
runner asks for as a process of its own, which is what an operator runs beside a real cluster's
task managers (deploy/flink).

The pool starts workers as ``python``: this environment's ``bin`` goes first on its PATH, so they
import this package and its pinned Beam. The pool runs in a session of its own; stopping it signals
the whole session, its workers with it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Optional

from services import processes
from services.flink_job_server import answers
from services.maven import free_port

START_TIMEOUT_S = 60.0


class WorkerPoolError(RuntimeError):
    pass


class BeamWorkerPool:
    """``with BeamWorkerPool(folder) as pool: ... --environment_config=pool.address ...``"""

    def __init__(self, work_dir: Path):
        self.work_dir = Path(work_dir)
        self.port = free_port()
        self.log_file = self.work_dir / "worker-pool.log"
        self.process: Optional[subprocess.Popen] = None

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def __enter__(self) -> "BeamWorkerPool":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        bin_dir = os.path.dirname(sys.executable)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        self.process = processes.spawn(
            [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={self.port}"],
            self.log_file, env=env)
        processes.wait_until_ready(
            "SDK worker pool", lambda: answers(self.port), [("SDK worker pool", self.process, self.log_file)],
            WorkerPoolError, self.stop, START_TIMEOUT_S)
        return self

    def stop(self) -> None:
        """The pool and every worker it started (its session's process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self.stop()
