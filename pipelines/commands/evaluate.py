"""``evaluate``: measure the relationship strength against next month's exchanges and an outside signal."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from pipelines.commands.options import add_warehouse


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    evaluate = commands.add_parser(
        "evaluate", help="how well the strength predicts next month's two-way exchanges, against baselines",
        description="For each month M, rank every pair active by the end of M by its strength as of then and "
                    "label it by a two-way exchange in M+1; print ROC AUC and precision at 10 and 100 for the "
                    "strength and the baselines. With --actors, check the mentor side against an outside signal.")
    evaluate.add_argument("--site", default=None, help="one site (default: every site)")
    evaluate.add_argument("--half-life-days", type=float, default=None, help="decay half-life (default 14)")
    evaluate.add_argument("--period", default="month",
                          help="how far ahead to predict: month (calendar months, default) or a duration such as 7d")
    evaluate.add_argument("--actors", default=None, metavar="FILE",
                          help='JSONL of {"actor_id": ..., "signal": NUMBER[, "site": ..., "name": ...]}, '
                               "e.g. from `import stackexchange --actors-out FILE`")
    add_warehouse(evaluate)
    return {"evaluate": cmd_evaluate}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from analysis.evaluate import evaluate, read_actors
    from pipelines.commands.names import note_differing
    from pipelines.commands.warehouse import require_warehouse
    from transforms.score import ScoringConfig
    from warehouse import open_warehouse

    require_warehouse(args.warehouse)
    actors = None
    if args.actors:
        differing: list = []
        actors = read_actors(Path(args.actors), differing)
        note_differing(args.actors, differing, "signal")  # as `warehouse load-actors` says it
    from pipelines.settings import parse_duration

    half_life = args.half_life_days or ScoringConfig().decay_half_life_days
    period_s = None if args.period == "month" else parse_duration(args.period)
    print(f"Evaluating {args.warehouse} (half-life {half_life:g} days) ...", file=sys.stderr)
    result = evaluate(open_warehouse(args.warehouse, read_only=True), args.site, half_life, actors, period_s)
    print(result.render())
    return 0
