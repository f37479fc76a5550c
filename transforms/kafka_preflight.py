"""Connect once to a Kafka bootstrap server, as the project's clients will, before any work starts.

kafka-python retries a failing bootstrap until its timeout (30 s) and then says only "Unable to
bootstrap": a wrong password, an untrusted certificate, a TLS client talking to a plain listener and a
broker that is not running all look alike, and slowly. :func:`check_connection` makes one connection
(TCP, TLS, SASL login, API versions) with the same kafka-python settings and turns the first failure
into one line that says what failed, where, and which option to check. It raises
:class:`KafkaConnectionProblem` (a RuntimeError: the CLI prints it as ``error: ...``, exit 2), or its
subclass :class:`KafkaNotAnswering` when nothing answered at all (refused, unresolvable, timed out):
a caller that waits out broker outages may catch that one and go on, since retrying cannot fix a
wrong password or certificate but can outlast a restarting broker.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from transforms.kafka_security import KafkaSecurity, client_kwargs

DEFAULT_TIMEOUT_S = 15.0


class KafkaConnectionProblem(RuntimeError):
    """The broker answered, and refused us: a setting is wrong (password, certificate, protocol)."""


class KafkaNotAnswering(KafkaConnectionProblem):
    """Nothing answered: the broker is down, restarting, or the address is wrong."""


_NOT_ANSWERING = ("nothing listens at", "no Kafka answer from", "cannot resolve the host")


def _explain(error: BaseException, server: str, security: KafkaSecurity, timeout_s: float) -> str:
    from kafka import errors

    text = str(error)
    login = f"the SASL {security.mechanism} login of user {security.username}" if security.uses_sasl else ""
    if isinstance(error, errors.SaslAuthenticationFailedError):
        return f"Kafka at {server} refused {login}: wrong user name or password ({text})"
    if isinstance(error, errors.UnsupportedSaslMechanismError):
        return f"Kafka at {server} does not enable {security.mechanism} ({text}); check --sasl-mechanism"
    if isinstance(error, errors.KafkaTimeoutError) or "timed out" in text.lower():
        return (f"no Kafka answer from {server} within {timeout_s:.0f} s as {security.protocol}: is it a Kafka "
                "listener, and does it speak that protocol? (check --bootstrap-servers, --security-protocol)")
    if "ECONNREFUSED" in text or "Connection refused" in text:
        return f"nothing listens at {server}: is the broker running? (check --bootstrap-servers)"
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip() or text
        return f"the TLS certificate of {server} is not trusted ({reason}): check --ssl-cafile"
    if "Hostname mismatch" in text or "doesn't match" in text:
        return f"the TLS certificate of {server} is not for that host name ({text})"
    if "BAD_CERTIFICATE" in text or "CERTIFICATE_REQUIRED" in text or "certificate required" in text:
        return (f"Kafka at {server} refused the TLS client: it wants a client certificate signed by its CA "
                "(check --ssl-certfile, --ssl-keyfile)")
    if "Handshake failed" in text:
        return (f"the TLS handshake with {server} failed ({text.split('Handshake failed:', 1)[-1].strip()}): is it a "
                "TLS listener? (check --security-protocol; SSL and SASL_SSL need one)")
    if any(said in text for said in ("getaddrinfo", "Name or service not known", "nodename nor servname",
                                     "DNS Resolution failure")):  # the last: kafka-python 3's own words
        return f"cannot resolve the host of {server} (check --bootstrap-servers HOST:PORT)"
    if "Invalid frame length" in text and not security.uses_tls:  # a TLS alert read as a Kafka frame
        return (f"Kafka at {server} closed the connection at once: is it a TLS or SASL listener? "
                "(check --security-protocol)")
    if "socket disconnected" in text or "Connection reset" in text:
        if security.uses_sasl:
            return (f"Kafka at {server} closed the connection during {login}: wrong user name or password, "
                    f"or a listener that does not take {security.protocol} (check --security-protocol)")
        if security.uses_tls:
            return (f"Kafka at {server} closed the connection after the TLS handshake: does the listener need "
                    "SASL (--security-protocol SASL_SSL) or a client certificate (--ssl-certfile)?")
        return (f"Kafka at {server} closed the connection at once: is it a TLS or SASL listener? "
                "(check --security-protocol)")
    said = text if text.startswith(f"{type(error).__name__}:") else f"{type(error).__name__}: {text}"
    return f"cannot connect to Kafka at {server} as {security.describe()}: {said}"


def _connect_once(config: dict[str, Any], timeout_s: float) -> None:
    """One connection to the first bootstrap server through kafka-python's connection manager."""
    from kafka.net.manager import KafkaConnectionManager
    from kafka.net.selector import NetworkSelector

    net = NetworkSelector(**config)
    manager = KafkaConnectionManager(net, **config)
    try:
        node = manager.cluster.bootstrap_brokers()[0]
        connection = manager.get_connection(node.node_id, timeout_ms=timeout_s * 1000, pop_on_close=False,
                                            refresh_metadata_on_err=False, reset_backoff_on_connect=False)

        async def connected() -> None:
            await connection

        net.run(connected)
    finally:
        manager.close()
        net.close()


def _bootstrap_once(config: dict[str, Any], timeout_s: float) -> None:
    """The same through the public API, for kafka-python versions without ``kafka.net``."""
    from kafka import KafkaAdminClient

    KafkaAdminClient(**config, bootstrap_timeout_ms=int(timeout_s * 1000)).close()


def check_connection(bootstrap_servers: str, security: Optional[KafkaSecurity] = None,
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> float:
    """Connect once to each bootstrap server until one answers; the seconds it took. Raises
    :class:`KafkaConnectionProblem` with the first server's failure explained in one line."""
    security = security or KafkaSecurity()
    kwargs = client_kwargs(security, "admin")
    started = time.monotonic()
    servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
    if not servers:
        raise KafkaConnectionProblem("no Kafka bootstrap server given (--bootstrap-servers HOST:PORT)")
    first_problem = None
    for server in servers:
        config = dict(kwargs, bootstrap_servers=server)
        try:
            try:
                _connect_once(config, timeout_s)
            except (ImportError, AttributeError, TypeError):
                _bootstrap_once(config, timeout_s)
            return time.monotonic() - started
        except Exception as error:  # every failure becomes one line; --verbose shows kafka-python's log
            first_problem = first_problem or _explain(error, server, security, timeout_s)
    kind = KafkaNotAnswering if first_problem.startswith(_NOT_ANSWERING) else KafkaConnectionProblem
    raise kind(first_problem)
