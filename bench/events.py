"""Synthetic events for the benchmark: exactly N records, to Avro and to a Parquet copy for DuckDB.

The community grows by sites, not by people (``CommunitySpec.scaled`` grows authors and readers
together, so thread length and the event count grow quadratically): each site is the demo's community
shape (about 1,600 events, duplicates, replies before their parents, orphans), with its own seed and
name, so time per event should stay flat as N grows. The Parquet copy carries ``seq``, the record's
position in the Avro file, so a SQL query can keep the first copy delivered of each event_id.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from producers.event_files import write_events
from producers.synthetic import CommunitySpec, generate_community

COLUMNS = ("event_id", "kind", "site", "thread_id", "item_id", "parent_id", "actor_id", "parent_actor_id",
           "created_at", "parent_created_at")


def _renamed(value: Any, site: str) -> Any:
    return site + value[len("blog-1"):] if isinstance(value, str) and value.startswith("blog-1") else value


def iter_events(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``count`` events, one synthetic site after another."""
    produced = 0
    index = 0
    while produced < count:
        index += 1
        site = f"site-{index}"
        community = generate_community(dataclasses.replace(CommunitySpec(seed=seed * 100_003 + index), sites=1))
        for record in community.events:
            if produced == count:
                return
            yield {k: _renamed(v, site) if k in ("event_id", "site", "actor_id", "parent_actor_id") else v
                   for k, v in record.items()}
            produced += 1


def write_bench_events(count: int, avro_path: Path, parquet_path: Path, seed: int = 1) -> int:
    """Write ``count`` events to ``avro_path`` and the same, with ``seq``, to ``parquet_path``."""
    return write_events_with_seq(iter_events(count, seed), avro_path, parquet_path)


def write_events_with_seq(records: Iterator[dict[str, Any]], avro_path: Path, parquet_path: Path) -> int:
    """Write records to ``avro_path`` and the same, with ``seq`` (the record's number in the Avro file,
    from 1), to ``parquet_path``, for bench/reference.py."""
    columns: dict[str, list] = {name: [] for name in COLUMNS}

    def kept(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            for name in COLUMNS:
                columns[name].append(record[name])
            yield record

    written = write_events(avro_path, kept(records))
    table = pa.table({"seq": pa.array(range(1, written + 1), pa.int64()),
                      **{name: pa.array(values) for name, values in columns.items()}})
    pq.write_table(table, parquet_path)
    return written
