"""Java programs for local development, resolved from Maven Central into a cache on first use.

Kafka's broker and Beam's Flink job server both ship as Maven artifacts. Maven resolves an
artifact with its runtime dependencies into one folder (``mvn dependency:copy-dependencies`` on a
generated pom), and ``java -cp 'folder/*'`` runs it: no Docker, no download page.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Sequence

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.socialmentors</groupId>
  <artifactId>{name}</artifactId>
  <version>1.0</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


class MavenResolutionError(RuntimeError):
    pass


def cache_dir() -> Path:
    """Where resolved tools live, shared by every checkout: $SOCIAL_MENTORS_CACHE or ~/.cache."""
    root = os.environ.get("SOCIAL_MENTORS_CACHE") or Path.home() / ".cache" / "social-mentors"
    return Path(root)


_LOWEST_PORT = 10000
_handed_out: set[int] = set()


def _lowest_ephemeral_port() -> int:
    """Where the kernel's range of ports for outgoing connections starts (Linux; its default elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, for a service about to be started.

    The port is free when it is chosen, not when the service binds it, seconds later. A port the
    kernel picks (bind to 0) comes from the range it also gives every outgoing connection, any of
    which can take it in between (a Flink JobManager exited with code 1 in CI, as it does on a
    taken port: a BindException). So the port is drawn at random from below that range, where only
    listeners like these ones bind, and never handed out twice by one process."""
    low = _lowest_ephemeral_port()
    for _ in range(200 if low > _LOWEST_PORT else 0):
        port = random.randrange(_LOWEST_PORT, low)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as probe:  # no room below the kernel's range (it starts low): let it pick
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dependency(coordinates: str) -> str:
    group, artifact, version = coordinates.split(":")
    return (f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version></dependency>")


def resolve_jars(name: str, coordinates: Sequence[str], what: str, quiet: bool = True) -> Path:
    """The folder of ``coordinates`` (``group:artifact:version``) and their runtime dependencies.

    ``name`` is the cache folder; ``what`` names the tool in errors. Resolved once: a marker file
    records a complete resolution, so an interrupted one is retried rather than half used.
    """
    libs = cache_dir() / name / "libs"
    done = libs / ".resolved"
    if done.exists():
        return libs
    if not shutil.which("mvn") or not shutil.which("java"):
        raise MavenResolutionError(f"{what} needs Java 17+ and Maven: apt-get install openjdk-17-jdk-headless maven")
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    pom = _POM.format(name=name, dependencies="\n".join(_dependency(c) for c in coordinates))
    (work / "pom.xml").write_text(pom, encoding="utf-8")
    command = ["mvn", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
    if quiet:
        command.insert(1, "-q")
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise MavenResolutionError(
            f"Maven could not resolve {what} ({', '.join(coordinates)}):\n"
            f"{completed.stdout[-3000:]}{completed.stderr[-2000:]}"
        )
    done.write_text("\n".join(coordinates))
    return libs
