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
  flag becomes ``--flag`` and ``--flag=false`` is dropped (a flag given both true and false is refused
  first: once dropped, ``repeated`` could not see it); ``--window -5m`` becomes ``--window=-5m``
  (argparse reads a value starting with ``-`` as an option: "expected one argument"), so the
  option's type refuses it with the reason.
* ``beam_booleans``: the same for Beam's flags among the leftovers: ``--enable_streaming_engine=true``
  becomes the bare flag; ``=false`` becomes Beam's negative (``--no_use_public_ips``), or is dropped
  when Beam's default is already off, or is refused when Beam cannot turn the flag off.
* ``repeated``: a single-value option given twice with different values (the last one used to win
  silently); identical repeats and append options pass.
* ``unknown_to_beam``: the leftovers that are not options of any Beam ``PipelineOptions`` class
  registered in this process; a run refuses them by name rather than letting a misspelling of one
  of our options pass as a Beam option.
"""
from __future__ import annotations

import argparse
import difflib
import re
from typing import Iterable, Optional, Sequence

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction)
_NEGATIVE_VALUE = re.compile(r"^-\.?[0-9]")  # -5m, -1, -.5: no option of ours or Beam's looks like it


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


def _takes_one_value(action: argparse.Action) -> bool:
    return isinstance(action, argparse._StoreAction) and action.nargs is None


def normalize(argv: Sequence[str], parser: Optional[argparse.ArgumentParser]) -> list[str]:
    """``argv`` with template spellings of ``parser``'s options rewritten (see the module docstring).

    Raises ValueError for a boolean flag given a value other than true or false, or given both."""
    if parser is None:
        return list(argv)
    by_option, booleans = _flags(parser)
    out: list[str] = []
    flags_given: dict[str, list[tuple[str, bool]]] = {}  # dest: (spelling, value stored), for the repeat check
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token == "--":
            out.extend(argv[index - 1:])
            break
        if not token.startswith("--"):
            out.append(token)
            continue
        name, has_value, value = token.partition("=")
        if name not in by_option and "_" in name and name.replace("_", "-") in by_option:
            name = name.replace("_", "-")
        if name in booleans:
            action = by_option[name]
            on = _boolean(name, value) if has_value else True
            flags_given.setdefault(action.dest, []).append((name, action.const if on else not action.const))
            if has_value:
                if on:
                    out.append(name)
                continue  # =false is dropped below: the repeat check must see it here
        if (not has_value and name in by_option and _takes_one_value(by_option[name]) and index < len(argv)
                and _NEGATIVE_VALUE.match(argv[index])):
            has_value, value = True, argv[index]
            index += 1
        out.append(f"{name}={value}" if has_value else name)
    _refuse_contradictory_flags(flags_given)
    return out


def _refuse_contradictory_flags(flags_given: dict[str, list[tuple[str, bool]]]) -> None:
    """A flag given both on and off (``--streaming=true --streaming=false``): ``=false`` leaves no
    word for ``repeated`` to see, so the last one cannot be told apart from a silent default."""
    for uses in flags_given.values():
        if len({stored for _, stored in uses}) > 1:
            names = " / ".join(dict.fromkeys(name for name, _ in uses))
            raise ValueError(f"{names} given more than once with different values (true and false): give it once")


def _boolean(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"{name} takes true or false, not {value!r}")


def beam_booleans(leftovers: Sequence[str]) -> list[str]:
    """``leftovers`` with Beam's flags given as ``=true``/``=false`` (as a Dataflow template sends
    them) spelled as Beam reads them. Raises ValueError for a value other than true or false, and
    for ``=false`` of a flag Beam cannot turn off (dropping it would leave it on, silently)."""
    if not any(token.startswith("--") and "=" in token for token in leftovers):
        return list(leftovers)
    by_option, _ = _flags(_beam_parser())
    by_dest: dict[str, list[tuple[str, argparse.Action]]] = {}
    for option, action in by_option.items():
        by_dest.setdefault(action.dest, []).append((option, action))
    out: list[str] = []
    for index, token in enumerate(leftovers):
        if token == "--":
            out.extend(leftovers[index:])
            break
        name, has_value, value = token.partition("=")
        action = by_option.get(name) if token.startswith("--") and has_value else None
        if not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            out.append(token)
            continue
        wanted = action.const if _boolean(name, value) else not action.const
        if wanted == action.const:
            out.append(name)
            continue
        opposite = [option for option, other in by_dest[action.dest] if isinstance(other, _FLAGS) and other.const == wanted]
        if opposite:
            out.append(opposite[0])
        elif action.default is not None and bool(action.default) == wanted:
            continue  # Beam's default is already what was asked
        else:
            raise ValueError(f"{token}: Beam has no option that sets {action.dest} to {wanted} "
                             f"(its default is {action.default}); leave {name} out or set it true")
    return out


def repeated(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """Single-value options of ``parser`` that ``argv`` gives more than once with different values
    (each named by its spellings in ``argv``), compared as written (durations by their seconds,
    numbers by value). Flags that share a destination (``--use_public_ips``,
    ``--no_use_public_ips``) count as one option."""
    seen: dict[str, list[tuple[str, object]]] = {}
    for option, action, value in given(argv, parser):
        if not isinstance(action, (argparse._StoreAction, *_FLAGS)):
            continue  # append, count, and Beam's own accumulating actions (--experiments) are meant to repeat
        seen.setdefault(action.dest, []).append((option, _meaning(action, value)))
    return [" / ".join(dict.fromkeys(option for option, _ in uses)) for uses in seen.values()
            if len({repr(value) for _, value in uses}) > 1]


def _meaning(action: argparse.Action, value: object) -> object:
    """A duration's seconds (``7d`` and ``168h`` are one window), a number's value (``1`` and ``01``
    are one parallelism, ``--top 3`` and ``03`` one count); any other value as written. Only Python's
    number types and our own parsers are applied (another type may do work: ``argparse.FileType``
    opens its file), and only a number they return counts (a time relative to now would differ)."""
    if not isinstance(value, str):
        return value
    if getattr(action.type, "__name__", "") == "duration":
        from pipelines.settings import parse_duration

        convert = parse_duration
    elif action.type in (int, float) or getattr(action.type, "__module__", "").startswith("pipelines."):
        convert = action.type
    else:
        return value
    try:
        meant = convert(value)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        return value  # argparse names it
    return meant if isinstance(meant, (int, float)) and not isinstance(meant, bool) else value


def repeated_beam(leftovers: Sequence[str]) -> list[str]:
    """``repeated`` for Beam's options among the leftovers (``--runner=A --runner B``)."""
    return repeated(leftovers, _beam_parser()) if leftovers else []


def given(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action, object]]:
    """(option string, action, value as written) of each option of ``parser`` in ``argv``, in order;
    a flag's value is what it stores. Words that are no option of ``parser`` are skipped."""
    by_option, _ = _flags(parser)
    found: list[tuple[str, argparse.Action, object]] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token == "--":
            break
        name, has_value, value = token.partition("=")
        action = by_option.get(name) if token.startswith("-") else None
        if action is None or isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, _FLAGS):
            found.append((name, action, action.const))
            continue
        if not has_value and action.nargs in (None, "?") and index < len(argv) and (
                action.nargs is None or not argv[index].startswith("-")):
            value = argv[index]
            index += 1
        found.append((name, action, value))
    return found


class _BeamArgumentError(ValueError):
    """A Beam option with a value Beam's parser refuses."""


def _beam_parser() -> argparse.ArgumentParser:
    """One parser holding the options of every Beam PipelineOptions class registered in this process
    (Beam's own, and any a library defined), built as Beam builds its own; its errors raise
    ValueError (Beam's own parser prints its 200-line usage and exits)."""
    from apache_beam.options import pipeline_options

    class Parser(pipeline_options._BeamArgumentParser):
        def error(self, message: str):
            raise _BeamArgumentError(message)

    parser = Parser(allow_abbrev=False, conflict_handler="resolve")
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
    """The option names in ``leftovers`` that no Beam PipelineOptions class declares. Raises
    ValueError for a Beam option whose value Beam refuses."""
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
        else f"not an option of `social-mentors {command}`"))  # the parser's error line points at --help


def option_names(leftovers: Sequence[str]) -> list[str]:
    """The option names among unparsed arguments, without their values (a value may be a secret:
    `--sasl-password PW` must not echo PW); the words themselves when there is no option."""
    return [token.partition("=")[0] for token in leftovers if token.startswith("-")] or list(leftovers)
