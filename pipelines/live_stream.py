"""A live stream on this machine, for ``demo --live`` and the soak bench (bench/soak_streaming.py): a
private broker, a topic, the streaming ``run`` in a process of its own, and stopping it as Ctrl-C does.

In: a folder for the broker's state, a topic, a warehouse. Out: a check that Java and Prism are
there (one line saying what to install), a started :class:`KafkaBroker` in an emptied folder, the
``run --source kafka --streaming`` command line (the one a user would type) and its process. Why:
both callers compose the same parts, and the stream is stopped the way an operator stops it (SIGINT,
so it drains), never killed.

The run gets a session of its own, so a Ctrl-C typed at the caller's terminal reaches the caller
only, which passes it on once: a stream that received the terminal's signal and the caller's copy
would take the second as "abort".
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Optional, Sequence, Union

from services.kafka_broker import KafkaBroker
from services.maven import free_port

# Short horizons, so that windows close and state turns over within minutes: rows appear within
# seconds (early panes) and each minute's window is final a minute after it ends.
LIVE_OPTIONS = ("--window", "1m", "--allowed-lateness", "1m", "--dedupe-horizon", "2m",
                "--early-firing", "10s", "--idle-timeout", "5s")


def check_tools(what: str) -> None:
    """Java for the broker and Prism for the stream, before anything starts: one line saying what to install."""
    from services.prism import PrismUnavailable, ensure_prism, prism_path

    if not shutil.which("java"):
        raise RuntimeError(f"{what} runs a local Kafka broker, which needs Java 17 or newer on the PATH: "
                           "install it (e.g. `apt-get install openjdk-17-jre-headless`)")
    if not prism_path().exists() and shutil.which("go"):  # without Go, ensure_prism says so in one line
        print("building Beam's Prism runner for the stream (first use only; this can take a few minutes) ...",
              file=sys.stderr)
    try:
        prism = ensure_prism()
    except PrismUnavailable as error:
        raise RuntimeError(f"{what}'s stream runs on Beam's Prism runner, which is not built yet: {error}") from None
    if not prism.is_file():
        raise RuntimeError(f"no Prism runner at {prism} ($SOCIAL_MENTORS_PRISM): unset it, or point it at a Prism binary")


def empty_broker_folder(state_dir: Path, keep: Path) -> None:
    """``state_dir`` made empty for a new broker; one left running there by an earlier run is stopped
    first. ``keep`` (the warehouse) must not be inside it."""
    if keep.resolve().is_relative_to(state_dir.resolve()):
        raise ValueError(f"{keep} is inside {state_dir}, the broker's folder, which is emptied on each run: "
                         "choose another --warehouse or --out")
    if state_dir.is_symlink():
        raise ValueError(f"{state_dir} is a symbolic link: the broker's folder is emptied on each run; remove the link")
    if state_dir.is_dir():
        KafkaBroker(state_dir=state_dir).stop(hard=True)
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)


def start_private_broker(state_dir: Path) -> KafkaBroker:
    """A broker of the caller's own, on a free port, its state and log under ``state_dir``; started."""
    broker = KafkaBroker(state_dir=state_dir, port=free_port())
    broker.start()
    return broker


def given_or_private_broker(bootstrap: Optional[str], state_dir: Path) -> tuple[Optional[KafkaBroker], str]:
    """The broker at ``bootstrap`` when one is given (None: nothing of ours to stop), else a private
    one started under ``state_dir``; with the address to use."""
    if bootstrap is not None:
        return None, bootstrap
    broker = start_private_broker(state_dir)
    return broker, broker.bootstrap


def create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    """The topic, before the stream plans its read (a stream reads the partitions it finds at start)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def streaming_run_command(bootstrap: str, topic: str, group: str, warehouse: str,
                          options: Sequence[str] = LIVE_OPTIONS) -> list[str]:
    """``social-mentors run --source kafka --streaming ...`` as this Python runs it."""
    return [sys.executable, "-m", "pipelines.cli", "run", "--source", "kafka", "--streaming",
            "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", group, "--warehouse", warehouse,
            *options]


def start_streaming_run(command: Sequence[str], stdout: Union[int, IO, None] = None,
                        stderr: Union[int, IO, None] = None, cwd: Optional[Path] = None) -> subprocess.Popen:
    """The stream in a session of its own (see the module docstring); its Prism is in that session too."""
    return subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=cwd,
                            start_new_session=True, text=stdout == subprocess.PIPE or stderr == subprocess.PIPE)


def ignores_ctrl_c(pid: int) -> bool:
    """Whether the process ignores SIGINT now: a run does while its runner starts (see
    ``pipelines.stopping``), so a Ctrl-C passed on then would be lost; True when it cannot tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError, IndexError):
        pass
    return True


def interrupt(process: subprocess.Popen) -> None:
    """Ctrl-C to the stream's session, as its own terminal would send it: the stream drains (its
    Prism ignores SIGINT and is ended by the run itself)."""
    try:
        os.killpg(process.pid, signal.SIGINT)
    except ProcessLookupError:
        pass


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to the stream's session (it and its Prism), for a stream that did not stop when asked."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
