"""Every option says what it is and, when it has one, its default; every command has a description."""
import argparse

from pipelines.cli import build_parser


def walk(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}")
        else:
            yield path, parser, action


def test_every_option_has_help_that_states_its_default():
    parser, _ = build_parser()
    missing = []
    for path, _, action in walk(parser, "social-mentors"):
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        name = f"{path} {action.option_strings[-1]}"
        if not action.help:
            missing.append(f"{name}: no help")
        elif action.default not in (None, False, argparse.SUPPRESS) and "default" not in action.help \
                and not isinstance(action, argparse._StoreTrueAction):
            missing.append(f"{name}: default {action.default!r} not stated")
    assert missing == []


def test_every_command_has_a_description():
    parser, _ = build_parser()
    missing = [path for path, sub, action in walk(parser, "social-mentors")
               if action.dest == "help" and not (sub.description or "").strip()]
    assert sorted(set(missing)) == []
