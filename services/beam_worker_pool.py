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

It is Beam's servicer started by this module (``python -m services.beam_worker_pool``), not Beam's
``worker_pool_main``, for two reasons an outside probe found. Beam's listens on every interface and
starts a worker for any client, which then takes its instructions from an address the client names:
this one listens on 127.0.0.1 only. And a run killed with SIGTERM or SIGKILL left the pool and its
workers running the job to its end, writing to the warehouse of a run recorded as still running:
this one watches the process that started it and, once it is gone, stops itself and its workers.
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
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "BeamWorkerPool":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        bin_dir = os.path.dirname(sys.executable)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        self.process = processes.spawn(
            [sys.executable, "-m", "services.beam_worker_pool", str(self.port), str(os.getpid())],
            self.log_file, env=env)
        try:
            processes.wait_until_ready(
                "SDK worker pool", lambda: answers(self.port), [("SDK worker pool", self.process, self.log_file)],
                WorkerPoolError, self.stop, START_TIMEOUT_S)
        except BaseException:  # Ctrl-C while it starts: __exit__ would not run
            self.stop()
            raise
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


PARENT_POLL_S = 0.5


def serve(port: int, parent_pid: int) -> None:
    """The pool's process: Beam's servicer (workers as processes) on 127.0.0.1:``port``, until this
    process is signalled or ``parent_pid`` is no longer its parent; then its whole process group
    (the workers it started) is stopped with it."""
    import logging

    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2_grpc
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
    from apache_beam.utils import thread_pool_executor

    def stop_group(*_: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(0, signal.SIGTERM)  # the workers, then this process (default action)

    signal.signal(signal.SIGTERM, stop_group)
    logging.basicConfig(level=logging.INFO)
    server = grpc.server(thread_pool_executor.shared_unbounded_instance(),  # Beam's own options
                         options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)])
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(
        BeamFnExternalWorkerPoolServicer(use_process=True, data_buffer_time_limit_ms=-1), server)
    if server.add_insecure_port(f"127.0.0.1:{port}") != port:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    server.start()
    logging.getLogger(__name__).info("SDK worker pool on 127.0.0.1:%d for process %d", port, parent_pid)
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    logging.getLogger(__name__).warning("process %d is gone: stopping the pool and its workers", parent_pid)
    stop_group()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
