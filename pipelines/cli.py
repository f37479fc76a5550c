"""The ``social-mentors`` command line: the parser and dispatch. Each command group lives in its own
module under ``pipelines/commands`` (scoring, Kafka, importing, warehouse)."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from pipelines import argv as argv_rules
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
    for command in commands.choices.values():
        # No abbreviations: `run` hands unknown options to Beam, and a prefix of ours (`--stream`)
        # must be refused by name, not read as ours or Beam's by accident.
        command.allow_abbrev = False
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


def parse(argv: Optional[Sequence[str]] = None, parser: Optional[argparse.ArgumentParser] = None) -> argparse.Namespace:
    """The parsed command line; ``beam_args`` holds what goes to Beam (``run`` only). Template
    spellings (``--group_id=G``, ``--streaming=true``) reach our options; an option that is neither
    ours nor Beam's exits 2 naming it (see pipelines/argv.py)."""
    parser = parser or build_parser()[0]
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv_rules.subcommand_parser(parser, argv)
    try:
        argv = argv_rules.normalize(argv, command)
    except ValueError as error:
        (command or parser).error(str(error))
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    unknown = argv_rules.unknown_to_beam(beam_args)
    if unknown:
        command.error(argv_rules.unknown_option_message(unknown, command, args.command))
    args.beam_args = beam_args
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser, handlers = build_parser()
    args = parse(argv, parser)
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
