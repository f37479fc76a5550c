"""Background processes of the local services: started with their output in a log file, in a
session of their own (so a Ctrl-C meant for the CLI does not reach them first), and stopped."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

T = TypeVar("T")


def spawn(command: list[str], log_file: Path, env: Optional[dict[str, str]] = None) -> subprocess.Popen:
    with open(log_file, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB, from /proc (0 when it is gone or /proc cannot tell)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def terminate(process: Optional[subprocess.Popen], timeout_s: float = 30.0, session: bool = False) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; nothing when the process is gone already.
    ``session``: signal its whole session (a process ``spawn`` started, with the children it started)."""
    if process is None or process.poll() is not None:
        return

    def send(signum: int) -> None:
        try:
            os.killpg(process.pid, signum) if session else process.send_signal(signum)
        except ProcessLookupError:  # gone in between
            pass

    send(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


def wait_until_ready(
    what: str, ready: Callable[[], bool], watched: Sequence[tuple[str, subprocess.Popen, Path]],
    error: type[Exception], stop: Callable[[], object], timeout_s: float, poll_s: float = 0.3,
) -> None:
    """Poll ``ready`` until it is true. When a watched (name, process, log) exits first, or
    ``timeout_s`` passes, ``stop`` the service and raise ``error`` naming the log to read."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, process, log in watched:
            if process.poll() is not None:
                stop()
                raise error(f"the {name} exited with code {process.returncode}; see {log}")
        if ready():
            return
        time.sleep(poll_s)
    stop()
    raise error(f"the {what} did not answer within {timeout_s:.0f} s; see {watched[0][2]}")


def can_listen(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (as Java binds: closing connections
    of an earlier listener, TIME_WAIT, do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_taken(log_file: Path, since: int) -> bool:
    """Whether a service's log, from byte ``since`` on, says a port it was given was taken (Java says
    BindException, Go "bind: address already in use")."""
    try:
        with open(log_file, "rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return False
    return "BindException" in text or "address already in use" in text.lower()


def start_retrying_taken_ports(start_once: Callable[[], T], logs: Sequence[Path], attempts: int = 3) -> T:
    """``start_once()``, again (up to ``attempts`` in all) when it failed because a port it chose
    was taken before the service bound it: a BindException in one of ``logs`` since that attempt
    began. ``start_once`` must choose new ports each time, and stop what it started when it fails.
    A port is only free when it is chosen (``services.maven.free_port``); a Flink JobManager exited
    with code 1 in CI, as it does when its port is taken, and failed the whole run."""
    for attempt in range(1, attempts):
        sizes = [log.stat().st_size if log.exists() else 0 for log in logs]
        try:
            return start_once()
        except Exception:
            if not any(_port_taken(log, size) for log, size in zip(logs, sizes)):
                raise
            print(f"a port was taken before the service could bind it; starting it again ({attempt + 1} of {attempts})",
                  file=sys.stderr, flush=True)
    return start_once()  # the last attempt: its failure is the caller's


# The watchdog of stop_with: a few lines of Python in a process of its own, so that it outlives a
# launcher killed with SIGKILL (no handler, no atexit runs in it).
_WATCHDOG = """
import os, signal, sys, time
parent, target = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
while os.getppid() == parent and alive(target):
    time.sleep(0.5)
if alive(target):
    print(f"process {parent} is gone: stopping process {target}", flush=True)
    os.killpg(target, signal.SIGTERM)
    for _ in range(20):
        time.sleep(0.5)
        if not alive(target):
            break
    else:
        os.killpg(target, signal.SIGKILL)
"""


def stop_with(process: subprocess.Popen, log_file: Path) -> subprocess.Popen:
    """A watchdog of ``process`` (one ``spawn`` started: its own session): once this process is gone,
    however it ended (SIGKILL too), the watchdog stops ``process``'s session, SIGTERM then SIGKILL
    after 10 s. It ends by itself when ``process`` ends; stop it with :func:`terminate` first when
    stopping ``process`` on purpose. A Flink job server left behind by a killed run kept running,
    listening on every interface (an outside probe)."""
    with open(log_file, "ab") as log:
        return subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(process.pid)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
