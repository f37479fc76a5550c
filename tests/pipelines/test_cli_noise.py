"""A quiet CLI: each command, run as a user runs it (a new process), prints on stderr only what is
about their data or their command; the libraries' own logging (Beam's "Failed to import
GCSFileSystem", "apitools not found", ...) goes to the log file, or to stderr with --verbose."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOISE = ("Failed to import GCSFileSystem", "apitools not found", "WARNING:root", "apache_beam")


def social_mentors(*args: str, cwd: Path, log: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOCIAL_MENTORS_LOG": str(log)}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(marker in line for marker in NOISE)]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quiet")
    log = folder / "cli.log"
    done = {}
    for name, args in {
        "generate": ("generate", "--out", "events.avro", "--scale", "0.2"),
        "run": ("run", "--input", "events.avro", "--warehouse", "w.duckdb"),
    }.items():
        done[name] = social_mentors(*args, cwd=folder, log=log)
        assert done[name].returncode == 0, done[name].stderr
    return folder, log, done


def test_no_command_prints_library_noise(scored):
    folder, log, done = scored
    commands = {
        "query": ("query", "regulars", "--author", "blog-1/author-1", "--warehouse", "w.duckdb"),
        "export": ("export", "dead_letters", "--warehouse", "w.duckdb"),
        "report": ("report", "--warehouse", "w.duckdb", "--out", "report.html"),
        "warehouse init": ("warehouse", "init", "--warehouse", "w.duckdb"),
        "kafka status": ("kafka", "status"),
    }
    for name, args in commands.items():
        done[name] = social_mentors(*args, cwd=folder, log=log)
        assert done[name].returncode == 0, (name, done[name].stderr)
    for name, result in done.items():
        assert noise(result.stderr) == [], (name, result.stderr)
    # still told what matters: the run summary and the export's count
    assert "Run summary" in done["run"].stdout and "exported" in done["export"].stderr
    # the noise went to the log file, not nowhere
    assert "GCSFileSystem" in log.read_text() or "apitools" in log.read_text()


def test_verbose_shows_the_libraries_logging(scored):
    folder, log, _ = scored
    result = social_mentors("--verbose", "export", "dead_letters", "--warehouse", "w.duckdb", cwd=folder, log=log)
    assert result.returncode == 0
    assert noise(result.stderr), result.stderr
