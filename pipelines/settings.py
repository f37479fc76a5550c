"""Run settings of the scoring pipeline, and the duration syntax the CLI accepts ("1d", "6h")."""
from __future__ import annotations

import dataclasses
import re
import time
from typing import Optional

from transforms.score import ScoringConfig

BIGQUERY_WRITES = ("auto", "load", "streaming", "storage", "storage-exactly-once")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


MAX_DURATION_S = 3660 * 86_400.0  # ten years: any longer window or wait is a typo (and overflows Beam's timestamps)


def parse_duration(text: str) -> float:
    """Seconds from '90', '45s', '30m', '6h', '1d' or '2w'; 0 up to ten years (3660d)."""
    text = str(text)
    if text.strip().startswith("-") and _DURATION.match(text.strip()[1:]):
        raise ValueError(f"{text!r} must be positive: a duration such as 45s, 30m, 6h, 1d or 2w")
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: write e.g. 45s, 30m, 6h, 1d or 2w")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{text!r} is too long: at most 3660d (ten years)")
    return seconds


DEFAULT_DEDUPE_HORIZON_S = 14 * 86_400.0


def describe_duration(seconds: float) -> str:
    """``seconds`` in the largest unit that holds it whole, as the CLI writes durations ("14d", "6h",
    "90s"): what a person typed, not 1.2096e+06 s."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and float(seconds) % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def default_dedupe_horizon(window_s: float, allowed_lateness_s: float) -> float:
    """A stream's horizon when none is given: 14 days, or window + allowed lateness when longer."""
    return max(DEFAULT_DEDUPE_HORIZON_S, window_s + allowed_lateness_s)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Everything the pipeline needs besides its source."""

    warehouse: str
    window_s: float = 7 * 86_400.0  # a week: see transforms/windowing.py for why
    allowed_lateness_s: float = 2 * 86_400.0
    dedupe_horizon_s: float = DEFAULT_DEDUPE_HORIZON_S  # streaming only: a bounded run dedupes its whole input
    early_firing_s: Optional[float] = None
    streaming: bool = False
    scoring: ScoringConfig = ScoringConfig()
    # How rows reach BigQuery: "load" (load jobs), "streaming" (insertAll), "storage" (the Storage
    # Write API's default stream), "storage-exactly-once" (its committed streams, offsets in Beam
    # state: transforms/exactly_once_writes.py), or "auto": load jobs for a bounded run, streaming inserts for a
    # stream. The embedded warehouse ignores it.
    bigquery_write: str = "auto"
    # The run's id: when it started, in epoch millis, on every row it writes (pair_scores,
    # dead_letters, run_ledger, runs). None: stamped when the run starts (``started``).
    run_started_at: Optional[int] = None

    def started(self) -> "RunSettings":
        """These settings with the run id stamped now, unless they carry one already."""
        if self.run_started_at is not None:
            return self
        return dataclasses.replace(self, run_started_at=int(time.time() * 1000))

    @property
    def sink_warehouse(self) -> str:
        """The warehouse URL the sinks open: BigQuery's with ``?write=storage`` (or
        ``?write=storage-exactly-once``) for the Storage Write API."""
        if self.bigquery_write.startswith("storage") and self.warehouse.startswith("bigquery://"):
            return f"{self.warehouse}?write={self.bigquery_write}"
        return self.warehouse

    @property
    def bulk_writes(self) -> bool:
        """Whether the sink writes with load jobs (BigQuery) rather than streaming inserts."""
        return self.bigquery_write == "load" or (self.bigquery_write == "auto" and not self.streaming)

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ValueError("--window must be positive")
        if self.allowed_lateness_s < 0:
            raise ValueError("--allowed-lateness cannot be negative")
        if self.streaming and self.dedupe_horizon_s < self.window_s + self.allowed_lateness_s:
            # A re-delivery may come as long as its window can still change, and a thread's state must
            # outlive the wait for a late parent: a shorter horizon would score a late copy twice.
            raise ValueError(
                f"--dedupe-horizon ({describe_duration(self.dedupe_horizon_s)}) must be at least --window + "
                f"--allowed-lateness ({describe_duration(self.window_s + self.allowed_lateness_s)}): give a longer "
                "one, or leave it out to have it raised")
        if self.bigquery_write not in BIGQUERY_WRITES:
            raise ValueError(f"--bigquery-write is {', '.join(BIGQUERY_WRITES)}")
        if self.streaming and self.bigquery_write == "load":
            raise ValueError("--bigquery-write load needs a bounded run: a stream writes with streaming inserts")
