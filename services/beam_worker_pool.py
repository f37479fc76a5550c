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
``worker_pool_main``: Beam's listens on every interface and starts a worker for any client, which
then takes its instructions from an address the client names; this one listens on 127.0.0.1 only
(an outside probe). And a run killed with SIGTERM or SIGKILL left the pool and its workers running
the job to its end, writing to the warehouse of a run recorded as still running: a watchdog
(``services.processes.stop_with``) stops the pool's session once the run's process is gone.
"""
from __future__ import annotations

import os
import subprocess
import sys
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
            [sys.executable, "-m", "services.beam_worker_pool", str(self.port)], self.log_file, env=env)
        self.watchdog = processes.stop_with(self.process, self.log_file)  # stopped with a killed run
        try:
            processes.wait_until_ready(
                "SDK worker pool", lambda: answers(self.port), [("SDK worker pool", self.process, self.log_file)],
                WorkerPoolError, self.stop, START_TIMEOUT_S)
        except BaseException:  # Ctrl-C while it starts: __exit__ would not run
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """The pool and every worker it started (its session)."""
        processes.terminate(getattr(self, "watchdog", None))
        processes.terminate(self.process, session=True)

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self.stop()


def serve(port: int) -> None:
    """The pool's process: Beam's servicer (workers as processes) on 127.0.0.1:``port`` until it is
    signalled. Its workers are in its session: the signal that stops it (BeamWorkerPool.stop, or the
    watchdog) reaches them too."""
    import logging

    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2_grpc
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
    from apache_beam.utils import thread_pool_executor

    logging.basicConfig(level=logging.INFO)
    server = grpc.server(thread_pool_executor.shared_unbounded_instance(),  # Beam's own options
                         options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)])
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(
        BeamFnExternalWorkerPoolServicer(use_process=True, data_buffer_time_limit_ms=-1), server)
    if server.add_insecure_port(f"127.0.0.1:{port}") != port:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    server.start()
    logging.getLogger(__name__).info("SDK worker pool on 127.0.0.1:%d", port)
    server.wait_for_termination()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
