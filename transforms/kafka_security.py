"""How this project's Kafka clients encrypt and authenticate: one settings object in, kafka-python
keyword arguments out.

:class:`KafkaSecurity` holds what the user chose: the security protocol, the SASL mechanism and user
name, *where* the passwords come from (an environment variable's name or a file's path, never the
password itself), the TLS files, and extra kafka-python settings read from ``--kafka-config``.
:func:`client_kwargs` turns it into the keyword arguments of ``KafkaConsumer``, ``KafkaProducer`` or
``KafkaAdminClient``, reading the secrets at that moment, in the process that makes the client.

Why references and not values: the settings travel with the pipeline (pickled in the Kafka source's
``PartitionPlan``, and printed in reprs and logs), so they must never hold a secret. Each worker
reads the password from the same environment variable or file when it opens its consumer; a secret
in the ``--kafka-config`` file is refused for the same reason. Every producer, consumer and admin
client of the project (``produce``, ``run --source kafka``, the offset commits) takes its arguments
from :func:`client_kwargs`.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
ROLES = ("consumer", "producer", "admin")

# Environment variables that give the options' defaults (documented in the README's Kafka security).
ENV_PREFIX = "SOCIAL_MENTORS_KAFKA_"
DEFAULT_PASSWORD_ENV = ENV_PREFIX + "SASL_PASSWORD"
DEFAULT_KEY_PASSWORD_ENV = ENV_PREFIX + "SSL_KEY_PASSWORD"

# Settings a --kafka-config file may not hold: secrets (they would travel with the pipeline), and what
# the project decides itself (where to connect, the group, commits, delivery guarantees, codecs).
SECRET_KEYS = {"sasl_plain_password": "--sasl-password-env or --sasl-password-file",
               "ssl_password": "--ssl-key-password-env or --ssl-key-password-file"}
FIXED_KEYS = frozenset({
    "bootstrap_servers", "group_id", "enable_auto_commit", "auto_offset_reset", "acks", "enable_idempotence",
    "key_serializer", "value_serializer", "key_deserializer", "value_deserializer", "transactional_id",
    "kafka_client", "ssl_context", "sasl_oauth_token_provider", "partitioner", "metric_reporters",
    "default_offset_commit_callback", "selector", "socket_options", "partition_assignment_strategy",
})


class KafkaSecurityError(ValueError):
    """A security setting that cannot work, or a secret that cannot be read: one line for the user."""


def _role_defaults(role: str) -> Mapping[str, Any]:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    return {"consumer": KafkaConsumer, "producer": KafkaProducer, "admin": KafkaAdminClient}[role].DEFAULT_CONFIG


def _known_defaults() -> dict[str, Any]:
    known: dict[str, Any] = {}
    for role in ROLES:
        known.update(_role_defaults(role))
    return known


def _convert(key: str, text: str, default: Any) -> Any:
    """A properties value as the type kafka-python's default of ``key`` has."""
    lowered = text.strip().lower()
    if isinstance(default, bool) or lowered in ("true", "false"):
        if lowered not in ("true", "false"):
            raise KafkaSecurityError(f"--kafka-config: {key} must be true or false, not {text!r}")
        return lowered == "true"
    if isinstance(default, (int, float)) or default is None:
        for kind in ((int, float) if not isinstance(default, float) else (float,)):
            try:
                return kind(text)
            except ValueError:
                pass
        if isinstance(default, (int, float)):
            raise KafkaSecurityError(f"--kafka-config: {key} must be a number, not {text!r}")
    return text.strip()


def read_kafka_config(path: str) -> tuple[tuple[str, Any], ...]:
    """Extra kafka-python settings from a JSON object or a ``key=value`` properties file.

    Keys may be kafka-python's (``request_timeout_ms``) or Kafka's Java names (``request.timeout.ms``).
    Unknown keys, secrets and settings the project fixes itself are refused with the reason.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise KafkaSecurityError(f"--kafka-config {path}: {error.strerror or error}") from None
    known = _known_defaults()
    raw: dict[str, Any] = {}
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise KafkaSecurityError(f"--kafka-config {path}: not valid JSON ({error})") from None
        raw = {str(k): v for k, v in parsed.items()}
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "!")):
                continue
            key, sep, value = stripped.partition("=")
            if not sep:
                key, sep, value = stripped.partition(":")
            if not sep:
                raise KafkaSecurityError(f"--kafka-config {path}:{number}: expected key=value")
            raw[key.strip()] = value
    settings = []
    for key, value in raw.items():
        name = key.replace(".", "_").replace("-", "_")
        if name in SECRET_KEYS:
            raise KafkaSecurityError(f"--kafka-config {path}: {key} is a secret; it would travel with the pipeline: "
                                     f"use {SECRET_KEYS[name]} instead")
        if "jaas" in name:
            raise KafkaSecurityError(f"--kafka-config {path}: {key} is Java-only; use --sasl-mechanism, "
                                     "--sasl-username and --sasl-password-env/--sasl-password-file")
        if name in FIXED_KEYS:
            raise KafkaSecurityError(f"--kafka-config {path}: {key} is set by social-mentors itself, not from a file")
        if name not in known:
            raise KafkaSecurityError(f"--kafka-config {path}: {key} is not a kafka-python setting")
        if isinstance(value, str):
            value = _convert(key, value, known[name])
        settings.append((name, value))
    return tuple(sorted(settings))


@dataclasses.dataclass(frozen=True)
class KafkaSecurity:
    """What a Kafka client needs to encrypt and authenticate; secrets by reference only.

    ``security_protocol`` and ``sasl_mechanism`` of None mean: from ``extra`` (``--kafka-config``), or
    kafka-python's default (PLAINTEXT). Safe to print, log and pickle.
    """

    security_protocol: Optional[str] = None
    sasl_mechanism: Optional[str] = None
    sasl_username: Optional[str] = None
    sasl_password_env: Optional[str] = None
    sasl_password_file: Optional[str] = None
    ssl_cafile: Optional[str] = None
    ssl_certfile: Optional[str] = None
    ssl_keyfile: Optional[str] = None
    ssl_key_password_env: Optional[str] = None
    ssl_key_password_file: Optional[str] = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def protocol(self) -> str:
        return self.security_protocol or dict(self.extra).get("security_protocol") or "PLAINTEXT"

    @property
    def mechanism(self) -> Optional[str]:
        return self.sasl_mechanism or dict(self.extra).get("sasl_mechanism")

    @property
    def username(self) -> Optional[str]:
        return self.sasl_username or dict(self.extra).get("sasl_plain_username")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def validate(self) -> "KafkaSecurity":
        """Refuse combinations that cannot work, with the option to fix; returns self."""
        if self.protocol not in PROTOCOLS:
            raise KafkaSecurityError(f"--security-protocol {self.protocol}: choose one of {', '.join(PROTOCOLS)}")
        if self.uses_sasl:
            if self.mechanism not in MECHANISMS:
                raise KafkaSecurityError(f"{self.protocol} needs --sasl-mechanism {'|'.join(MECHANISMS)}"
                                         + (f" (not {self.mechanism})" if self.mechanism else ""))
            if not self.username:
                raise KafkaSecurityError(f"{self.protocol} needs --sasl-username (or ${ENV_PREFIX}SASL_USERNAME)")
            if self.sasl_password_env and self.sasl_password_file:
                raise KafkaSecurityError("give the SASL password one way: --sasl-password-env or --sasl-password-file")
        else:
            given = [o for o, v in (("--sasl-mechanism", self.sasl_mechanism), ("--sasl-username", self.sasl_username),
                                    ("--sasl-password-env", self.sasl_password_env),
                                    ("--sasl-password-file", self.sasl_password_file)) if v]
            if given:
                raise KafkaSecurityError(f"{', '.join(given)} need --security-protocol SASL_SSL or SASL_PLAINTEXT")
        if not self.uses_tls:
            given = [o for o, v in (("--ssl-cafile", self.ssl_cafile), ("--ssl-certfile", self.ssl_certfile),
                                    ("--ssl-keyfile", self.ssl_keyfile)) if v]
            if given:
                raise KafkaSecurityError(f"{', '.join(given)} need --security-protocol SSL or SASL_SSL")
        if self.ssl_key_password_env and self.ssl_key_password_file:
            raise KafkaSecurityError("give the key password one way: --ssl-key-password-env or --ssl-key-password-file")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise KafkaSecurityError("--ssl-keyfile needs --ssl-certfile (the client certificate)")
        for option, path in (("--ssl-cafile", self.ssl_cafile), ("--ssl-certfile", self.ssl_certfile),
                             ("--ssl-keyfile", self.ssl_keyfile), ("--sasl-password-file", self.sasl_password_file),
                             ("--ssl-key-password-file", self.ssl_key_password_file)):
            if path and not Path(path).is_file():
                raise KafkaSecurityError(f"{option} {path}: no such file")
        return self

    def warnings(self) -> list[str]:
        """Things that work but expose something: shown to the user, never fatal."""
        notes = []
        if self.protocol == "SASL_PLAINTEXT" and self.mechanism == "PLAIN":
            notes.append("SASL PLAIN without TLS sends the password in clear text; use SASL_SSL")
        for option, path in (("--sasl-password-file", self.sasl_password_file),
                             ("--ssl-key-password-file", self.ssl_key_password_file)):
            if path and Path(path).is_file() and Path(path).stat().st_mode & 0o077:
                notes.append(f"{option} {path} is readable by other users (chmod 600 it)")
        return notes

    def describe(self) -> str:
        """One line for progress output: protocol, mechanism and user, never a secret."""
        if self.uses_sasl:
            return f"{self.protocol} ({self.mechanism}, user {self.username})"
        return self.protocol


PLAINTEXT = KafkaSecurity()


def _read_secret(env_name: Optional[str], file_path: Optional[str], what: str, env_option: str,
                 file_option: str, required: bool) -> Optional[str]:
    if file_path:
        try:
            value = Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise KafkaSecurityError(f"{file_option} {file_path}: {error.strerror or error}") from None
        if not value:
            raise KafkaSecurityError(f"{file_option} {file_path} is empty")
        return value
    if env_name:
        value = os.environ.get(env_name)
        if value:
            return value
    if required:
        where = f"the environment variable {env_name} is not set" if env_name else "none was given"
        raise KafkaSecurityError(f"the {what} is missing: {where} (give {env_option} NAME or {file_option} PATH)")
    return None


def client_kwargs(security: Optional[KafkaSecurity], role: str) -> dict[str, Any]:
    """kafka-python keyword arguments of a ``role`` client (consumer, producer or admin), secrets read now.

    Settings from ``--kafka-config`` come first (only those the role's client knows), the options
    over them. ``None`` or the default settings give ``{}``: kafka-python's plain connection.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if security is None:
        return {}
    defaults = _role_defaults(role)
    kwargs: dict[str, Any] = {k: v for k, v in security.extra if k in defaults}
    if security.security_protocol:
        kwargs["security_protocol"] = security.security_protocol
    if security.uses_sasl:
        if security.sasl_mechanism:
            kwargs["sasl_mechanism"] = security.sasl_mechanism
        if security.sasl_username:
            kwargs["sasl_plain_username"] = security.sasl_username
        kwargs["sasl_plain_password"] = _read_secret(
            security.sasl_password_env or (None if security.sasl_password_file else DEFAULT_PASSWORD_ENV),
            security.sasl_password_file, "SASL password",
            "--sasl-password-env", "--sasl-password-file", required=True)
    if security.uses_tls:
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(security, key):
                kwargs[key] = getattr(security, key)
        # An unencrypted key needs no password: only one asked for explicitly must be there.
        key_password = _read_secret(
            security.ssl_key_password_env or (None if security.ssl_key_password_file else DEFAULT_KEY_PASSWORD_ENV),
            security.ssl_key_password_file, "TLS key password", "--ssl-key-password-env", "--ssl-key-password-file",
            required=bool(security.ssl_key_password_env or security.ssl_key_password_file))
        if key_password is not None:
            kwargs["ssl_password"] = key_password
    return kwargs
