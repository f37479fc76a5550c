"""Write EngagementEvent records to Avro container files or JSON Lines (chosen by file name)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Optional

import fastavro

from schemas import engagement_event_schema
from services.outfile import replacing


def is_avro_path(path: str | Path) -> bool:
    return str(path).endswith(".avro")


def write_events(path: str | Path, records: Iterable[dict[str, Any]], sync_marker: Optional[bytes] = None,
                 force: bool = True) -> int:
    """Write records (timestamps as epoch millis) to ``path``: Avro for ``*.avro``, else JSON Lines.

    An Avro file's sync marker is random unless ``sync_marker`` (16 bytes) is given: a fixed one makes
    the same records give a byte-identical file. The file is written whole or not at all and a
    symlink at ``path`` is replaced, never followed; an existing file is replaced only with ``force``
    (see :mod:`services.outfile`). Returns how many records were written.
    """
    with replacing(path, force) as out:
        return write_event_stream(out, is_avro_path(path), records, sync_marker)


def write_event_stream(out: BinaryIO, avro: bool, records: Iterable[dict[str, Any]],
                       sync_marker: Optional[bytes] = None) -> int:
    """Write records to the binary file ``out``, Avro or JSON Lines; returns how many."""
    count = 0

    def counted(items: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        nonlocal count
        for item in items:
            count += 1
            yield item

    if avro:
        fastavro.writer(out, engagement_event_schema(), counted(records), codec="deflate",
                        **({"sync_marker": sync_marker} if sync_marker else {}))
    else:
        for record in counted(records):
            out.write(json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n")
    return count
