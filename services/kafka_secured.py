"""The secured listeners of the local broker: SASL_SSL (SCRAM-SHA-256/512, PLAIN) and SSL with a
required client certificate, as server.properties lines and the storage tool's SCRAM arguments.

In: the users and ports (``SecuredListeners``) and the TLS material of ``services.kafka_tls``. Out: the
configuration ``services.kafka_broker`` writes. Kept apart from the broker's life cycle (start, stop,
status) because it is the part that holds secrets.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from services.kafka_tls import TlsMaterial


class KafkaBrokerError(RuntimeError):
    """The local broker cannot be configured, resolved or started (re-exported by services.kafka_broker)."""


SASL_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")


@dataclasses.dataclass(frozen=True)
class SecuredListeners:
    """A SASL_SSL and an SSL (client certificate required) listener; ``users`` may log in with SASL."""

    users: dict[str, str] = dataclasses.field(repr=False)  # name -> password: never printed
    sasl_ssl_port: Optional[int] = None
    ssl_port: Optional[int] = None


def jaas_quote(value: str) -> str:
    if not value or any(c in value for c in "\"\\\n;,[]="):
        raise KafkaBrokerError("SASL user names and passwords of the local broker may not hold quotes, "
                               "backslashes, semicolons or newlines")
    return f'"{value}"'


def secured_config(secured: SecuredListeners, tls: TlsMaterial) -> list[str]:
    """server.properties lines of the SASL_SSL and SSL listeners (holds secrets: the file is 0600)."""
    store_password = tls.broker_keystore_password()
    plain_users = " ".join(f"user_{name}={jaas_quote(pw)}" for name, pw in sorted(secured.users.items()))
    for name in secured.users:
        jaas_quote(name)
    return [
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={tls.broker_keystore}",
        f"ssl.keystore.password={store_password}",
        f"ssl.key.password={store_password}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tls.ca_file}",
        "listener.name.ssl.ssl.client.auth=required",
        f"sasl.enabled.mechanisms={','.join(SASL_MECHANISMS)}",
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.plain.sasl.jaas.config="
        f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};",
    ]


def scram_arguments(secured: Optional[SecuredListeners]) -> list[str]:
    """``--add-scram`` of every user and SCRAM mechanism: credentials exist before the first start.
    (The storage tool takes them only as arguments, so they show in this short-lived process's
    command line on this machine: acceptable for a development broker, not for production.)"""
    if not secured:
        return []
    return [arg for name, password in sorted(secured.users.items())
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
            for arg in ("--add-scram", f"{mechanism}=[name={jaas_quote(name)},password={jaas_quote(password)}]")]


def local_secured_listeners(state_dir: Path, user: str, sasl_ssl_port: Optional[int] = None,
                            ssl_port: Optional[int] = None, password: Optional[str] = None) -> tuple[SecuredListeners, Path]:
    """Secured listeners of a development broker, and the file holding ``user``'s password (0600).

    The password is the one given (e.g. from $SOCIAL_MENTORS_KAFKA_SASL_PASSWORD) on the first start,
    else a random one; either way it is kept in ``state_dir/tls/sasl.password``, since the SCRAM
    credentials are made once, when the storage is formatted."""
    import secrets

    folder = Path(state_dir).resolve() / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    password_file = folder / "sasl.password"
    if password_file.exists():
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = password or secrets.token_urlsafe(18)
        password_file.touch(mode=0o600)
        password_file.write_text(password + "\n", encoding="utf-8")
    return SecuredListeners({user: password}, sasl_ssl_port, ssl_port), password_file
