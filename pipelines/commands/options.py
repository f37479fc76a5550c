"""Options that several command groups share."""
from __future__ import annotations

import argparse
import os
import sys

from transforms.kafka_security import (DEFAULT_KEY_PASSWORD_ENV, DEFAULT_PASSWORD_ENV, ENV_PREFIX, MECHANISMS,
                                       PROTOCOLS, KafkaSecurity, read_kafka_config)
from warehouse import DEFAULT_WAREHOUSE


def add_warehouse(parser: argparse.ArgumentParser, default: str = DEFAULT_WAREHOUSE) -> None:
    parser.add_argument(
        "--warehouse", default=default,
        help=f"warehouse: a DuckDB file path, or bigquery://PROJECT/DATASET (default: {default})",
    )


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092", help="Kafka bootstrap HOST:PORT")
    parser.add_argument("--topic", default="engagement-events")
    parser.add_argument("--schema-id", type=int, action="append", default=None,
                        help="Confluent schema id(s) of EngagementEvent (default 1)")
    add_kafka_security_options(parser)


def _env(name: str) -> "str | None":
    return os.environ.get(ENV_PREFIX + name) or None


def add_kafka_security_options(parser: argparse.ArgumentParser) -> None:
    """TLS and SASL of every Kafka client the command makes. Passwords are never options: they come
    from an environment variable or a file. Each option's default comes from $SOCIAL_MENTORS_KAFKA_*."""
    group = parser.add_argument_group(
        "Kafka security", f"TLS and SASL; defaults from the environment variables {ENV_PREFIX}* named below")
    group.add_argument("--security-protocol", choices=PROTOCOLS, default=_env("SECURITY_PROTOCOL"),
                       help=f"default ${ENV_PREFIX}SECURITY_PROTOCOL, else PLAINTEXT")
    group.add_argument("--sasl-mechanism", choices=MECHANISMS, default=_env("SASL_MECHANISM"),
                       help=f"SASL_*: the login mechanism (default ${ENV_PREFIX}SASL_MECHANISM)")
    group.add_argument("--sasl-username", default=_env("SASL_USERNAME"),
                       help=f"SASL_*: the user (default ${ENV_PREFIX}SASL_USERNAME)")
    group.add_argument("--sasl-password-env", metavar="NAME", default=None,
                       help=f"SASL_*: the environment variable holding the password (default {DEFAULT_PASSWORD_ENV})")
    group.add_argument("--sasl-password-file", metavar="PATH", default=_env("SASL_PASSWORD_FILE"),
                       help=f"SASL_*: a file holding the password (default ${ENV_PREFIX}SASL_PASSWORD_FILE)")
    group.add_argument("--ssl-cafile", metavar="PEM", default=_env("SSL_CAFILE"),
                       help=f"SSL/SASL_SSL: CA certificates to trust (default ${ENV_PREFIX}SSL_CAFILE, else the system's)")
    group.add_argument("--ssl-certfile", metavar="PEM", default=_env("SSL_CERTFILE"),
                       help=f"SSL/SASL_SSL: client certificate (default ${ENV_PREFIX}SSL_CERTFILE)")
    group.add_argument("--ssl-keyfile", metavar="PEM", default=_env("SSL_KEYFILE"),
                       help=f"SSL/SASL_SSL: the client certificate's key (default ${ENV_PREFIX}SSL_KEYFILE)")
    group.add_argument("--ssl-key-password-env", metavar="NAME", default=None,
                       help=f"the environment variable holding the key's password (default {DEFAULT_KEY_PASSWORD_ENV})")
    group.add_argument("--ssl-key-password-file", metavar="PATH", default=_env("SSL_KEY_PASSWORD_FILE"),
                       help=f"a file holding the key's password (default ${ENV_PREFIX}SSL_KEY_PASSWORD_FILE)")
    group.add_argument("--kafka-config", metavar="FILE", default=_env("CONFIG"),
                       help="extra kafka-python settings, a JSON object or key=value properties (Java names too); "
                            f"no secrets (default ${ENV_PREFIX}CONFIG)")


def kafka_security(args: argparse.Namespace) -> KafkaSecurity:
    """The validated security settings of the Kafka options; warnings go to stderr."""
    security = KafkaSecurity(
        security_protocol=args.security_protocol, sasl_mechanism=args.sasl_mechanism,
        sasl_username=args.sasl_username, sasl_password_env=args.sasl_password_env,
        sasl_password_file=args.sasl_password_file, ssl_cafile=args.ssl_cafile, ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile, ssl_key_password_env=args.ssl_key_password_env,
        ssl_key_password_file=args.ssl_key_password_file,
        extra=read_kafka_config(args.kafka_config) if args.kafka_config else (),
    ).validate()
    for note in security.warnings():
        print(f"warning: {note}", file=sys.stderr)
    return security
