"""Shuffle batches, not elements: the bounded pipeline's grouping steps, done per key shard.

Beam's Python SDK pays several microseconds per element at every shuffle: encoding (an Event is a
NamedTuple, which Beam's FastPrimitivesCoder pickles), the runner's grouping buffer, decoding, and
a DoFn call per key. ``GroupInShards`` instead buffers elements inside a bundle, keyed by a
deterministic shard of their grouping key (crc32, the same in every process), and sends one batch
of plain tuples (encoded by Beam's Cython coder) per shard and flush; after the shuffle, each shard's
batches are grouped by the real key in a dict, and each key's values go to the same per-key function
the element-wise transforms use. Results are identical by construction; the element-wise versions
stay as the oracle in the tests (tests/transforms/test_batching.py).

Memory: at most ``max_buffered`` elements are held per bundle before a flush; after the shuffle one
shard's values are held at a time (about 1/``shards`` of the input).
"""
from __future__ import annotations

import zlib
from typing import Any, Callable, Iterable, Optional

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

DEFAULT_SHARDS = 32
MAX_BUFFERED = 20_000


def shard_of(key: Any, shards: int) -> int:
    """A shard for a str key or a tuple of str/int, the same in every process (unlike hash())."""
    text = key if isinstance(key, str) else "\x1f".join(map(str, key))
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % shards


class BufferInShardsFn(beam.DoFn):
    """Elements in; (shard, [wire form, ...]) batches out, one per shard and flush.

    ``combine(buffered, key, element)``, when given, pre-aggregates: the bundle's buffer is then a
    dict key -> accumulator, and a batch a list of (key, accumulator wire form).
    """

    def __init__(self, key_fn: Callable[[Any], Any], to_wire: Callable[[Any], Any], shards: int,
                 combine: Optional[Callable[[dict, Any, Any], None]] = None, max_buffered: int = MAX_BUFFERED):
        self.key_fn = key_fn
        self.to_wire = to_wire
        self.shards = shards
        self.combine = combine
        self.max_buffered = max_buffered

    def start_bundle(self) -> None:
        # combine: one dict key -> accumulator for the bundle, sharded when drained (a key's shard is
        # then computed once per bundle, not once per element); else one list per shard
        self.buffers: Any = {} if self.combine is not None else [[] for _ in range(self.shards)]
        self.buffered = 0

    def process(self, element: Any) -> Iterable[tuple[int, list]]:
        if self.combine is None:
            self.buffers[shard_of(self.key_fn(element), self.shards)].append(self.to_wire(element))
        else:
            self.combine(self.buffers, self.key_fn(element), element)
        self.buffered += 1
        if self.buffered >= self.max_buffered:
            yield from self._drain()

    def _drain(self) -> Iterable[tuple[int, list]]:
        if self.combine is None:
            for shard, buffer in enumerate(self.buffers):
                if buffer:
                    yield shard, buffer
            self.buffers = [[] for _ in range(self.shards)]
        else:
            batches: dict[int, list] = {}
            for key, acc in self.buffers.items():
                batches.setdefault(shard_of(key, self.shards), []).append((key, self.to_wire(acc)))
            yield from batches.items()
            self.buffers = {}
        self.buffered = 0

    def finish_bundle(self) -> Iterable[WindowedValue]:
        for batch in self._drain():
            yield WindowedValue(batch, MIN_TIMESTAMP, [GlobalWindow()])


class GroupInShards(beam.PTransform):
    """Elements (a PCollection, or a tuple of them) -> (shard, iterable of batches): every element of
    one key in the same shard."""

    def __init__(self, key_fn: Callable[[Any], Any], to_wire: Callable[[Any], Any] = tuple,
                 shards: int = DEFAULT_SHARDS, combine: Optional[Callable[[dict, Any, Any], None]] = None):
        super().__init__()
        self.key_fn = key_fn
        self.to_wire = to_wire
        self.shards = shards
        self.combine = combine

    def expand(self, elements: beam.PCollection | tuple) -> beam.PCollection:
        buffer = BufferInShardsFn(self.key_fn, self.to_wire, self.shards, self.combine)
        if isinstance(elements, beam.PCollection):
            batches = elements | "BufferInShards" >> beam.ParDo(buffer)
        else:  # several inputs: flatten their batches, not their elements (a Flatten may be materialized)
            batches = (
                [part | f"BufferInShards{n}" >> beam.ParDo(buffer) for n, part in enumerate(elements)]
                | "AllBatches" >> beam.Flatten()
            )
        return batches | "GroupShards" >> beam.GroupByKey()


def grouped_by_key(batches: Iterable[list], key_fn: Callable[[Any], Any],
                   from_wire: Callable[[Any], Any]) -> dict[Any, list]:
    """The values of one shard's batches, rebuilt and grouped by their real key (in arrival order)."""
    groups: dict[Any, list] = {}
    for batch in batches:
        for wire in batch:
            value = from_wire(wire)
            key = key_fn(value)
            group = groups.get(key)
            if group is None:
                groups[key] = [value]
            else:
                group.append(value)
    return groups
