"""Background processes of the local services: a watchdog stops one whose launcher was killed."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers import process_alive


def _launch(tmp_path, watched: bool) -> tuple[subprocess.Popen, int]:
    script = (
        "import json, sys, time; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from services import processes\n"
        "service = processes.spawn(['sleep', '300'], Path(%r))\n"
        "if %r: processes.stop_with(service, Path(%r))\n"
        "print(json.dumps(service.pid), flush=True)\n"
        "time.sleep(300)\n" % (os.getcwd(), str(tmp_path / "s.log"), watched, str(tmp_path / "s.log")))
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    return launcher, json.loads(launcher.stdout.readline())


def test_a_service_whose_launcher_is_killed_is_stopped_by_its_watchdog(tmp_path):
    # An outside probe: a Flink job server outlived a run killed with SIGKILL, listening and busy.
    launcher, service = _launch(tmp_path, watched=True)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    deadline = time.monotonic() + 15
    while process_alive(service) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_alive(service)
    assert "is gone: stopping process" in (tmp_path / "s.log").read_text()


def test_without_the_watchdog_the_service_outlives_its_killed_launcher(tmp_path):
    launcher, service = _launch(tmp_path, watched=False)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    time.sleep(2)
    try:
        assert process_alive(service)  # what the watchdog is for
    finally:
        os.kill(service, signal.SIGKILL)


def test_the_watchdog_ends_with_its_service(tmp_path):
    from services import processes

    service = processes.spawn(["sleep", "300"], tmp_path / "s.log")
    watchdog = processes.stop_with(service, tmp_path / "s.log")
    processes.terminate(service)
    assert watchdog.wait(timeout=10) == 0


def test_a_start_that_lost_its_port_is_tried_again_and_other_failures_are_not(tmp_path, capsys):
    from services.processes import start_retrying_taken_ports

    log = tmp_path / "service.log"
    log.write_text("java.net.BindException: Address already in use (an earlier run: not this attempt's)\n")
    attempts = []

    def start(failures: list[str]):
        def once():
            attempts.append(1)
            if len(attempts) <= len(failures):
                with open(log, "a") as out:
                    out.write(failures[len(attempts) - 1] + "\n")
                raise RuntimeError("the service exited with code 1")
            return "started"
        return once

    assert start_retrying_taken_ports(start(["java.net.BindException: Could not start rest endpoint"]), [log]) == "started"
    assert len(attempts) == 2 and "starting it again (2 of 3)" in capsys.readouterr().err

    attempts.clear()
    with pytest.raises(RuntimeError):  # not a port: the same failure would come again
        start_retrying_taken_ports(start(["java.lang.OutOfMemoryError"]), [log])
    assert len(attempts) == 1

    attempts.clear()
    with pytest.raises(RuntimeError):
        start_retrying_taken_ports(start(["bind(..) failed: Address already in use"] * 3), [log], attempts=3)
    assert len(attempts) == 3


def test_free_ports_are_not_drawn_from_the_range_of_outgoing_connections_nor_given_twice():
    from services.maven import _lowest_ephemeral_port, free_port

    low = _lowest_ephemeral_port()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port < low for port in ports), (low, sorted(ports)[-3:])
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
