"""Event files in ranges, so that the workers of a run share one big file: plan a file's ranges,
then decode each range apart (``ReadEventFiles`` in transforms/decode.py spreads them over workers).

A range gives exactly what reading the file whole gives for its part, origins included:

* Avro: a run of whole steps of the file's walk (``transforms.avro_blocks.walk_blocks``: a block and
  its sync marker, or, after damage, the bytes up to the next sync marker), planned from the block
  headers alone (no record is decoded), with the record and block numbers a whole read reaches there.
  Damage is handled inside its step as a whole read does. One limit: a block whose record count
  disagrees with its data while its framing and sync marker are intact (a writer's bug, or damage
  inside the data) moves a whole read's numbering by other than its count, which only decoding the
  records tells (planning reads none); a later range still numbers its records by the block counts,
  so their numbers can differ from a whole read's after such a block (their records do not).
* JSON Lines: byte ranges cut after a newline, each with the number of its first line (lines are
  counted, not parsed). A line longer than a range stays in one range.

A small file is one range, read as before (``iter_event_file``).
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from transforms.avro_blocks import walk_blocks
from transforms.avro_file import AvroSpan, framed_count, iter_avro_file, read_header
from transforms.event_files import iter_event_file
from transforms.event_records import AVRO_MAGIC, DEFAULT_LIMITS, DecodeLimits
from transforms.events import DeadLetter, Event
from transforms.jsonl_file import iter_jsonl_file

SCAN_CHUNK = 1 << 20  # JSON Lines are counted this many bytes at a time


class RangeSize(NamedTuple):
    """A range ends at the first place it can after holding this many records or bytes."""

    records: int = 25_000
    bytes: int = 16 << 20


DEFAULT_RANGE_SIZE = RangeSize()


class FileRange(NamedTuple):
    """One range of a file: bytes ``start``..``stop`` read as ``kind`` ("avro", "jsonl", or "whole":
    the file as one range, its format sniffed as before)."""

    path: str
    kind: str
    start: int
    stop: int
    first: int  # Avro: the records before the range; JSON Lines: the number of its first line
    blocks_before: int  # Avro: the blocks before the range (dead letters name their block)
    index: int
    count: int  # the file's ranges

    def describe(self) -> str:
        return self.path if self.count == 1 else f"{self.path} (part {self.index + 1} of {self.count})"


def plan_ranges(path: str, stream: Any, size: RangeSize = DEFAULT_RANGE_SIZE) -> list[FileRange]:
    """The ranges of a file, in order; one ("whole") when it is small or its Avro header is unreadable."""
    head = stream.read(len(AVRO_MAGIC))
    stream.seek(0)
    if head == AVRO_MAGIC:
        kind = "avro"
        try:
            spans = [tuple(span) for span in _plan_avro(stream, size)]
        except Exception:  # an unreadable header: the whole read dead-letters it as before
            spans = []
    else:
        kind, spans = "jsonl", [(start, stop, first, 0) for start, stop, first in _plan_jsonl(stream, size)]
    if len(spans) < 2:
        return [FileRange(path, "whole", 0, -1, 0, 0, 0, 1)]
    return [FileRange(path, kind, *span, index, len(spans)) for index, span in enumerate(spans)]


def iter_range(file_range: FileRange, stream: Any, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Event | DeadLetter]:
    """The items of one range of a file, from ``stream`` (the file, opened anew)."""
    r = file_range
    if r.kind == "avro":
        stream.seek(0)  # the header first: it has the schema and the sync marker
        return iter_avro_file(r.path, stream, limits, AvroSpan(r.start, r.stop, r.first, r.blocks_before))
    if r.kind == "jsonl":
        stream.seek(r.start)
        return iter_jsonl_file(r.path, _Bounded(stream, r.stop - r.start), limits, r.first)
    return iter_event_file(r.path, stream, limits)


def _plan_avro(stream: Any, size: RangeSize) -> list[AvroSpan]:
    """Spans of whole steps, from the block headers: each holds ``size`` or a little more."""
    header = read_header(stream)
    spans, start, records, blocks = [], header.first, 0, 0
    span_records, span_blocks = 0, 0
    for step in walk_blocks(stream, header.first, header.file_size, header.file_size, header.sync):
        if step.blocks is None:  # one UNCOUNTED_RECORDS dead letter stands for the step's bytes
            records, blocks = records + 1, blocks + 1
        else:
            records += sum(framed_count(header.codec, block) for block in step.blocks)
            blocks += len(step.blocks)
        full = records - span_records >= size.records or step.after - start >= size.bytes
        if full and step.after < header.file_size:
            spans.append(AvroSpan(start, step.after, span_records, span_blocks))
            start, span_records, span_blocks = step.after, records, blocks
    spans.append(AvroSpan(start, header.file_size, span_records, span_blocks))
    return spans


def _plan_jsonl(stream: Any, size: RangeSize) -> list[tuple[int, int, int]]:
    """(start, stop, first line) of each range, cut after a newline; lines counted, never parsed."""
    ranges: list[tuple[int, int, int]] = []
    start, first_line, lines, at = 0, 1, 0, 0  # lines: newlines since start; at: where chunk starts
    while True:
        chunk = stream.read(SCAN_CHUNK)
        if not chunk:
            break
        offset = 0
        while True:
            rest = chunk.count(b"\n", offset)
            if lines + rest < size.records and at + len(chunk) - start < size.bytes:
                lines += rest  # no cut in the rest of this chunk
                break
            newline = chunk.find(b"\n", offset)  # step line by line to the cut
            if newline < 0:
                break
            lines, offset = lines + 1, newline + 1
            if lines >= size.records or at + offset - start >= size.bytes:
                ranges.append((start, at + offset, first_line))
                start, first_line, lines = at + offset, first_line + lines, 0
        at += len(chunk)
    if start < at or not ranges:
        ranges.append((start, at, first_line))
    return ranges


class _Bounded:
    """The bytes of a stream up to ``limit`` from where it stands, for the line reader."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream, self.left = stream, limit

    def readline(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        line = self.stream.readline(self.left if size < 0 else min(size, self.left))
        self.left -= len(line)
        return line
