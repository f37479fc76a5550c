"""Opening the embedded warehouse's DuckDB file: one process at a time may hold it, so every
operation opens it, works and closes it again, and a busy file is waited for (saying so once)."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Iterator

import duckdb

# DuckDB lets one process at a time hold a file. Every operation opens the file, works and closes
# it again, so a streaming pipeline (the writer) and an analyst's query (a reader in another
# process) take turns instead of one locking the other out for hours; a busy file is retried.
_LOCK = threading.RLock()
_HELD: dict[str, duckdb.DuckDBPyConnection] = {}  # path -> the connection held() keeps open (under _LOCK)
LOCK_RETRY_S = 60.0
LOCK_QUIET_S = 2.0  # how long a wait for the lock goes unannounced
_progress = logging.getLogger("social_mentors.progress")


@contextlib.contextmanager
def connect(path: str, retry_s: float = LOCK_RETRY_S, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """An open connection to the warehouse file; closed afterwards. It creates nothing: a new file
    gets its tables when a DuckDBWarehouse opens it for writing (``_create_if_new``). ``read_only``
    opens it for reading only (a read-only file or mount, a shared lock). Inside ``held(path)``, the
    holding thread gets the held connection, left open."""
    deadline = time.monotonic() + retry_s
    said_waiting_at = time.monotonic() + LOCK_QUIET_S
    with _LOCK:
        held = _HELD.get(path)
        if held is not None:  # only the thread holding it gets here while it is held (_LOCK)
            yield held
            return
        while True:
            try:
                connection = duckdb.connect(path, read_only=read_only)
                break
            except duckdb.IOException as error:
                locked = "lock" in str(error).lower()
                if locked and said_waiting_at is not None and time.monotonic() >= said_waiting_at:
                    # a reader waiting out a writer said nothing for a minute
                    _progress.info("the warehouse %s is locked by another process (a run writing to it); "
                                   "waiting up to %.0f s more", path, max(0.0, deadline - time.monotonic()))
                    said_waiting_at = None
                if not locked or time.monotonic() > deadline:
                    mode = "for reading" if read_only else "for writing"
                    advice = ("another process holds it: wait for it, or pass a different --warehouse PATH" if locked
                              else "check that the folder exists and is writable, or pass a different --warehouse PATH"
                              if not read_only else "check the path and its permissions")
                    raise RuntimeError(f"cannot open the warehouse {path} {mode}: {advice} ({error})") from error
                time.sleep(0.05)
        try:
            yield connection
        finally:
            connection.close()


@contextlib.contextmanager
def held(path: str) -> Iterator[None]:
    """Keep one connection to ``path`` open for a series of writes: every ``connect(path)`` of this
    thread inside it gets that connection, and it is closed once, at the end.

    Why: closing a written DuckDB file checkpoints it, and a checkpoint writes the whole primary-key
    index out again. A bounded run that opened the file once per 10,000-row batch rewrote a growing
    index 70 times at 1M events: half of its pair_scores write time (README, "Speed and scale").
    Other threads of this process wait on the lock meanwhile, as for any open connection, and other
    processes on the file lock: keep a hold short (``transforms.sink.HOLD_MAX_S``)."""
    with connect(path) as connection:
        _HELD[path] = connection
        try:
            yield
        finally:
            del _HELD[path]
