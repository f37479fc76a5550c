"""Where the command's log goes and what reaches the terminal: the project's own records on stderr,
every library's (Beam's import warnings, runner chatter, a worker's traceback) in the log file."""
from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOG = Path.home() / ".cache" / "social-mentors" / "social-mentors.log"


class _OwnRecords(logging.Filter):
    """Lets through what the project's own code logs; the libraries' records (Beam's "Failed to
    import GCSFileSystem" and "apitools not found" at import, runner chatter, Python warnings) are
    not about the user's data, so they go to the log file instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("social_mentors") or (
            record.name != "py.warnings" and Path(record.pathname).resolve().is_relative_to(PROJECT_ROOT)
            and "site-packages" not in Path(record.pathname).parts)


class _QuietBeamWorkerTracebacks:
    """sys.stderr without the tracebacks Beam's SDK worker prints (sdk_worker._execute prints a
    failed instruction's traceback to stderr, then logs it). A drained stream meets one as a race
    ("Bundle is not in a finalizable state") after every result is written; a real failure still
    fails the run and is reported in one line. The traceback stays in the log file (the logged copy)."""

    def __init__(self, stream):
        self._stream = stream
        self._dropped_last = False

    def write(self, text: str) -> int:
        if text.startswith("Traceback (most recent call last):") and "apache_beam/runners/worker" in text:
            self._dropped_last = True
            return len(text)
        if self._dropped_last and text == "\n":  # print()'s end of the dropped traceback
            self._dropped_last = False
            return len(text)
        self._dropped_last = False
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _QuietBeamWorkerThreads:
    """threading.excepthook without the uncaught errors of Beam's SDK worker threads on the console: a
    drained stream ends Prism, and a worker thread still reading from it (``read_state``) dies with
    "StatusCode.UNAVAILABLE ... Connection reset by peer" after every result is written. The error
    goes to the log file, as a record of the Beam frame that raised it (so the console's filter keeps
    it off stderr); any other thread's goes to the previous hook, as before. A real failure still
    fails the run, which says so in one line."""

    def __init__(self, previous):
        self.previous = previous

    def __call__(self, args) -> None:
        frames = traceback.extract_tb(args.exc_traceback) if args.exc_traceback is not None else []
        beam = [f for f in frames if "apache_beam/runners/worker/" in f.filename.replace(os.sep, "/")]
        if not beam:
            return self.previous(args)
        logger = logging.getLogger("apache_beam.runners.worker")
        name = args.thread.name if args.thread is not None else "?"
        logger.handle(logger.makeRecord(logger.name, logging.WARNING, beam[-1].filename, beam[-1].lineno or 0,
                                        "uncaught error in Beam's worker thread %s", (name,),
                                        (args.exc_type, args.exc_value, args.exc_traceback)))


class _PrintableFormatter(logging.Formatter):
    """A record's text with control characters shown as escapes: messages name files and ids the
    user did not choose (a file name can hold ESC or BEL: a terminal would run them)."""

    def format(self, record: logging.LogRecord) -> str:
        from pipelines.commands.output import printable

        return printable(super().format(record), keep_newlines=True)


def log_file() -> Path:
    """Where the libraries' logging goes without --verbose: $SOCIAL_MENTORS_LOG, else the cache."""
    return Path(os.environ.get("SOCIAL_MENTORS_LOG") or DEFAULT_LOG).expanduser()


def configure_logging(verbose: bool) -> None:
    """Before anything imports Beam (its import logs the noise): stderr gets the project's own
    warnings (all of everything with --verbose); the log file gets everything, libraries included."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "social_mentors", False)]:
        root.removeHandler(handler)  # ours from an earlier main() in this process; others' stay (pytest's)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_PrintableFormatter("%(message)s"))
    if not verbose:
        console.addFilter(_OwnRecords())
        try:
            log_file().parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(log_file(), encoding="utf-8", delay=True)
            to_file.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
            to_file.social_mentors = True
            root.addHandler(to_file)
        except OSError:  # an unwritable cache: the noise is dropped, never shown
            pass
    console.social_mentors = True
    root.addHandler(console)
    logging.captureWarnings(True)  # Python warnings of libraries: through the same filter
    progress = logging.getLogger("social_mentors.progress")
    progress.setLevel(logging.INFO)
    for old in list(progress.handlers):
        progress.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter("  progress: %(message)s"))
    progress.addHandler(handler)
    progress.propagate = False
    if not verbose:  # kafka-python logs every refused connection while a broker starts or restarts
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        if not isinstance(sys.stderr, _QuietBeamWorkerTracebacks):
            sys.stderr = _QuietBeamWorkerTracebacks(sys.stderr)
        if not isinstance(threading.excepthook, _QuietBeamWorkerThreads):
            threading.excepthook = _QuietBeamWorkerThreads(threading.excepthook)
    # Beam logs a failed step's traceback before raising it (main() reports the failure in one
    # line) and warns about optional GCP modules on import: both are libraries' records, kept
    # off stderr by _OwnRecords and written to the log file.
