"""Prism started by us as a job service in a session of its own (services.prism.PrismJobService)."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from services import maven
from services.prism import PrismJobService, prism_job_service


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_prism_answers_in_a_session_of_its_own_and_is_gone_after(tmp_path, prism_binary):
    """The session is the point: GNU timeout's SIGTERM to the run's group killed a Prism in it."""
    with PrismJobService(prism_binary, tmp_path) as prism:
        socket.create_connection(("127.0.0.1", prism.port), timeout=5).close()
        assert os.getsid(prism.process.pid) == prism.process.pid != os.getsid(0)
        assert os.getpgid(prism.process.pid) != os.getpgid(0)
    assert prism.process.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", prism.port), timeout=2).close()


def test_a_prism_whose_chosen_port_is_taken_starts_on_another(tmp_path, prism_binary, monkeypatch, capsys):
    holder = socket.socket()
    holder.bind(("127.0.0.1", maven.free_port()))
    taken = holder.getsockname()[1]
    chosen = iter([taken])
    real_free_port = maven.free_port
    monkeypatch.setattr(maven, "free_port", lambda: next(chosen, None) or real_free_port())
    try:
        with PrismJobService(prism_binary, tmp_path) as prism:
            assert prism.port != taken
            socket.create_connection(("127.0.0.1", prism.port), timeout=5).close()
    finally:
        holder.close()
    assert "starting it again (2 of 3)" in capsys.readouterr().err


def test_a_prism_left_by_a_killed_run_is_stopped(tmp_path, prism_binary):
    """Out of the run's group, a SIGKILL of the run (no handler runs) no longer reaches Prism: the
    watchdog stops it."""
    owner = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from services.prism import PrismJobService;"
         f"p = PrismJobService(Path({str(prism_binary)!r}), Path({str(tmp_path)!r})); p.start();"
         "print(p.process.pid, flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    prism_pid = int(owner.stdout.readline())
    assert alive(prism_pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 20
    while alive(prism_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(prism_pid), "Prism outlived the run that started it"


@pytest.mark.parametrize("given", [["--job_endpoint=localhost:8099"],
                                   ["--prism_location=https://example.com/prism.zip"]],
                         ids=["job endpoint", "location URL"])
def test_a_run_that_names_its_own_prism_gets_its_arguments_unchanged(tmp_path, given):
    args = ["--runner=PrismRunner", *given]
    with prism_job_service(args, tmp_path) as used:
        assert used == args
    assert not (tmp_path / "prism.log").exists()


def test_a_run_on_a_local_prism_build_gets_the_endpoint_of_the_one_started_for_it(tmp_path, prism_binary):
    with prism_job_service(["--runner=PrismRunner", f"--prism_location={prism_binary}"], tmp_path) as used:
        endpoint = used[-1]
        assert endpoint.startswith("--job_endpoint=localhost:")
        socket.create_connection(("127.0.0.1", int(endpoint.rsplit(":", 1)[1])), timeout=5).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(endpoint.rsplit(":", 1)[1])), timeout=2).close()
