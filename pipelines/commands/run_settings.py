"""What `run`'s options mean: the run's settings (windows, dedupe horizon, score constants), the
record limits, and which source an option belongs to (one given to the other source is refused)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from pipelines.commands.options import add_kafka_options


def decode_limits(args: argparse.Namespace):
    from transforms.decode import DecodeLimits

    return DecodeLimits(max_record_bytes=args.max_record_bytes, max_id_length=args.max_id_length)


def run_settings(args: argparse.Namespace, streaming: bool = False):
    from pipelines.settings import RunSettings, parse_duration
    from transforms.score import ScoringConfig

    overrides: dict[str, Any] = {}
    if args.comment_saturation is not None:
        overrides["comment_saturation"] = args.comment_saturation
    if args.latency_scale is not None:
        overrides["latency_scale_s"] = parse_duration(args.latency_scale)
    if args.speed_weight is not None:
        overrides["speed_weight"] = args.speed_weight
    window_s, allowed_lateness_s = parse_duration(args.window), parse_duration(args.allowed_lateness)
    return RunSettings(
        warehouse=args.warehouse,
        window_s=window_s,
        allowed_lateness_s=allowed_lateness_s,
        dedupe_horizon_s=_dedupe_horizon(args.dedupe_horizon, window_s, allowed_lateness_s, streaming),
        early_firing_s=parse_duration(args.early_firing),
        streaming=streaming,
        scoring=ScoringConfig(**overrides),
        bigquery_write=args.bigquery_write,
    )


def _dedupe_horizon(given: Optional[str], window_s: float, allowed_lateness_s: float, streaming: bool) -> float:
    """--dedupe-horizon in seconds. Only a stream remembers (a bounded run dedupes its whole input);
    one not given is 14d, raised to window + allowed lateness when that is longer, and a stream says so."""
    from pipelines.settings import DEFAULT_DEDUPE_HORIZON_S, default_dedupe_horizon, describe_duration, parse_duration

    if given is not None:
        return parse_duration(given)
    horizon = default_dedupe_horizon(window_s, allowed_lateness_s)
    if streaming and horizon > DEFAULT_DEDUPE_HORIZON_S:
        print(f"  note: --dedupe-horizon {describe_duration(horizon)} (window + allowed lateness), longer than the "
              f"default {describe_duration(DEFAULT_DEDUPE_HORIZON_S)}: ids and threads are remembered that long",
              file=sys.stderr)
    return horizon


# Options only one source reads (by argparse dest): given to the other, they were ignored silently.
FILE_ONLY = {"input": "--input"}
KAFKA_ONLY = {"group_id": "--group-id", "until_end": "--until-end", "stop_at": "--stop-at", "streaming": "--streaming",
              "idle_timeout": "--idle-timeout", "max_out_of_orderness": "--max-out-of-orderness",
              "kafka_timeout": "--kafka-timeout", "heartbeat": "--heartbeat"}


def _kafka_only() -> dict[str, str]:
    """KAFKA_ONLY with the options every Kafka client takes (add_kafka_options: servers, topic,
    schema ids, TLS and SASL)."""
    probe = argparse.ArgumentParser(add_help=False)
    add_kafka_options(probe)
    return {**{a.dest: a.option_strings[0] for a in probe._actions}, **KAFKA_ONLY}


def check_source_options(args: argparse.Namespace) -> None:
    """Refuse, in one line, options of the source the run does not read. Only options the command
    line names count (``args.given``, set by cli.parse): a default from the environment is no choice."""
    given = getattr(args, "given", [])
    if args.source == "kafka":
        stray = [FILE_ONLY[dest] for dest in given if dest in FILE_ONLY]
        if stray:
            raise ValueError(f"{', '.join(stray)} {'belongs' if len(stray) == 1 else 'belong'} to the file source "
                             f"(--source file), not to --source kafka, which reads --topic on --bootstrap-servers")
        return
    kafka_only = _kafka_only()
    stray = [kafka_only[dest] for dest in given if dest in kafka_only]
    if stray:
        raise ValueError(f"{', '.join(stray)} {'belongs' if len(stray) == 1 else 'belong'} to the Kafka source "
                         f"(--source kafka), not to the file source, which reads --input: add --source kafka or "
                         f"drop {'it' if len(stray) == 1 else 'them'}")
