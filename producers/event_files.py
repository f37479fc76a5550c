"""Write EngagementEvent records to Avro container files or JSON Lines (chosen by file name)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Optional

import fastavro

from schemas import engagement_event_schema


def is_avro_path(path: str | Path) -> bool:
    return str(path).endswith(".avro")


def write_events(path: str | Path, records: Iterable[dict[str, Any]], sync_marker: Optional[bytes] = None) -> int:
    """Write records (timestamps as epoch millis) to ``path``: Avro for ``*.avro``, else JSON Lines.

    An Avro file's sync marker is random unless ``sync_marker`` (16 bytes) is given: a fixed one makes
    the same records give a byte-identical file. Returns how many records were written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0

    def counted(items: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        nonlocal count
        for item in items:
            count += 1
            yield item

    if is_avro_path(path):
        with path.open("wb") as out:
            fastavro.writer(out, engagement_event_schema(), counted(records), codec="deflate",
                            **({"sync_marker": sync_marker} if sync_marker else {}))
    else:
        with path.open("w", encoding="utf-8") as out:
            for record in counted(records):
                out.write(json.dumps(record, separators=(",", ":")))
                out.write("\n")
    return count
