"""Commands of the synthetic community: ``generate`` (its events and ground truth) and ``demo`` (it,
scored on the embedded default, with how well the planted mentors are found; ``demo --live`` is
``pipelines/commands/demo_live.py``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from pipelines.commands.options import add_community_options, add_warehouse, community_spec, fraction
from pipelines.commands.query import run_query


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    demo = commands.add_parser("demo", help="generate a synthetic community, score it, print the top mentors")
    demo.add_argument("--out", default="social-mentors-demo",
                      help="folder for the demo's events and ground truth, replaced on each run (default social-mentors-demo)")
    add_community_options(demo)
    add_warehouse(demo, default=str(Path("social-mentors-demo") / "warehouse.duckdb"),
                  shown="warehouse.duckdb in --out, social-mentors-demo/warehouse.duckdb")

    generate = commands.add_parser("generate", help="write a synthetic community's events and ground truth")
    generate.add_argument("--out", required=True, help="events file: .avro for Avro, anything else for JSON Lines")
    generate.add_argument("--truth", help="ground-truth file of planted pairs (default: beside --out)")
    generate.add_argument("--force", action="store_true",
                          help="replace an existing --out or --truth file (a symlink is replaced, not followed)")
    add_community_options(generate)
    generate.add_argument("--invalid-rate", type=fraction, default=0.0, help="share of invalid records to add (default 0)")

    return {"demo": cmd_demo, "generate": cmd_generate}


def cmd_generate(args: argparse.Namespace) -> int:
    from producers.community_stats import community_statistics
    from producers.synthetic import generate_community, write_community
    from services.outfile import check_targets

    out = Path(args.out)
    truth = Path(args.truth) if args.truth else out.with_name(out.stem + ".truth.jsonl")
    check_targets([out, truth], (), args.force)  # before the community is generated
    community = generate_community(community_spec(args, invalid_rate=args.invalid_rate))
    count = write_community(community, out, truth, force=args.force)
    print(f"wrote {count:,} events to {out} ({community.duplicate_count:,} re-deliveries, "
          f"{community.invalid_count:,} invalid) and {len(community.planted_pairs)} planted pairs to {truth}")
    print(community_statistics(community.events).render())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.commands.warehouse import warehouse_files
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from producers.synthetic import generate_community, write_community
    from services.outfile import check_targets
    from transforms.decode import ReadEventFiles

    out = Path(args.out)
    events_path, truth_path = out / "events.avro", out / "planted_pairs.jsonl"
    if "warehouse" not in getattr(args, "given", []):
        # Beside its events unless told: the fixed ./social-mentors-demo/warehouse.duckdb made
        # `demo --out X` fail after generating (no such folder) or add to an earlier demo's warehouse.
        from warehouse import check_location

        args.warehouse = str(out / "warehouse.duckdb")  # main's error line names this one
        check_location(args.warehouse)  # main checked the fixed default
    # The demo's own two files are replaced on each run (no --force needed: running it again is the
    # point); never the warehouse, never through a symlink, and both or neither.
    check_targets([events_path, truth_path], warehouse_files(args.warehouse), force=True)
    print(f"Generating a synthetic community (seed {args.seed}) ...", file=sys.stderr)
    community = generate_community(community_spec(args, invalid_rate=0.002))
    count = write_community(community, events_path, truth_path, force=True)
    print(f"  {count:,} events in {events_path}; {len(community.planted_pairs)} planted mentor pairs in {truth_path}",
          file=sys.stderr)
    print("Scoring them on the local runner ...", file=sys.stderr)
    summary = run_scoring(ReadEventFiles([str(events_path)]), RunSettings(warehouse=args.warehouse))
    print(summary.render())

    ranked = [_rank_of_planted(args.warehouse, pair) for pair in community.planted_pairs]
    print("\n" + render_planted_ranking(ranked))
    example = community.planted_pairs[0]
    print(f"\nWarehouse: {args.warehouse}. Try:\n"
          f"  social-mentors query mentors --reader {example['reader_id']} --warehouse {args.warehouse}\n"
          f"  social-mentors query regulars --author {example['author_id']} --warehouse {args.warehouse}\n"
          f"  social-mentors export dead_letters --warehouse {args.warehouse}")
    return 0 if summary.balanced else 1


def _rank_of_planted(warehouse: str, pair: dict[str, str], depth: int = 10) -> dict[str, Any]:
    """The reader's top mentor and the planted mentor's rank (None: not in the top ``depth``)."""
    columns, rows = run_query(warehouse, "mentors", {"reader": pair["reader_id"], "site": pair["site"], "top": depth})
    authors = [row[columns.index("author_id")] for row in rows]
    strengths = [row[columns.index("strength")] for row in rows] if "strength" in columns else [None] * len(rows)
    rank = authors.index(pair["author_id"]) + 1 if pair["author_id"] in authors else None
    return {**pair, "top": authors[0] if authors else None, "top_strength": strengths[0] if rows else None,
            "rank": rank, "planted_strength": strengths[rank - 1] if rank else None}


def render_planted_ranking(ranked: list[dict[str, Any]], per_line: int = 4) -> str:
    """Every planted reader's top mentor, a few per line per site (``*`` marks the planted mentor),
    then each miss with the planted mentor's rank, then the count."""
    def short(site: str, actor: Optional[str]) -> str:
        return "(none)" if actor is None else actor[len(site) + 1:] if actor.startswith(site + "/") else actor

    def strength(value: Optional[float]) -> str:
        return f"{value:.3f}" if value is not None else "-"

    lines = ["Top mentor of each planted reader (reader -> top mentor; * = the planted mentor):"]
    by_site: dict[str, list[dict[str, Any]]] = {}
    for entry in ranked:
        by_site.setdefault(entry["site"], []).append(entry)
    width = max(len(entry["site"]) for entry in ranked) if ranked else 0
    cells_of = {site: [f"{short(site, e['reader_id'])} -> {short(site, e['top'])}{'*' if e['rank'] == 1 else ' '}"
                       for e in entries] for site, entries in by_site.items()}
    cell_width = max((len(cell) for cells in cells_of.values() for cell in cells), default=0)
    for site, cells in cells_of.items():
        for start in range(0, len(cells), per_line):
            lines.append(f"  {site:<{width}}  " + "  ".join(c.ljust(cell_width) for c in cells[start:start + per_line]).rstrip())
    misses = [e for e in ranked if e["rank"] != 1]
    if misses:
        lines.append("Misses (the planted mentor's rank among the reader's mentors):")
        for e in misses:
            place = f"ranks {e['rank']} ({strength(e['planted_strength'])})" if e["rank"] else "is not in the top 10"
            lines.append(f"  {e['reader_id']} -> {e['top'] or '(none)'} ({strength(e['top_strength'])}); "
                         f"planted {e['author_id']} {place}")
    hits = sum(e["rank"] == 1 for e in ranked)
    lines.append(f"The planted mentor ranks first for {hits} of {len(ranked)} planted readers.")
    return "\n".join(lines)
