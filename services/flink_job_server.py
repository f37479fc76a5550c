"""Beam's Flink job server, resolved from Maven Central and run without Beam's download.

The Python ``FlinkRunner`` normally downloads the shaded ``beam-runners-flink-<flink>-job-server``
jar of the SDK's own version. That jar is not served by every Maven mirror (it is not by the one
reachable where this project is built and tested), but the runner it shades is:
``org.apache.beam:beam-runners-flink-1.19`` with Flink 1.19 and the job service. Maven resolves
that artifact's runtime classpath into the cache once, and ``FlinkJobServerDriver`` runs from it.

``--flink-master [local]`` runs each job in an embedded Flink mini-cluster inside the job server;
``HOST:PORT`` submits jobs to a real Flink cluster's REST endpoint instead.

The Java side's version differs from the Python SDK's (the newest Flink runner served here):
the portable Job API and Fn API are versioned protocols, and the test suite checks that a run on
this job server gives exactly the scores of the in-process runner.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Optional

from services import maven, processes

BEAM_FLINK_RUNNER = "org.apache.beam:beam-runners-flink-1.19:2.62.0"
# Where a mirror serves the Flink runner of the SDK's own version (or a cluster needs another Flink),
# name it here, for example org.apache.beam:beam-runners-flink-1.19:2.77.0.
RUNNER_OVERRIDE_VARIABLE = "SOCIAL_MENTORS_FLINK_RUNNER"
# The job server logs through SLF4J 1.7 (the version on the runner's classpath); without a
# binding it would log nothing at all.
SLF4J_BINDING = "org.slf4j:slf4j-simple:1.7.30"
DRIVER = "org.apache.beam.runners.flink.FlinkJobServerDriver"
LOCAL_MASTER = "[local]"
# Flink on Java 17 reflects into these packages (Flink's own env.java.opts for Java 17).
_JAVA17_OPENS = [
    "java.base/java.util", "java.base/java.lang", "java.base/java.lang.reflect", "java.base/java.io",
    "java.base/java.net", "java.base/java.nio", "java.base/sun.nio.ch", "java.base/java.text",
    "java.base/java.time", "java.base/java.util.concurrent", "java.base/java.util.concurrent.atomic",
]


class FlinkJobServerError(RuntimeError):
    pass


def resolve_job_server(quiet: bool = True) -> Path:
    """The folder of the job server's jars (Flink runner, Flink, job service), resolved on first use."""
    runner = os.environ.get(RUNNER_OVERRIDE_VARIABLE) or BEAM_FLINK_RUNNER
    _, artifact, version = runner.split(":")
    try:
        return maven.resolve_jars(f"{artifact}-{version}", [runner, SLF4J_BINDING], "Beam's Flink job server", quiet)
    except maven.MavenResolutionError as error:
        raise FlinkJobServerError(str(error)) from error


def java_command(libs: Path, *jvm_options: str) -> list[str]:
    """``java`` with Flink's Java 17 options and the job server's jars (Flink's own among them)."""
    opens = [f"--add-opens={package}=ALL-UNNAMED" for package in _JAVA17_OPENS]
    return ["java", *jvm_options, *opens, "-cp", f"{libs}/*"]


def answers(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclasses.dataclass
class FlinkJobServer:
    """A job server process on 127.0.0.1 for the lifetime of a ``with`` block (or start/stop).

    ``flink_master`` is ``[local]`` for an embedded mini-cluster, or a Flink cluster's REST address.
    """

    work_dir: Path
    flink_master: str = LOCAL_MASTER
    heap: str = "1g"
    port: int = 0
    process: Optional[subprocess.Popen] = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return Path(self.work_dir) / "flink-job-server.log"

    def command(self, libs: Path) -> list[str]:
        return [
            *java_command(libs, f"-Xmx{self.heap}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"), DRIVER,
            "--job-host", "127.0.0.1", "--job-port", str(self.port),
            "--artifact-port", "0", "--expansion-port", "0",
            "--artifacts-dir", str(Path(self.work_dir) / "artifacts"),
            "--flink-master", self.flink_master,
        ]

    def start(self, timeout_s: float = 120.0) -> str:
        """Start the job server; returns its Job API endpoint once it accepts connections."""
        libs = resolve_job_server()
        Path(self.work_dir).mkdir(parents=True, exist_ok=True)
        if self.port:  # the operator's port: taken is an error to report, not to work around
            return self._start_once(libs, self.port, timeout_s)
        return processes.start_retrying_taken_ports(
            lambda: self._start_once(libs, maven.free_port(), timeout_s), [Path(self.log_file)])

    def _start_once(self, libs: Path, port: int, timeout_s: float) -> str:
        self.port = port
        self.process = processes.spawn(self.command(libs), self.log_file)
        self.watchdog = processes.stop_with(self.process, self.log_file)  # stopped with a killed run
        processes.wait_until_ready("Flink job server", lambda: answers(self.port),
                                   [("Flink job server", self.process, self.log_file)],
                                   FlinkJobServerError, self.stop, timeout_s)
        return self.endpoint

    def stop(self) -> None:
        processes.terminate(getattr(self, "watchdog", None))
        processes.terminate(self.process)

    def __enter__(self) -> "FlinkJobServer":
        try:
            self.start()
        except BaseException:  # Ctrl-C while it starts: __exit__ would not run, and Java kept running
            self.stop()
            raise
        return self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException], trace: Optional[TracebackType]) -> None:
        self.stop()
