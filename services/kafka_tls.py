"""TLS material for a local broker's secured listeners, made with openssl: a throw-away CA, a broker
certificate for 127.0.0.1/localhost in a PKCS#12 keystore, and a client certificate whose key is
encrypted (for listeners that require client certificates, and to exercise a key password).

Everything is written under one folder with owner-only permissions; the random store and key
passwords are written beside the files they open (``*.password``), never passed on a command line
other than openssl's own ``pass:file`` references. This is development and test material: its CA is
trusted by nothing but the clients told to use it.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
from pathlib import Path

VALID_DAYS = 30


class TlsMaterialError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class TlsMaterial:
    """Paths of the files :func:`make_tls_material` writes."""

    folder: Path

    @property
    def ca_file(self) -> Path:  # PEM: clients' --ssl-cafile, the broker's truststore
        return self.folder / "ca.pem"

    @property
    def broker_keystore(self) -> Path:  # PKCS#12: the broker's key and certificate chain
        return self.folder / "broker.p12"

    @property
    def broker_keystore_password_file(self) -> Path:
        return self.folder / "broker.p12.password"

    @property
    def client_certfile(self) -> Path:  # PEM: clients' --ssl-certfile
        return self.folder / "client.pem"

    @property
    def client_keyfile(self) -> Path:  # PEM, encrypted: clients' --ssl-keyfile
        return self.folder / "client.key"

    @property
    def client_key_password_file(self) -> Path:  # clients' --ssl-key-password-file
        return self.folder / "client.key.password"

    def broker_keystore_password(self) -> str:
        return self.broker_keystore_password_file.read_text(encoding="utf-8").strip()

    def exists(self) -> bool:
        return all(p.exists() for p in (self.ca_file, self.broker_keystore, self.broker_keystore_password_file,
                                        self.client_certfile, self.client_keyfile, self.client_key_password_file))


def _openssl(folder: Path, *args: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise TlsMaterialError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _write_secret(path: Path) -> None:
    path.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    path.chmod(0o600)


def make_tls_material(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsMaterial:
    """Make (once) a CA, a broker keystore for ``hosts`` and a client certificate under ``folder``."""
    material = TlsMaterial(Path(folder).resolve())
    if material.exists():
        return material
    folder = material.folder
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    old_umask = os.umask(0o077)
    try:
        _write_secret(material.broker_keystore_password_file)
        _write_secret(material.client_key_password_file)
        days = str(VALID_DAYS)
        _openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                 "-days", days, "-subj", "/CN=social-mentors local test CA")
        names = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts)
        (folder / "broker.ext").write_text(f"subjectAltName={names}\n", encoding="utf-8")
        _openssl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
                 "-subj", f"/CN={hosts[0]}")
        _openssl(folder, "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "broker.pem", "-days", days, "-extfile", "broker.ext")
        _openssl(folder, "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
                 "-name", "broker", "-out", "broker.p12",
                 "-passout", f"file:{material.broker_keystore_password_file.name}")
        _openssl(folder, "req", "-newkey", "rsa:2048", "-keyout", "client.key", "-out", "client.csr",
                 "-subj", "/CN=social-mentors client",
                 "-passout", f"file:{material.client_key_password_file.name}")
        _openssl(folder, "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "client.pem", "-days", days)
    finally:
        os.umask(old_umask)
    for leftover in ("broker.csr", "client.csr", "broker.ext"):
        (folder / leftover).unlink(missing_ok=True)
    return material
