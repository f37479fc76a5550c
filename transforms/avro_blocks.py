"""The framing of Avro container files, read by hand: the header, blocks (count, size, data, sync
marker), the next sync marker after damage, and the codecs.

In: a seekable binary stream. Out: where each block's records lie, or None where the bytes do not
frame as blocks. Why by hand and not through fastavro: a damaged block must cost its own records
only, so ``transforms.avro_file`` needs to know where a block ends and where the file's next sync
marker is, which fastavro's reader does not say.
"""
from __future__ import annotations

import io
import zlib
from typing import Any, Iterator, NamedTuple, Optional

import fastavro

from transforms.event_records import AVRO_MAGIC

SYNC_SIZE = 16
HEADER_SCHEMA = fastavro.parse_schema({
    "type": "record", "name": "org.apache.avro.file.Header",
    "fields": [
        {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": len(AVRO_MAGIC)}},
        {"name": "meta", "type": {"type": "map", "values": "bytes"}},
        {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": SYNC_SIZE}},
    ],
})
SCAN_CHUNK = 1 << 16  # a damaged file is scanned for its next sync marker this many bytes at a time


class BlockFraming(NamedTuple):
    """A block as its header describes it: records, where its data is, and whether the file's sync
    marker follows the data."""

    count: int
    start: int  # offset of the block (its header)
    data_start: int
    data_end: int
    synced: bool


def read_long(stream: Any) -> Optional[int]:
    """An Avro long (zigzag varint); None at the end of the stream; ValueError when cut or too long."""
    value = shift = 0
    for position in range(10):
        byte = stream.read(1)
        if not byte:
            if position == 0:
                return None
            raise ValueError("the file ends inside a block header")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (value >> 1) ^ -(value & 1)
        shift += 7
    raise ValueError("a block header number is longer than 10 bytes")


def frame_block(stream: Any, start: int, file_size: int, sync: bytes) -> Optional[BlockFraming]:
    """The block at ``start``, when its header is plausible and its data lies inside the file; None
    otherwise (or at the end of the file)."""
    stream.seek(start)
    try:
        count, size = read_long(stream), read_long(stream)
    except ValueError:
        return None
    if count is None or size is None or count < 0 or size < 0:
        return None
    data_start = stream.tell()
    data_end = data_start + size
    if data_end > file_size:
        return None
    stream.seek(data_end)
    return BlockFraming(count, start, data_start, data_end, stream.read(SYNC_SIZE) == sync)


def next_sync(stream: Any, start: int, sync: bytes) -> Optional[int]:
    """Offset of the first sync marker at or after ``start``; None when there is none."""
    stream.seek(start)
    carry, carry_at = b"", start
    while True:
        chunk = stream.read(SCAN_CHUNK)
        if not chunk:
            return None
        window = carry + chunk
        found = window.find(sync)
        if found >= 0:
            return carry_at + found
        keep = min(len(window), SYNC_SIZE - 1)
        carry_at += len(window) - keep
        carry = window[len(window) - keep:]


def chain_blocks(stream: Any, start: int, end: int, file_size: int, sync: bytes, marker_at_end: bool) -> Optional[list]:
    """Blocks that exactly fill ``start``..``end`` (the next sync marker, or the end of the file), each
    but the last followed by 16 bytes that should have been the sync marker; None when the bytes do not
    frame as blocks: then their records cannot be counted."""
    blocks, at = [], start
    while at < end:
        framing = frame_block(stream, at, file_size, sync)
        if framing is None:
            return None
        blocks.append(framing)
        if marker_at_end and framing.data_end == end:
            return blocks
        at = framing.data_end + SYNC_SIZE
        if not marker_at_end and at == end:
            return blocks
    return None


def decompress(codec: str, raw: bytes) -> bytes:
    if codec == "null":
        return raw
    if codec == "deflate":
        return zlib.decompressobj(-15).decompress(raw)
    from fastavro._read_py import BLOCK_READERS  # other codecs: fastavro's own readers
    from fastavro.io.binary_decoder import BinaryDecoder

    size, prefix = (len(raw) << 1), bytearray()  # the block's data as fastavro reads it: size, then bytes
    while True:
        prefix.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
        size >>= 7
        if not size:
            break
    return BLOCK_READERS[codec](BinaryDecoder(io.BytesIO(bytes(prefix) + raw))).getvalue()


class Step(NamedTuple):
    """One step of a file's walk: a block followed by the sync marker, or (after damage) the bytes up to
    the next sync marker, as blocks when they frame as blocks (``blocks``), else uncounted (None)."""

    at: int
    after: int  # where the next step starts
    blocks: Optional[list]
    marker_at: Optional[int]  # the next sync marker, after damage
    end: int  # where the step's bytes end (its sync marker, when it has one, follows)
    why: str


def walk_blocks(stream: Any, at: int, stop: int, file_size: int, sync: bytes) -> Iterator[Step]:
    """The steps of a file from ``at`` up to ``stop``. The walk depends on ``at`` only, so a walk that
    starts where another one stepped takes the same steps from there: a file can be read in ranges
    that start and stop on step boundaries (``transforms.file_ranges``)."""
    while at < stop:
        framing = frame_block(stream, at, file_size, sync)
        if framing is not None and framing.synced:
            step = Step(at, framing.data_end + SYNC_SIZE, [framing], None, framing.data_end, "")
        else:
            marker_at = next_sync(stream, at + 1, sync)
            end = marker_at if marker_at is not None else file_size
            blocks = chain_blocks(stream, at, end, file_size, sync, marker_at is not None)
            why = "up to the next sync marker" if marker_at is not None else "up to the end of the file"
            if blocks is None:
                after = end + SYNC_SIZE if marker_at is not None else file_size
            else:
                after = blocks[-1].data_end + SYNC_SIZE
            step = Step(at, after, blocks, marker_at, end, why)
        yield step
        at = step.after
