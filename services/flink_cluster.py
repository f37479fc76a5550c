"""A standalone Flink session cluster on 127.0.0.1: one JobManager and one TaskManager process.

Flink's own distribution (``flink-dist``) is not on Maven Central, but the runtime is, and Beam's
Flink runner depends on it: the job server's jars (``services.flink_job_server``) hold
everything both Flink processes need. This module does what Flink's ``start-cluster.sh`` does:
writes a configuration, asks ``BashJavaUtils`` for the TaskManager's memory options, and starts
``StandaloneSessionClusterEntrypoint`` and ``TaskManagerRunner``.

It exists so that the "real cluster" path an operator takes (``--flink_master HOST:PORT`` and SDK
workers outside the submitting process, ``--environment_type EXTERNAL``) is tested, not only the
embedded mini-cluster. It is a development cluster: no high availability, no security.
"""
from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Optional

from services import processes
from services.flink_job_server import FlinkJobServerError, java_command, resolve_job_server
from services.maven import free_port

_CONFIG = """jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: {rpc_port}
jobmanager.bind-host: 127.0.0.1
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: {rest_port}
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.numberOfTaskSlots: {slots}
jobmanager.memory.process.size: 1024m
taskmanager.memory.process.size: 1728m
io.tmp.dirs: {tmp}
"""
_JOB_MANAGER = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
_TASK_MANAGER = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
_MEMORY_OPTIONS = "org.apache.flink.runtime.util.bash.BashJavaUtils"


class FlinkSessionCluster:
    """``with FlinkSessionCluster(folder) as cluster: ... cluster.rest_address ...``"""

    def __init__(self, work_dir: Path, slots: int = 2):
        self.work_dir = Path(work_dir)
        self.slots = slots
        self.rest_port = free_port()
        self.job_manager: Optional[subprocess.Popen] = None
        self.task_manager: Optional[subprocess.Popen] = None

    @property
    def rest_address(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def overview(self) -> Optional[dict]:
        """Flink's REST ``/overview`` (task managers, slots, jobs), or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{self.rest_address}/overview", timeout=2) as response:
                return json.load(response)
        except (OSError, ValueError):  # not answering yet, or not Flink answering
            return None

    def _task_manager_options(self, libs: Path, conf: Path) -> tuple[list[str], list[str]]:
        """The JVM options and dynamic properties for the TaskManager's memory, as Flink computes them."""
        computed = subprocess.run(
            [*java_command(libs), _MEMORY_OPTIONS, "GET_TM_RESOURCE_PARAMS", "--configDir", str(conf)],
            capture_output=True, text=True,
        )
        results = [line.split(":", 1)[1] for line in computed.stdout.splitlines()
                   if line.startswith("BASH_JAVA_UTILS_EXEC_RESULT:")]
        if computed.returncode != 0 or len(results) != 2:
            raise FlinkJobServerError(f"Flink could not size the TaskManager:\n{computed.stdout[-2000:]}{computed.stderr[-2000:]}")
        return results[0].split(), results[1].split()

    def start(self, timeout_s: float = 120.0) -> str:
        """Start both processes; returns the REST address once a TaskManager has registered.
        Started again on new ports when one it chose was taken in between."""
        return processes.start_retrying_taken_ports(
            lambda: self._start_once(timeout_s),
            [self.work_dir / "jobmanager.log", self.work_dir / "taskmanager.log"])

    def _start_once(self, timeout_s: float) -> str:
        libs = resolve_job_server()
        conf = self.work_dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "tmp").mkdir(exist_ok=True)
        if self.job_manager is not None:  # a second attempt: the first one's ports were taken
            self.rest_port = free_port()
        (conf / "flink-conf.yaml").write_text(_CONFIG.format(
            rpc_port=free_port(), rest_port=self.rest_port, slots=self.slots, tmp=self.work_dir / "tmp"))
        jvm, dynamic = self._task_manager_options(libs, conf)
        self.job_manager = processes.spawn(
            [*java_command(libs, "-Xmx512m"), _JOB_MANAGER, "--configDir", str(conf)], self.work_dir / "jobmanager.log")
        self.task_manager = processes.spawn(
            [*java_command(libs, *jvm), _TASK_MANAGER, "--configDir", str(conf), *dynamic],
            self.work_dir / "taskmanager.log")
        processes.wait_until_ready(
            "Flink cluster", lambda: (self.overview() or {}).get("taskmanagers", 0) >= 1,
            [("Flink JobManager", self.job_manager, self.work_dir / "jobmanager.log"),
             ("Flink TaskManager", self.task_manager, self.work_dir / "taskmanager.log")],
            FlinkJobServerError, self.stop, timeout_s, poll_s=0.5)
        return self.rest_address

    def stop(self) -> None:
        processes.terminate(self.task_manager)
        processes.terminate(self.job_manager)

    def __enter__(self) -> "FlinkSessionCluster":
        self.start()
        return self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException], trace: Optional[TracebackType]) -> None:
        self.stop()
