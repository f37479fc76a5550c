"""Stopping a streaming run: Ctrl-C or SIGTERM drains it, a second signal aborts.

In: a stop switch (a ``threading.Event`` the unbounded source checks, e.g.
``transforms.kafka_source.STOP_READING``). The first SIGINT or SIGTERM sets it: the source ends its
read where it is, the runner's watermark goes to the end of time, every pending window fires and is
written, offsets are committed, and the pipeline finishes normally, so the caller prints its summary
and exits 0. A second signal aborts at once (exit 130), leaving the pending windows unwritten; a second
SIGTERM within ``SAME_STOP_S`` of the first is the same stop (GNU ``timeout`` sends it twice).

The local streaming runner, Prism, is started in a session of its own (``services.prism``), so a
signal meant for the run's process group (a terminal's Ctrl-C, GNU ``timeout``) does not kill it
mid-drain; a Prism that Beam starts itself (a ``--prism_location`` URL) is a child in our group,
started with SIGINT ignored (a Go program keeps an inherited SIG_IGN for SIGINT only). The SDK
workers run in this process (LOOPBACK), which is why a module-level switch reaches the source.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def children_ignore_ctrl_c() -> Iterator[None]:
    """While the runner starts its services: processes started now inherit SIGINT ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def drain_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (the stream drains); a second one aborts the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, float]] = []

    def handle(signum: int, frame: Any) -> None:
        if received and _same_stop(received[0], signum):
            return
        received.append((signum, time.monotonic()))
        if len(received) == 1:
            stop.set()
            print(f"\n{signal.Signals(signum).name}: stopping: reading ends, the pending windows fire and are "
                  f"written, offsets are committed ({_ABORT_HINT[signum]})",
                  file=sys.stderr, flush=True)
            return
        print(f"{signal.Signals(signum).name} again: aborted; pending windows were not written (a restart "
              "recomputes them from Kafka)", file=sys.stderr, flush=True)
        end_runner_children()
        os._exit(130)

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


# GNU timeout (without --foreground) SIGTERMs the command and at once its whole process group, which
# holds the command too: a second SIGTERM this soon after the first is that one stop, not an abort.
SAME_STOP_S = 2.0


_ABORT_HINT = {signal.SIGINT: "press Ctrl-C again to abort without that",
               signal.SIGTERM: f"send SIGTERM again after {SAME_STOP_S:g} s, or press Ctrl-C, to abort without that"}


def _same_stop(first: tuple[int, float], signum: int) -> bool:
    first_signum, at = first
    return signum == first_signum == signal.SIGTERM and time.monotonic() - at < SAME_STOP_S


def end_runner_children() -> None:
    """SIGTERM this process's Prism children (they ignore SIGINT, which Beam would send them)."""
    me = str(os.getpid())
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[1] != me:  # the parent pid
                continue
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if Path(command[0].decode(errors="replace")).name.startswith("prism") and b"--job_port" in command:
                os.kill(int(proc.name), signal.SIGTERM)
        except (OSError, IndexError, ValueError):
            continue


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C's KeyboardInterrupt is: every ``except
    KeyboardInterrupt`` and ``with`` on the way out runs (a bounded run is recorded FAILED, the
    services it started are stopped), where the default action ended the process at once and left
    a Flink job server, its SDK worker pool and the job running (an outside probe)."""


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While a command runs: SIGTERM raises :class:`Terminated` in the main thread. A stream's
    :func:`drain_on_signals` installs its own handler inside this one, and gives this one back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def wrapped_interrupt(error: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (KeyboardInterrupt) or SIGTERM (:class:`Terminated`) behind ``error``, or None. An
    in-process runner (the FnApiRunner, the DirectRunner) runs DoFns in this thread, and Beam wraps an
    interrupt raised in one as ``RuntimeError: KeyboardInterrupt [while running ...]``: the run ended
    exit 1, "NOT balanced", where a portable runner's said "interrupted" (an outside probe)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    first = str(error).strip().split(" [while running", 1)[0].strip()
    if first.endswith(Terminated.__name__):
        return Terminated()
    if first == KeyboardInterrupt.__name__:
        return KeyboardInterrupt()
    return None


_RUNNER_LOST = threading.Event()


def mark_runner_lost() -> None:
    """The runner process is gone under this run (a gRPC error from its job service). Beam's gRPC
    threads are then still attached to it, and Python's finalization with them has aborted the
    process (SIGABRT, "FATAL: exception not rethrown") after the summary was printed: the console
    entry point (``pipelines.cli.console_main``) leaves without finalizing instead."""
    _RUNNER_LOST.set()


def runner_lost() -> bool:
    return _RUNNER_LOST.is_set()


def is_rpc_error(error: object) -> bool:
    """Whether ``error`` is a gRPC error (its status in ``code()``, its message in ``details()``), as
    the runner's job service raises when the runner process is gone; grpc is not imported for this."""
    return callable(getattr(error, "code", None)) and callable(getattr(error, "details", None))


@contextlib.contextmanager
def runner_thread_errors_logged() -> Iterator[None]:
    """A gRPC error in one of Beam's own threads (its job-message reader, when the runner process
    dies) goes to the log, not to the terminal as a traceback: the run's summary names the failure
    in one line. Other threads' errors print as before."""
    import logging

    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if is_rpc_error(args.exc_value):
            logging.getLogger(__name__).info("runner thread %s ended: %s", getattr(args.thread, "name", "?"),
                                             args.exc_value, exc_info=(args.exc_type, args.exc_value,
                                                                       args.exc_traceback))
        else:
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        # A job-message thread still reading may end later, once its runner is stopped: the hook
        # stays while one runs (it only sends gRPC errors to the log).
        if not any(thread.name == JOB_MESSAGES_THREAD for thread in threading.enumerate()):
            threading.excepthook = previous


# Beam's portable runner reads a job's messages in a thread of this name (portable_runner.py).
JOB_MESSAGES_THREAD = "wait_until_finish_read"
