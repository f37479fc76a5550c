"""A local BigQuery emulator for tests: local-bigquery (MIT, DuckDB-backed), in a virtualenv of its own.

Why local-bigquery: of the emulators on PyPI it is the most faithful one here. It dedupes
``insertAll`` rows by insert id, rejects bad rows with per-row errors, creates table functions and
views, and honours partitioning, clustering and query parameters: the behaviours this project's
BigQuery warehouse relies on. (bqemulator, used before, did neither the dedupe nor table functions.)

Its constraints, and what this module does about them:

* It needs Python >= 3.13, and the project runs on 3.11: it gets a virtualenv of its own, under the
  cache folder, made with the first Python 3.13+ found (``$SOCIAL_MENTORS_EMULATOR_PYTHON``, then
  ``python3.13``/``python3.14`` on PATH, then pyenv's versions).
* With duckdb 2 it downloads DuckDB extensions at first use, which fails offline. It runs with
  duckdb 1.5.5 instead, whose extensions (icu, spatial, ducklake) come from PyPI's
  ``duckdb-extension-*`` packages and are placed in a private HOME the emulator runs with.
* It listens on all interfaces unless told otherwise: it is given ``--host 127.0.0.1``.
* It serves BigQuery's Storage Read and Write APIs over gRPC (``local_bigquery/grpc/write.py``: the
  default stream, committed streams with offsets, pending streams and batch commits, per-row errors)
  on a port of its own: ``storage_endpoint``.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Optional

from services import processes
from services.maven import cache_dir, free_port

EMULATOR = "local-bigquery==0.4.0"
DUCKDB_VERSION = "1.5.5"
# Installed after the emulator, without dependency resolution: local-bigquery asks for duckdb>=2,
# whose extension downloads cannot work offline; 1.5.5 runs it with extensions from PyPI.
OFFLINE_DUCKDB = [f"duckdb=={DUCKDB_VERSION}"] + [
    f"duckdb-extension-{name}=={DUCKDB_VERSION}" for name in ("icu", "spatial", "ducklake")
]


class EmulatorUnavailable(RuntimeError):
    pass


def _is_python313(candidate: str) -> bool:
    """True when ``candidate`` runs and is Python >= 3.13 (pyenv's shims exist for versions that
    are not active, and fail when run)."""
    try:
        checked = subprocess.run([candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 13))"],
                                 capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return checked.returncode == 0


def find_python313() -> Optional[str]:
    """A Python >= 3.13 interpreter on this machine, or None."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [
        os.environ.get("SOCIAL_MENTORS_EMULATOR_PYTHON"),
        *(shutil.which(name) for name in ("python3.13", "python3.14", "python3.15")),
        *sorted(glob.glob(f"{pyenv_root}/versions/3.1[3-5]*/bin/python3"), reverse=True),
    ]
    return next((c for c in candidates if c and _is_python313(c)), None)


def ensure_emulator() -> Path:
    """The emulator's virtualenv, created on first use."""
    venv = cache_dir() / f"{EMULATOR.replace('==', '-')}-duckdb-{DUCKDB_VERSION}"
    done = venv / ".installed"
    if done.exists():
        return venv
    python = find_python313()
    if python is None:
        raise EmulatorUnavailable(
            "the BigQuery emulator (local-bigquery) needs Python 3.13 or newer: install it (pyenv install 3.13) "
            "or point SOCIAL_MENTORS_EMULATOR_PYTHON at one"
        )
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = str(venv / "bin" / "pip")
    for step in ([pip, "install", "-q", EMULATOR], [pip, "install", "-q", "--no-deps", *OFFLINE_DUCKDB]):
        installed = subprocess.run(step, capture_output=True, text=True)
        if installed.returncode != 0:
            raise EmulatorUnavailable(f"installing the BigQuery emulator failed ({' '.join(step[1:])}):\n"
                                      f"{installed.stderr[-3000:]}")
    done.write_text("\n".join([EMULATOR, *OFFLINE_DUCKDB]))
    return venv


def _private_home(venv: Path, home: Path) -> Path:
    """A HOME whose DuckDB extension folder holds the extensions from PyPI, so none is downloaded."""
    target = home / ".duckdb" / "extensions" / f"v{DUCKDB_VERSION}" / "linux_amd64"
    target.mkdir(parents=True, exist_ok=True)
    for extension in venv.glob(f"lib/python*/site-packages/duckdb_extension_*/extensions/v{DUCKDB_VERSION}/*.duckdb_extension"):
        shutil.copy(extension, target / extension.name)
    return home


# The emulator runs on DuckDB, whose default memory limit is 80% of the machine's RAM: under the test
# suite it grew to 17 and 21 GB on a 24 GB machine, the kernel's OOM killer ended it, and the test
# waiting on it hung CI. Capped, a query past the limit fails with DuckDB's "Out of Memory" error in
# the one test that ran it. The launcher sets the limit on every connection the emulator opens. (It
# still grows outside DuckDB's buffer pool: see ``restart_if_above``.)
MEMORY_LIMIT = "4GB"
MEMORY_LIMIT_ENV = "SOCIAL_MENTORS_EMULATOR_MEMORY"
_CAPPED_LAUNCHER = """
import sys
import duckdb

limit = sys.argv.pop(1)
_connect = duckdb.connect


def connect(*args, config=None, **kwargs):
    return _connect(*args, config={**(config or {}), "memory_limit": limit}, **kwargs)


duckdb.connect = connect
sys.argv[0] = "local-bigquery"
from local_bigquery.cli import main

sys.exit(main())
"""


class BigQueryEmulator:
    """One emulator process on 127.0.0.1; its data, log and HOME under ``workdir``."""

    def __init__(self, workdir: Path, project: str = "social-mentors-test"):
        self.workdir = Path(workdir)
        self.project = project
        self.port = free_port()
        self.grpc_port = free_port()  # the Storage Read and Write APIs
        self.process: Optional[subprocess.Popen] = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage_endpoint(self) -> str:
        """HOST:PORT of the Storage API (gRPC, plaintext): BIGQUERY_STORAGE_EMULATOR_HOST."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "local-bigquery.log"

    def start(self, timeout_s: float = 60.0) -> str:
        venv = ensure_emulator()
        home = _private_home(venv, self.workdir / "home")
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.process = processes.spawn(
            [str(venv / "bin" / "python"), "-c", _CAPPED_LAUNCHER, os.environ.get(MEMORY_LIMIT_ENV, MEMORY_LIMIT),
             "serve", "--host", "127.0.0.1", "--port", str(self.port), "--grpc-port", str(self.grpc_port),
             "--project", self.project, "--data-dir", str(data)],
            self.log_file, env=dict(os.environ, HOME=str(home)),
        )
        processes.wait_until_ready("BigQuery emulator", self._answers, [("BigQuery emulator", self.process, self.log_file)],
                                   EmulatorUnavailable, self.stop, timeout_s)
        return self.endpoint

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets", timeout=2)
            return True
        except OSError:
            return False

    def stop(self) -> None:
        processes.terminate(self.process)

    def rss_mb(self) -> float:
        """The emulator's resident memory in MB (0 when it is not running)."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        return processes.rss_mb(self.process.pid)

    def restart_if_above(self, limit_mb: float) -> bool:
        """Restart the emulator (same ports and data) when it holds more than ``limit_mb``: its memory
        grows by hundreds of MB a minute under the BigQuery tests, past DuckDB's cap (outside its
        buffer pool), and a 24 GB machine's OOM killer ended it mid-suite. True when it restarted."""
        if self.rss_mb() <= limit_mb:
            return False
        self.stop()
        self.start(timeout_s=180.0)  # a loaded machine: a restart mid-suite must not fail the next test
        return True
