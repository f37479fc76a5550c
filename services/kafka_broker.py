"""A single-node Apache Kafka broker (KRaft mode) on 127.0.0.1, without Docker.

The broker's jars come from Maven Central: ``services.maven`` resolves ``org.apache.kafka:kafka_2.13``
and its dependencies into a cache directory once, then ``java kafka.Kafka`` runs them. ``start``
formats the storage on first use, starts the broker in the background, waits until it answers, and
records its pid; ``stop`` ends it. The tests start their own broker through this same class.

With ``secured=SecuredListeners(...)`` the broker also listens with SASL_SSL (SCRAM-SHA-256,
SCRAM-SHA-512 and PLAIN, the users' SCRAM credentials created when the storage is formatted) and
with SSL requiring a client certificate, configured by ``services.kafka_secured`` on TLS material
made by ``services.kafka_tls`` under ``state_dir/tls``. The PLAINTEXT listener stays for the controller and the readiness check.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

from services import maven, processes
from services.kafka_secured import KafkaBrokerError, SecuredListeners, scram_arguments, secured_config
from services.kafka_tls import TlsMaterial, make_tls_material
from services.maven import cache_dir, free_port

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
DEFAULT_PORT = 9092
DEFAULT_STATE_DIR = Path(".social-mentors") / "kafka"


def local_state_dir() -> Path:
    """Where `social-mentors kafka` keeps the local broker: in the user's cache, not the working
    directory, so that `kafka status` and `kafka stop` find the broker from any folder."""
    return cache_dir() / "kafka"

_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
"""


def resolve_jars(version: str = KAFKA_VERSION, quiet: bool = True) -> Path:
    """The folder of the broker's jars, resolved with Maven on first use."""
    try:
        return maven.resolve_jars(
            f"kafka-{version}",
            [f"org.apache.kafka:kafka_2.13:{version}", f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
             f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}"],
            f"the local Kafka broker {version}", quiet,
        )
    except maven.MavenResolutionError as error:
        raise KafkaBrokerError(str(error)) from error


def jars_cached(version: str = KAFKA_VERSION) -> bool:
    """Whether the broker's jars are resolved already (a start then needs no Maven)."""
    return (maven.cache_dir() / f"kafka-{version}" / "libs" / ".resolved").exists()


def _is_tcp_port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


@dataclasses.dataclass
class KafkaBroker:
    """One broker+controller node, its files under ``state_dir``."""

    state_dir: Path = DEFAULT_STATE_DIR
    port: Optional[int] = None  # None: the port the broker of this folder used last, else DEFAULT_PORT
    controller_port: Optional[int] = None
    version: str = KAFKA_VERSION
    heap: str = "512m"
    num_partitions: int = 3
    secured: Optional[SecuredListeners] = None

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        info = self._read_info()
        if info:  # a broker started before from this folder keeps its ports, unless another port is asked
            stored = info["port"]
            if self.port is not None and self.port != stored and self.pid():
                raise KafkaBrokerError(
                    f"a broker already runs from {self.state_dir} on 127.0.0.1:{stored}: stop it first "
                    f"(`social-mentors kafka stop`) to start it on port {self.port}")
            self.port = self.port or stored
            self.controller_port = info["controller_port"]
            if self.secured and info.get("sasl_ssl_port"):
                self.secured = dataclasses.replace(self.secured, sasl_ssl_port=info["sasl_ssl_port"],
                                                   ssl_port=info["ssl_port"])
        self.port = self.port or DEFAULT_PORT
        if self.controller_port is None:
            self.controller_port = free_port()
        if self.secured:
            self.secured = dataclasses.replace(self.secured, sasl_ssl_port=self.secured.sasl_ssl_port or free_port(),
                                               ssl_port=self.secured.ssl_port or free_port())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        """The SASL_SSL listener (SCRAM-SHA-256/512, PLAIN over TLS)."""
        if not self.secured:
            raise KafkaBrokerError("this broker has no secured listeners (start it with secured=...)")
        return f"127.0.0.1:{self.secured.sasl_ssl_port}"

    @property
    def ssl_bootstrap(self) -> str:
        """The SSL listener that requires a client certificate signed by the broker's CA."""
        if not self.secured:
            raise KafkaBrokerError("this broker has no secured listeners (start it with secured=...)")
        return f"127.0.0.1:{self.secured.ssl_port}"

    @property
    def tls(self) -> TlsMaterial:
        """The CA, broker keystore and client certificate of the secured listeners."""
        return TlsMaterial(self.state_dir / "tls")

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "broker.log"

    def _read_info(self) -> Optional[dict]:
        """What the last start from this folder wrote (its ports), checked: a port Kafka cannot listen
        on would fail every later start with only Java's error in the broker's log."""
        path = self.state_dir / "broker.json"
        if not path.exists():
            return None
        try:
            info = json.loads(path.read_text())
        except ValueError:
            info = None
        ports = [key for key in ("port", "controller_port", "sasl_ssl_port", "ssl_port")
                 if isinstance(info, dict) and (key in ("port", "controller_port") or info.get(key) is not None)]
        bad = [key for key in ports if not _is_tcp_port(info.get(key))] if isinstance(info, dict) else ["its JSON"]
        if bad:
            shown = ", ".join(f"{key} {info.get(key)!r}" if isinstance(info, dict) else key for key in bad)
            raise KafkaBrokerError(f"{path} holds {shown}: not a TCP port (1..65535); delete it (the broker's "
                                   "data stays) and start again")
        return info

    def _listeners(self) -> tuple[str, str, str]:
        """listeners, advertised.listeners, listener.security.protocol.map."""
        plain = f"PLAINTEXT://127.0.0.1:{self.port}"
        controller = f"CONTROLLER://127.0.0.1:{self.controller_port}"
        protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        if not self.secured:
            return f"{plain},{controller}", plain, protocols
        secured = f"SASL_SSL://127.0.0.1:{self.secured.sasl_ssl_port},SSL://127.0.0.1:{self.secured.ssl_port}"
        return f"{plain},{controller},{secured}", f"{plain},{secured}", protocols + ",SASL_SSL:SASL_SSL,SSL:SSL"

    def _write_config(self) -> Path:
        data = self.state_dir / "data"
        config = self.state_dir / "server.properties"
        config.touch(mode=0o600)
        config.chmod(0o600)
        listeners, advertised, protocols = self._listeners()
        config.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners={listeners}",
            f"advertised.listeners={advertised}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"listener.security.protocol.map={protocols}",
            f"log.dirs={data}",
            f"num.partitions={self.num_partitions}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=3",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            # Time retention follows record timestamps, and imported archives carry old ones: a
            # week's retention would delete a replayed 2018 forum at once. Keep everything locally.
            "log.retention.ms=-1",
            "log.retention.bytes=-1",
            *(secured_config(self.secured, make_tls_material(self.tls.folder)) if self.secured else []),
        ]) + "\n", encoding="utf-8")
        (self.state_dir / "log4j2.properties").write_text(
            _LOG4J2.format(log=self.state_dir / "server.log", level="INFO"), encoding="utf-8")
        info = {"port": self.port, "controller_port": self.controller_port, "version": self.version}
        if self.secured:
            info.update(sasl_ssl_port=self.secured.sasl_ssl_port, ssl_port=self.secured.ssl_port)
        (self.state_dir / "broker.json").write_text(json.dumps(info))
        return config

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
            "-cp", f"{libs}/*", main, *args,
        ]

    def pid(self) -> Optional[int]:
        """The broker's pid when it is running."""
        try:
            pid = int(self._pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def is_ready(self) -> bool:
        try:
            from kafka import KafkaAdminClient

            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
            try:
                admin.list_topics()
                return True
            finally:
                admin.close()
        except Exception:
            return False

    def start(self, timeout_s: float = 120.0) -> str:
        """Start the broker (formatting storage first if new); returns the bootstrap address."""
        if self.pid():
            if self.is_ready():
                return self.bootstrap
        self.state_dir.mkdir(parents=True, exist_ok=True)
        libs = resolve_jars(self.version)
        config = self._write_config()
        if not (self.state_dir / "data" / "meta.properties").exists():
            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's own Uuid: a leading "-" reads as an option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            formatted = subprocess.run(
                self._java(libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config),
                           *scram_arguments(self.secured)),
                capture_output=True, text=True,
            )
            if formatted.returncode != 0:
                raise KafkaBrokerError(f"formatting Kafka storage failed:\n{formatted.stdout}{formatted.stderr}")
        self._check_ports_free()
        process = processes.spawn(self._java(libs, "kafka.Kafka", str(config)), self.log_file)
        self._pid_file.write_text(str(process.pid))
        processes.wait_until_ready("Kafka broker", self.is_ready, [("Kafka broker", process, self.log_file)],
                                   KafkaBrokerError, self.stop, timeout_s, poll_s=0.5)
        return self.bootstrap

    def _check_ports_free(self) -> None:
        """A port another process listens on fails here: another broker there answered this one's
        readiness check, and `kafka start` said it had started a broker that could not bind its
        port (an outside probe)."""
        ports = [self.port, self.controller_port]
        if self.secured:
            ports += [self.secured.sasl_ssl_port, self.secured.ssl_port]
        for port in ports:
            if port and not processes.can_listen(port):
                raise KafkaBrokerError(
                    f"port {port} on 127.0.0.1 is in use by another process (another broker? see `social-mentors "
                    f"kafka status`); stop it, or start this one on another port with --port")

    def stop(self, timeout_s: float = 30.0, hard: bool = False) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL); False when none was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:  # reap it when it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return f"stopped (state in {self.state_dir})"
        info = self._read_info() or {}
        secured = (f"; SASL_SSL 127.0.0.1:{info['sasl_ssl_port']}, SSL 127.0.0.1:{info['ssl_port']} (CA {self.tls.ca_file})"
                   if info.get("sasl_ssl_port") else "")
        return (f"running, pid {pid}, bootstrap {self.bootstrap}{secured}, "
                f"{'ready' if self.is_ready() else 'not answering'}")
