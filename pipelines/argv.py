"""The command line as callers really send it: spelling normalised, leftovers checked against Beam.

In: the raw argv and the command's argparse parser. Out: an argv our parser reads, and, after
parsing, the leftovers that may go to Beam. Why: a Dataflow Flex Template launcher passes each
template parameter as ``--name=value`` with the parameter's name, which a template metadata file
cannot spell with hyphens consistently (``--bootstrap_servers=HOST``), and booleans as
``--streaming=true``. Our options are hyphenated and boolean flags take no value, so such an argv
used to fail (``--streaming=true`` exits 2) or, worse, slip through to Beam as unknown options while
our own option kept its default (a run against ``127.0.0.1:9092``).

* ``normalize``: ``--name_with_underscores[=V]`` becomes ``--name-with-underscores[=V]`` when that is
  one of the command's options (Beam's own underscore options are left alone); ``--flag=true`` of a
  flag becomes ``--flag`` and ``--flag=false`` is dropped.
* ``unknown_to_beam``: the leftovers that are not options of any Beam ``PipelineOptions`` class
  registered in this process; a run refuses them by name rather than letting a misspelling of one
  of our options pass as a Beam option.
"""
from __future__ import annotations

import argparse
import difflib
from typing import Iterable, Optional, Sequence

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def subcommand_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Optional[argparse.ArgumentParser]:
    """The parser of the command ``argv`` names (its first word), or None."""
    name = next((token for token in argv if not token.startswith("-")), None)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return None


def _flags(parser: argparse.ArgumentParser) -> tuple[dict[str, argparse.Action], set[str]]:
    """{option string: action} of ``parser``, and the option strings of its boolean flags."""
    by_option: dict[str, argparse.Action] = {}
    for action in parser._actions:
        for option in action.option_strings:
            by_option[option] = action
    booleans = {o for o, a in by_option.items() if isinstance(a, (argparse._StoreTrueAction, argparse._StoreFalseAction))}
    return by_option, booleans


def normalize(argv: Sequence[str], parser: Optional[argparse.ArgumentParser]) -> list[str]:
    """``argv`` with template spellings of ``parser``'s options rewritten (see the module docstring).

    Raises ValueError for a boolean flag given a value other than true or false."""
    if parser is None:
        return list(argv)
    by_option, booleans = _flags(parser)
    out: list[str] = []
    for index, token in enumerate(argv):
        if token == "--":
            out.extend(argv[index:])
            break
        if not token.startswith("--"):
            out.append(token)
            continue
        name, has_value, value = token.partition("=")
        if name not in by_option and "_" in name and name.replace("_", "-") in by_option:
            name = name.replace("_", "-")
        if name in booleans and has_value:
            if value.lower() in _TRUE:
                out.append(name)
            elif value.lower() not in _FALSE:
                raise ValueError(f"{name} takes true or false, not {value!r}")
            continue
        out.append(f"{name}={value}" if has_value else name)
    return out


def _beam_parser() -> argparse.ArgumentParser:
    """One parser holding the options of every Beam PipelineOptions class registered in this process
    (Beam's own, and any a library defined), built as Beam builds its own."""
    from apache_beam.options import pipeline_options

    parser = pipeline_options._BeamArgumentParser(allow_abbrev=False, conflict_handler="resolve")
    seen: dict[str, type] = {}
    pending = list(pipeline_options.PipelineOptions.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # a subclass may re-declare an option: "resolve" keeps the last
    return parser


def unknown_to_beam(leftovers: Sequence[str]) -> list[str]:
    """The option names in ``leftovers`` that no Beam PipelineOptions class declares."""
    if not leftovers:
        return []
    parser = _beam_parser()
    _, unknown = parser.parse_known_args(list(leftovers))
    return option_names(unknown)  # an unknown option's value is not worth naming; a stray word is


def unknown_option_message(unknown: Iterable[str], ours: argparse.ArgumentParser, command: str,
                           beam: bool = True) -> str:
    """What to say about options neither ``command`` nor (``beam``: only ``run`` hands options to
    Beam) Beam knows, with the nearest real names."""
    by_option, _ = _flags(ours)
    beam_options = list(_flags(_beam_parser())[0]) if beam else []
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name.replace("_", "-"), list(by_option), n=2) or \
            difflib.get_close_matches(name, beam_options, n=1)
        parts.append(f"{name}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
    return (f"unknown option {', '.join(parts)}: " + (
        f"neither an option of `social-mentors {command}` nor a Beam pipeline option" if beam
        else f"not an option of `social-mentors {command}` (see its --help)"))


def option_names(leftovers: Sequence[str]) -> list[str]:
    """The option names among unparsed arguments, without their values (a value may be a secret:
    `--sasl-password PW` must not echo PW); the words themselves when there is no option."""
    return [token.partition("=")[0] for token in leftovers if token.startswith("-")] or list(leftovers)
