"""Pseudonymization of imported events: a keyed hash of every id that names a person or leads back
to one, or no change at all.

Hashed, with one key, before anything is written or sent: actor ids (``u:`` + 16 hex digits of
HMAC-SHA256, as before, so earlier pseudonyms stay comparable), and the ids of items, threads and
parents (``i:``) and of events (``e:``), because Message-IDs hold addresses and host names and the
public post and comment ids of Reddit and Stack Exchange lead to their authors in a search. Item,
thread and parent ids share one hash, so threads still resolve. The key comes from an environment
variable or a file, never the command line (it would show in ``ps``), and must have at least
:data:`MIN_KEY_BYTES` bytes: an empty key (an unset ``$KEY``) is an error, never a silent no-op.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
from typing import Any, Optional, Union

MIN_KEY_BYTES = 16
_ITEM_FIELDS = ("item_id", "thread_id", "parent_id")


MAX_KEY_FILE_BYTES = 64 * 1024


def load_key(env: Optional[str] = None, file: Optional[str] = None) -> Optional[bytes]:
    """The key from the environment variable ``env`` or the file ``file`` (one trailing newline
    dropped); None when neither is given. Raises ValueError with what to do."""
    if env and file:
        raise ValueError("give the pseudonymization key once: --pseudonymize-key-env or --pseudonymize-key-file")
    if env:
        if env not in os.environ:
            raise ValueError(f"${env} is not set: export it with the pseudonymization key "
                             f"(at least {MIN_KEY_BYTES} bytes), or use --pseudonymize-key-file PATH")
        key = os.environ[env].encode("utf-8")
        if not key:
            raise ValueError(f"${env} is empty: set it to the pseudonymization key (at least {MIN_KEY_BYTES} bytes)")
        return _checked(key, f"${env}")
    if file:
        try:
            # a device (/dev/urandom: a key kept nowhere, so nothing imported could be joined again) or
            # a FIFO (it would block) is not a key file; nor is a file a key would not fill
            info = os.stat(file)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"the pseudonymization key file {file} is not a regular file: keep the key in "
                                 "a file (e.g. `head -c 32 /dev/urandom | base64 > key`) and name that file")
            if info.st_size > MAX_KEY_FILE_BYTES:
                raise ValueError(f"the pseudonymization key file {file} is over 64 KiB ({info.st_size:,} bytes): "
                                 "is it the right file?")
            with open(file, "rb") as stream:
                key = stream.read(MAX_KEY_FILE_BYTES + 1)
        except OSError as error:
            raise ValueError(f"cannot read the pseudonymization key file {file}: {error.strerror}") from error
        key = key[:-2] if key.endswith(b"\r\n") else key[:-1] if key.endswith(b"\n") else key
        return _checked(key, file)
    return None


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonymization key in {where} has {len(key)} bytes; use at least {MIN_KEY_BYTES} bytes "
                         "(e.g. `head -c 32 /dev/urandom | base64 > key`)")
    if len(set(key)) < 2:  # 16 spaces or 17 newlines: long enough, but anyone could guess it
        raise ValueError(f"the pseudonymization key in {where} is one byte repeated ({len(key)} bytes): use a random key "
                         "(e.g. `head -c 32 /dev/urandom | base64 > key`)")
    return key


class Pseudonymizer:
    """Keyed hashes of ids (HMAC-SHA256, first 16 hex digits): stable for one key, not reversible
    without it. ``Pseudonymizer(None)`` changes nothing; any other key must be long enough."""

    def __init__(self, key: Optional[Union[bytes, str]]):
        if key is None:
            self.key = None
            return
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        self.key = _checked(raw, "use")

    def _hash(self, domain: bytes, value: str) -> str:
        assert self.key is not None
        return hmac.new(self.key, domain + value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def actor(self, value: Optional[str]) -> Optional[str]:
        return value if value is None or self.key is None else "u:" + self._hash(b"", value)

    def item(self, value: Optional[str]) -> Optional[str]:
        return value if value is None or self.key is None else "i:" + self._hash(b"item\0", value)

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.key is None:
            return record
        hashed = {**record, "actor_id": self.actor(record["actor_id"]),
                  "parent_actor_id": self.actor(record["parent_actor_id"]),
                  "event_id": "e:" + self._hash(b"event\0", record["event_id"])}
        for field in _ITEM_FIELDS:
            hashed[field] = self.item(record[field])
        return hashed
