"""The ``social-mentors`` command line: the parser and dispatch. Each command group lives in its own
module under ``pipelines/commands`` (the community and its demos, scoring, Kafka, importing,
warehouse, evaluate, report, status)."""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import NoReturn, Optional, Sequence

from pipelines import argv as argv_rules
from pipelines.logs import configure_logging
from pipelines.commands import community, demo_live, evaluate, importing, kafka, query, report, scoring, status, warehouse
from pipelines.commands.output import write_rows  # noqa: F401  (re-exported for scripts and tests)
from pipelines.commands.query import run_query  # noqa: F401  (re-exported for scripts and tests)

COMMAND_GROUPS = (community, demo_live, scoring, kafka, importing, query, warehouse, evaluate, report, status)  # demo_live extends community's demo


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse printed a command's whole usage (28 lines for ``run``) above the line saying what was
    wrong; every error is one line instead, pointing at ``--help``. Subcommands' parsers are of this
    class too (``add_subparsers`` makes them of its parser's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The parser, and {command name: handler} of every command group."""
    parser = OneLineErrorParser(
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
    _describe_from_help(commands)
    return parser, handlers


def _describe_from_help(commands: argparse._SubParsersAction) -> None:
    """A command without a description of its own shows its one-line help at the top of its --help."""
    helps = {action.dest: action.help for action in commands._choices_actions}
    for name, sub in commands.choices.items():
        if not sub.description and helps.get(name):
            sub.description = helps[name][0].upper() + helps[name][1:] + "."
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe_from_help(action)


# Failures the user can fix (bad input, a path, a refused connection, a service's refusal): exit 2
# and say what to do. Anything else is unexpected: exit 1, and --verbose shows the traceback.
USER_ERRORS = (ValueError, OSError, RuntimeError, NotImplementedError, LookupError)
# Errors of the clients we drive, by their module: (what failed, what to do). kafka-python's
# KafkaError stopped being a RuntimeError in 2.1.
SERVICE_ERRORS = {
    "kafka": ("Kafka", "check --bootstrap-servers, that the broker is up, and the topic"),
    "google": ("BigQuery", "check the project, dataset and credentials of --warehouse; `social-mentors warehouse "
                           "check --warehouse URL` says whether its tables, views and table functions are this "
                           "release's"),
    "duckdb": ("DuckDB warehouse", "check --warehouse; `social-mentors warehouse check --warehouse PATH` says "
                                "whether it is this release's warehouse and what to run"),
}
MAX_MESSAGE = 600


def _service(error: BaseException) -> Optional[tuple[str, str]]:
    return SERVICE_ERRORS.get((type(error).__module__ or "").split(".")[0].lstrip("_"))  # duckdb's are in _duckdb


def _is_xml_error(error: BaseException) -> bool:
    return isinstance(error, SyntaxError) and type(error).__name__ == "ParseError"


def describe(error: BaseException, warehouse: Optional[str] = None) -> str:
    """One line: what failed, where, and what to do (``warehouse``: the command's --warehouse, named
    in the advice)."""
    text = str(error)
    if text.startswith(f"{type(error).__name__}: "):  # kafka-python repeats its class name
        text = text[len(type(error).__name__) + 2:]
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    text = " ".join(text.split())  # Beam and others add lines of context: one line
    service = _service(error)
    if service:  # the service's words are cut, never the advice after them
        advice = service[1].replace("--warehouse URL", f"--warehouse {warehouse}") if warehouse else service[1]
        text = _cut(text, max(0, MAX_MESSAGE - len(advice)))
        return f"{service[0]}: {type(error).__name__}{': ' + text if text else ''}; {advice}"
    if _is_xml_error(error):
        text = f"not well-formed XML ({text}); fix or remove the file"
    elif not isinstance(error, USER_ERRORS):
        text = f"unexpected {type(error).__name__}: {text} (run with --verbose for the traceback, and report it)"
    return _cut(text, MAX_MESSAGE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def exit_code(error: BaseException) -> int:
    return 2 if isinstance(error, USER_ERRORS) or _service(error) or _is_xml_error(error) else 1


def parse(argv: Optional[Sequence[str]] = None, parser: Optional[argparse.ArgumentParser] = None) -> argparse.Namespace:
    """The parsed command line; ``beam_args`` holds what goes to Beam (``run`` only), ``given`` the
    destinations of the options the command line names (a default is not given). Template
    spellings (``--group_id=G``, ``--streaming=true``, Beam's ``--enable_streaming_engine=true``)
    reach their options; an option that is neither ours nor Beam's, or a single-value option given
    twice with different values, exits 2 naming it (see pipelines/argv.py)."""
    parser = parser or build_parser()[0]
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv_rules.subcommand_parser(parser, argv)
    try:
        argv = argv_rules.normalize(argv, command)
    except ValueError as error:
        (command or parser).error(str(error))
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command != "run":
        (command or parser).error(argv_rules.unknown_option_message(
            argv_rules.option_names(beam_args), command or parser, args.command, beam=False))
    try:
        beam_args = argv_rules.beam_booleans(beam_args)
        unknown = argv_rules.unknown_to_beam(beam_args)
    except ValueError as error:
        command.error(str(error))
    if unknown:
        command.error(argv_rules.unknown_option_message(unknown, command, args.command))
    named = argv_rules.given(argv, _innermost(command, args)) if command else []
    twice = argv_rules.repeated(argv, _innermost(command, args)) + argv_rules.repeated_beam(beam_args)
    if twice:
        (command or parser).error(f"{', '.join(twice)} given more than once with different values: give "
                                  f"{'it' if len(twice) == 1 else 'each'} once")
    args.given = list(dict.fromkeys(action.dest for _, action, _ in named))  # in command-line order
    args.beam_args = beam_args
    return args


def _innermost(command: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser whose options the command line gave: ``query mentors``'s, not ``query``'s."""
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(args, action.dest, None)
            if chosen in action.choices:
                return _innermost(action.choices[chosen], args)
    return command


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # before the parser: building it imports modules that log (Beam warns about GCP on import)
    try:
        configure_logging(bool({"-v", "--verbose"} & set(argv)))
        parser, handlers = build_parser()
    except KeyboardInterrupt:  # Ctrl-C while Beam is still importing: nothing has started
        print("interrupted", file=sys.stderr)
        return 130
    args = parse(argv, parser)
    from pipelines.stopping import Terminated, sigterm_interrupts

    try:
        with sigterm_interrupts():
            if isinstance(getattr(args, "warehouse", None), str):  # a folder or a zip fails here, before any work
                from warehouse import check_location

                check_location(args.warehouse)
            return handlers[args.command](args)
    except BrokenPipeError:  # `social-mentors export ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0
    except Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure: one line, a non-zero exit, the traceback only with --verbose
        if args.verbose:
            traceback.print_exc()
        warehouse = getattr(args, "warehouse", None)
        print(f"error: {describe(error, warehouse if isinstance(warehouse, str) else None)}", file=sys.stderr)
        return exit_code(error)


def console_main() -> None:
    """The `social-mentors` command: main's exit code; after a run whose runner died, without
    Python's finalization (see pipelines.stopping.mark_runner_lost), output flushed first."""
    from pipelines.stopping import runner_lost

    code = main()
    if runner_lost():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed (a broken pipe): nothing more to say
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
