"""The README's runnable commands run as written: every line of its ```sh blocks (the analyst's
query, sql, export and report examples), in a folder where `social-mentors demo` has run, each
in a shell of its own, with the installed `social-mentors`."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def runnable_commands() -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_has_runnable_analyst_commands():
    commands = runnable_commands()
    for verb in ("query", "sql", "export", "report"):
        assert any(c.startswith(f"social-mentors {verb} ") for c in commands), verb
    assert not any(c.startswith("duckdb ") for c in commands)  # no duckdb CLI is installed


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["social-mentors", "demo"], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return folder, env


@pytest.mark.parametrize("command", runnable_commands())
def test_readme_command_runs_as_written(demo_folder, command):
    folder, env = demo_folder
    result = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower() and "no rows" not in result.stderr, result.stderr
    redirected = re.search(r">\s*(\S+)\s*$", command)
    output = (folder / redirected.group(1)).read_text() if redirected else result.stdout
    assert len(output.splitlines()) >= 2 or output.startswith("wrote "), output
