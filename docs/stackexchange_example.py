"""The README's Stack Exchange tables: import the shared dump (with its users' reputation), score it,
print the strongest relationships (`query top`) and the evaluation (`evaluate --actors`).

Usage: python docs/stackexchange_example.py [DUMP_FOLDER]   (default: ../shared/data/stackexchange-quantumcomputing-2018)
Display names and reputation come from the dump's Users.xml (CC BY-SA 3.0, attribution to the site
and its authors).
"""
from __future__ import annotations

import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

DEFAULT_DUMP = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackexchange-quantumcomputing-2018"


def display_names(folder: Path) -> dict[str, str]:
    """Each user id's display name, its id and its reputation, as the table shows them."""
    names: dict[str, str] = {}
    if not (folder / "Users.xml").is_file():  # the table then shows user ids only
        return names
    for _, row in ElementTree.iterparse(folder / "Users.xml"):
        if row.tag == "row":
            names[row.get("Id")] = f"{row.get('DisplayName', '?')} ({row.get('Id')}, rep {row.get('Reputation', '?')})"
            row.clear()
    return names


def main() -> int:
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]) or len(sys.argv) > 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 0 if len(sys.argv) == 2 else 2
    dump = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DUMP
    if not (dump / "Posts.xml").is_file():
        print(f"error: no Posts.xml in {dump}: pass the folder of a Stack Exchange dump, "
              "python docs/stackexchange_example.py DUMP_FOLDER", file=sys.stderr)
        return 2
    from pipelines.logs import configure_logging

    configure_logging(verbose=False)  # before Beam's import, whose chatter goes to the log file, as the CLI's
    import duckdb  # after the check: Beam's import is slow and chatty

    from analysis.evaluate import evaluate, read_actors
    from importers import import_items
    from importers.core import run_import
    from importers.lines import DEFAULT_MAX_LINE_BYTES
    from pipelines.commands.importing import write_actors
    from pipelines.commands.query import run_query
    from pipelines.scoring import run_scoring
    from warehouse import open_warehouse
    from pipelines.settings import RunSettings
    from services.outfile import replacing
    from transforms.decode import ReadEventFiles

    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.avro"
        imported = run_import(import_items("stackexchange", [str(dump)], "quantumcomputing"), f"avro:{events}", progress=None)
        actors_path = Path(folder) / "actors.jsonl"
        with replacing(actors_path, force=False) as actors_file:
            write_actors("stackexchange", [str(dump)], "quantumcomputing", None, actors_file, DEFAULT_MAX_LINE_BYTES)
        warehouse = str(Path(folder) / "w.duckdb")
        scored = run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=warehouse))
        connection = duckdb.connect(warehouse)
        pairs = connection.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT author_id, reader_id FROM pair_scores_latest "
            "WHERE reader_comments > 0)").fetchone()[0]
        connection.close()
        columns, rows = run_query(warehouse, "top", {"site": "quantumcomputing", "top": 10})
        top = [dict(zip(columns, row)) for row in rows]
        evaluation = evaluate(open_warehouse(warehouse), actors=read_actors(actors_path))
    names = display_names(dump)
    responses = imported.by_kind.get("COMMENT", 0) + imported.by_kind.get("REPLY", 0)
    response_skips = sum(v for k, v in imported.skipped.items() if k.startswith("parent_") or k == "deleted_user")
    print(f"- rows read: {imported.read:,}; events: {imported.converted:,} "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(imported.by_kind.items()))})")
    print(f"- responses resolved: {responses:,}; skipped: {', '.join(f'{k} {v:,}' for k, v in sorted(imported.skipped.items()))}")
    print(f"- pipeline: {scored.scored:,} interactions scored, {scored.skipped_total:,} skipped "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(scored.skipped.items()))}), {scored.dead_letters_total} dead letters")
    print(f"- author-reader pairs with reader comments: {pairs:,}\n")
    print(f"Strongest relationships as of {top[0]['as_of']:%Y-%m-%d %H:%M} UTC (`social-mentors query top --site quantumcomputing`); "
          "user id and reputation from Users.xml in parentheses:\n")
    print("| # | mentor | mentee | strength | comments | replies | quick replies | mentor activity | mentee activity | windows |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rank, t in enumerate(top, start=1):
        print(f"| {rank} | {names.get(t['mentor_id'], t['mentor_id'])} | "
              f"{names.get(t['mentee_id'], t['mentee_id'])} | {t['strength']:.3f} | {t['comments']:.2f} | "
              f"{t['replies']:.2f} | {t['quick_replies']:.2f} | {t['mentor_activity']:.1f} | {t['mentee_activity']:.1f} | {t['windows']} |")
    print("\n`social-mentors evaluate --actors actors.jsonl` on the same warehouse:\n")
    print(evaluation.render())
    print(f"\n(responses skipped in import: {response_skips:,})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
