"""Background processes of the local services: a watchdog stops one whose launcher was killed."""
import json
import os
import signal
import subprocess
import sys
import time

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
