"""Background processes of the local services: started with their output in a log file, in a
session of their own (so a Ctrl-C meant for the CLI does not reach them first), and stopped."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional


def spawn(command: list[str], log_file: Path, env: Optional[dict[str, str]] = None) -> subprocess.Popen:
    with open(log_file, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def terminate(process: Optional[subprocess.Popen], timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; nothing when the process is gone already."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
