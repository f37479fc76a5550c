"""Beam's Prism runner, built locally from the Go module proxy and cached.

Beam downloads Prism from a release page at run time; where that page is out of reach, Prism can be
built from its Go module instead (the same version as the Python SDK) and passed to Beam with
``--prism_location``. Streaming Kafka runs need it: the Python DirectRunner cannot run the unbounded
splittable DoFn that reads Kafka.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Iterator, Optional

import apache_beam

from services import maven, processes
from services.flink_job_server import answers
from services.maven import cache_dir

PRISM_MODULE = "github.com/apache/beam/sdks/v2/go/cmd/prism"


class PrismUnavailable(RuntimeError):
    pass


def prism_path(version: str = apache_beam.__version__) -> Path:
    return cache_dir() / f"prism-{version}" / "prism"


def ensure_prism(version: str = apache_beam.__version__) -> Path:
    """The Prism binary for this Beam version, built with ``go install`` on first use."""
    override = os.environ.get("SOCIAL_MENTORS_PRISM")
    if override:
        return Path(override)
    binary = prism_path(version)
    if binary.exists():
        return binary
    if not shutil.which("go"):
        raise PrismUnavailable("building Prism needs Go (https://go.dev/dl, or apt-get install golang)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(binary.parent), CGO_ENABLED="0")
    built = subprocess.run(["go", "install", f"{PRISM_MODULE}@v{version}"], env=env, capture_output=True, text=True)
    if built.returncode != 0 or not binary.exists():
        raise PrismUnavailable(f"go install {PRISM_MODULE}@v{version} failed:\n{built.stderr[-3000:]}")
    return binary


def prism_args(beam_args: list[str]) -> list[str]:
    """Beam arguments that run on a local Prism build: ``--runner=PrismRunner`` unless a runner is
    chosen, and ``--prism_location`` for Prism unless one is given (Prism's splitting is turned off
    by ``pipelines.scoring.pipeline_options``, for every run on Prism)."""
    args = list(beam_args)
    if not any(arg.startswith("--runner") for arg in args):
        args.append("--runner=PrismRunner")
    if not any(arg.startswith("--prism_location") for arg in args):
        args.append(f"--prism_location={ensure_prism()}")
    return args


class PrismError(RuntimeError):
    pass


@dataclasses.dataclass
class PrismJobService:
    """A Prism job service for the lifetime of a ``with`` block, in a session of its own. Prism has no
    option for its listening address: it listens on every interface, as when Beam starts it.

    Beam starts Prism itself as a child in the run's process group, where a signal meant for the run
    reaches it too: GNU ``timeout`` SIGTERMs the command and then its whole group, and Prism (a Go
    program keeps an inherited SIG_IGN only for SIGINT and SIGHUP) exited in the middle of the drain
    that the first SIGTERM had started (an outside probe). Started here, only this process stops it,
    once the run is over; a watchdog stops it when this process is killed (SIGKILL included)."""

    binary: Path
    work_dir: Path
    log_level: str = "warn"
    port: int = 0
    process: Optional[subprocess.Popen] = None

    @property
    def endpoint(self) -> str:
        return f"localhost:{self.port}"

    @property
    def log_file(self) -> Path:
        return Path(self.work_dir) / "prism.log"

    def command(self) -> list[str]:
        # Beam's own launch line (PrismJobServer.prism_arguments), logging as text to our file
        return [str(self.binary), "--job_port", str(self.port), "--log_level", self.log_level,
                "--log_kind", "text", "--serve_http=false"]

    def start(self, timeout_s: float = 60.0) -> str:
        """Start Prism; returns its job endpoint once it accepts connections."""
        Path(self.work_dir).mkdir(parents=True, exist_ok=True)
        if self.port:  # the operator's --job_port: taken is an error to report, not to work around
            return self._start_once(self.port, timeout_s)
        return processes.start_retrying_taken_ports(lambda: self._start_once(maven.free_port(), timeout_s),
                                                    [self.log_file])

    def _start_once(self, port: int, timeout_s: float) -> str:
        self.port = port
        self.process = processes.spawn(self.command(), self.log_file)
        self.watchdog = processes.stop_with(self.process, self.log_file)
        processes.wait_until_ready("Prism job service", lambda: answers(self.port),
                                   [("Prism job service", self.process, self.log_file)], PrismError, self.stop,
                                   timeout_s)
        return self.endpoint

    def stop(self) -> None:
        processes.terminate(getattr(self, "watchdog", None))
        processes.terminate(self.process)

    def __enter__(self) -> "PrismJobService":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException], trace: Optional[TracebackType]) -> None:
        self.stop()


@contextlib.contextmanager
def prism_job_service(beam_args: list[str], work_dir: Path) -> Iterator[list[str]]:
    """``beam_args`` (from :func:`prism_args`) with ``--job_endpoint`` of a :class:`PrismJobService`
    started for the run (its log in ``work_dir``), stopped when the block ends. Unchanged, for Beam
    to start Prism itself, when they name a job endpoint, or a ``--prism_location`` that is not a
    local file (Beam downloads and unpacks URLs and zips)."""
    from apache_beam.options.pipeline_options import JobServerOptions, PipelineOptions, PortableOptions, PrismRunnerOptions

    options = PipelineOptions(beam_args)
    location = options.view_as(PrismRunnerOptions).prism_location
    if options.view_as(PortableOptions).job_endpoint or not location or not Path(location).is_file():
        yield beam_args
        return
    given_level = any(arg.split("=", 1)[0] == "--prism_log_level" for arg in beam_args)
    service = PrismJobService(Path(location), work_dir,
                              log_level=options.view_as(PrismRunnerOptions).prism_log_level if given_level else "warn",
                              port=options.view_as(JobServerOptions).job_port or 0)
    with service:
        yield [*beam_args, f"--job_endpoint={service.endpoint}"]
