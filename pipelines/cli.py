"""The ``social-mentors`` command line: the parser and dispatch. Each command group lives in its own
module under ``pipelines/commands`` (scoring, Kafka, importing, warehouse, evaluate)."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from pipelines.commands import evaluate, importing, kafka, scoring, warehouse
from pipelines.commands.output import write_rows  # noqa: F401  (re-exported for scripts and tests)
from pipelines.commands.warehouse import run_query  # noqa: F401  (re-exported for scripts and tests)

COMMAND_GROUPS = (scoring, kafka, importing, warehouse, evaluate)


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
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s", stream=sys.stderr)
    progress = logging.getLogger("social_mentors.progress")
    progress.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  progress: %(message)s"))
    progress.addHandler(handler)
    progress.propagate = False
    if not verbose:  # kafka-python logs every refused connection while a broker starts or restarts
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser, handlers = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    args.beam_args = beam_args
    _configure_logging(args.verbose)
    try:
        return handlers[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError, NotImplementedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `social-mentors export ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
