"""Event files, record by record: Avro container files and JSON Lines in, Events and DeadLetters out.

Plain Python (no Beam), so that `run` (through ``ReadEventFiles`` in transforms/decode.py), `produce`
and the tests read files the same way. Every record is hostile until validated, and one bad record
costs one dead letter, never the rest of its file. The format is sniffed from the content; each
format has its reader (``transforms/avro_file.py``, ``transforms/jsonl_file.py``) over the shared
record validation of ``transforms/event_records.py``. A file is known by its identity, not its name,
so that one named twice is read once (``canonical_path``).
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from apache_beam.io.filesystems import FileSystems

from transforms.avro_file import iter_avro_file, unknown_version
from transforms.event_records import (
    AVRO_MAGIC, DEFAULT_LIMITS, MAX_RAW_PAYLOAD, MAX_RECORD_BYTES, DecodeLimits, decode_record, raw_text,
)
from transforms.events import DeadLetter, Event
from transforms.jsonl_file import iter_jsonl_file

__all__ = [  # the readers' public names, from one place
    "AVRO_MAGIC", "DEFAULT_LIMITS", "MAX_RAW_PAYLOAD", "MAX_RECORD_BYTES", "DecodeLimits", "canonical_path",
    "decode_record", "iter_avro_file", "iter_event_file", "iter_jsonl_file", "raw_text", "repeated_paths",
    "unknown_version",
]


def iter_event_file(path: str, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Event | DeadLetter]:
    """Sniff the format (Avro's magic bytes, else JSON Lines) and decode the file."""
    head = stream.read(len(AVRO_MAGIC))
    stream.seek(0)
    if head == AVRO_MAGIC:
        return iter_avro_file(path, stream, limits)
    return iter_jsonl_file(path, stream, limits)


def canonical_path(path: str) -> str:
    """One name per file: a local file by its device and inode (so ".", "..", symbolic and hard links
    name it once), a local path that cannot be read resolved; other filesystems' paths as they are."""
    if "://" in path:
        return path
    try:
        identity = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return f"inode:{identity.st_dev}:{identity.st_ino}"


def repeated_paths(patterns: list[str]) -> dict[str, list[str]]:
    """Files that more than one of ``patterns`` names, each with the patterns that name it."""
    named: dict[str, tuple[str, list[str]]] = {}
    for pattern in patterns:
        try:
            matches = FileSystems.match([pattern])[0].metadata_list
        except Exception:  # a pattern that matches nothing is reported by the pipeline
            continue
        for metadata in matches:
            named.setdefault(canonical_path(metadata.path), (metadata.path, []))[1].append(pattern)
    return {shown_as: by for shown_as, by in named.values() if len(by) > 1}
