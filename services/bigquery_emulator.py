"""A local BigQuery emulator (bqemulator, DuckDB-backed) for tests, in a virtualenv of its own.

bqemulator needs duckdb < 2, while the project uses duckdb 2, so it lives in its own virtualenv
under the cache folder, built on first use from PyPI. It loads DuckDB's spatial and icu extensions,
which DuckDB would download at run time; here they come from PyPI's duckdb-extension-* packages and
are placed in a private HOME the emulator runs with. It listens on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.maven import cache_dir, free_port

DUCKDB_VERSION = "1.5.5"
PACKAGES = ["bqemulator==1.4.0", f"duckdb=={DUCKDB_VERSION}", f"duckdb-extension-spatial=={DUCKDB_VERSION}",
            f"duckdb-extension-icu=={DUCKDB_VERSION}", "numpy"]


def ensure_emulator() -> Path:
    """The emulator's virtualenv, created on first use."""
    venv = cache_dir() / "bqemulator-1.4.0"
    done = venv / ".installed"
    if done.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PACKAGES], capture_output=True, text=True)
    if installed.returncode != 0:
        raise RuntimeError(f"installing the BigQuery emulator failed:\n{installed.stderr[-3000:]}")
    done.write_text("\n".join(PACKAGES))
    return venv


def _private_home(venv: Path, home: Path) -> Path:
    target = home / ".duckdb" / "extensions" / f"v{DUCKDB_VERSION}" / "linux_amd64"
    target.mkdir(parents=True, exist_ok=True)
    for extension in venv.glob(f"lib/python*/site-packages/duckdb_extension_*/extensions/v{DUCKDB_VERSION}/*.duckdb_extension"):
        shutil.copy(extension, target / extension.name)
    return home


class BigQueryEmulator:
    def __init__(self, workdir: Path, project: str = "social-mentors-test"):
        self.workdir = Path(workdir)
        self.project = project
        self.port = free_port()
        self.process = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> str:
        venv = ensure_emulator()
        home = _private_home(venv, self.workdir / "home")
        log = open(self.workdir / "bqemulator.log", "wb")
        self.process = subprocess.Popen(
            [str(venv / "bin" / "bqemulator"), "start", "--rest-host", "127.0.0.1", "--rest-port", str(self.port),
             "--grpc-host", "127.0.0.1", "--grpc-port", str(free_port()), "--project", self.project,
             "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HOME=str(home)), start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the BigQuery emulator exited; see {self.workdir / 'bqemulator.log'}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets", timeout=2)
                return self.endpoint
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the BigQuery emulator did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
