"""The ``social-mentors`` command line: the parser and dispatch. Each command group lives in its own
module under ``pipelines/commands`` (scoring, Kafka, importing, warehouse)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from typing import Optional, Sequence

from pipelines.commands import importing, kafka, scoring, warehouse
from pipelines.commands.output import write_rows  # noqa: F401  (re-exported for scripts and tests)
from pipelines.commands.warehouse import run_query  # noqa: F401  (re-exported for scripts and tests)

COMMAND_GROUPS = (scoring, kafka, importing, warehouse)


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The parser, and {command name: handler} of every command group."""
    parser = argparse.ArgumentParser(
        prog="social-mentors",
        description="Find social mentors: readers who keep commenting and authors who keep answering.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show Beam's own logging too")
    commands = parser.add_subparsers(dest="command", required=True)
    handlers: dict = {}
    for group in COMMAND_GROUPS:
        handlers.update(group.add_commands(commands))
    return parser, handlers


def _configure_logging(verbose: bool) -> None:
    # force: main() may run many times in one process (tests, scripts); each run logs to the stderr it has now
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s", stream=sys.stderr,
                        force=True)
    progress = logging.getLogger("social_mentors.progress")
    progress.setLevel(logging.INFO)
    for old in list(progress.handlers):
        progress.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  progress: %(message)s"))
    progress.addHandler(handler)
    progress.propagate = False
    if not verbose:  # kafka-python logs every refused connection while a broker starts or restarts
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        # Beam logs a failed step's traceback before raising it (main() reports the failure in one
        # line), and warns on the root logger about optional GCP modules on import
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
        for handler in logging.getLogger().handlers:
            handler.addFilter(_not_beam_chatter)


def _not_beam_chatter(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL or f"{os.sep}apache_beam{os.sep}" not in record.pathname


# Failures the user can fix (bad input, a path, a refused connection, a service's refusal): exit 2
# and say what to do. Anything else is unexpected: exit 1, and --verbose shows the traceback.
USER_ERRORS = (ValueError, OSError, RuntimeError, NotImplementedError, LookupError)
# Errors of the clients we drive, by their module: (what failed, what to do). kafka-python's
# KafkaError stopped being a RuntimeError in 2.1.
SERVICE_ERRORS = {
    "kafka": ("Kafka", "check --bootstrap-servers, that the broker is up, and the topic"),
    "google": ("BigQuery", "check the project, dataset and credentials of --warehouse"),
    "duckdb": ("DuckDB warehouse", "check --warehouse; `social-mentors run` creates a warehouse"),
}
MAX_MESSAGE = 600


def _service(error: BaseException) -> Optional[tuple[str, str]]:
    return SERVICE_ERRORS.get((type(error).__module__ or "").split(".")[0].lstrip("_"))  # duckdb's are in _duckdb


def _is_xml_error(error: BaseException) -> bool:
    return isinstance(error, SyntaxError) and type(error).__name__ == "ParseError"


def describe(error: BaseException) -> str:
    """One line: what failed, where, and what to do."""
    text = str(error)
    if text.startswith(f"{type(error).__name__}: "):  # kafka-python repeats its class name
        text = text[len(type(error).__name__) + 2:]
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    service = _service(error)
    if service:
        text = f"{service[0]}: {type(error).__name__}{': ' + text if text else ''}; {service[1]}"
    elif _is_xml_error(error):
        text = f"not well-formed XML ({text}); fix or remove the file"
    elif not isinstance(error, USER_ERRORS):
        text = f"unexpected {type(error).__name__}: {text} (run with --verbose for the traceback, and report it)"
    text = " ".join(text.split())  # Beam and others add lines of context: one line
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ..."


def exit_code(error: BaseException) -> int:
    return 2 if isinstance(error, USER_ERRORS) or _service(error) or _is_xml_error(error) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # before the parser: building it imports modules that log (Beam warns about GCP on import)
    _configure_logging(bool({"-v", "--verbose"} & set(argv)))
    parser, handlers = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    args.beam_args = beam_args
    try:
        return handlers[args.command](args)
    except BrokenPipeError:  # `social-mentors export ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure: one line, a non-zero exit, the traceback only with --verbose
        if args.verbose:
            traceback.print_exc()
        print(f"error: {describe(error)}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
