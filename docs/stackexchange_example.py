"""The README's Stack Exchange table: import the shared dump, score it, print the top pairs.

Usage: python docs/stackexchange_example.py [DUMP_FOLDER]   (default: ../shared/data/stackexchange-quantumcomputing-2018)
Display names come from the dump's Users.xml (CC BY-SA 3.0, attribution to the site and its authors).
"""
from __future__ import annotations

import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

DEFAULT_DUMP = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackexchange-quantumcomputing-2018"


def display_names(folder: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    if not (folder / "Users.xml").is_file():  # the table then shows user ids only
        return names
    for _, row in ElementTree.iterparse(folder / "Users.xml"):
        if row.tag == "row":
            names[row.get("Id")] = row.get("DisplayName", "?")
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
    import duckdb  # after the check: Beam's import is slow and chatty

    from importers import import_items
    from importers.core import run_import
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from transforms.decode import ReadEventFiles

    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.avro"
        imported = run_import(import_items("stackexchange", [str(dump)], "quantumcomputing"), f"avro:{events}", progress=None)
        warehouse = str(Path(folder) / "w.duckdb")
        scored = run_scoring(ReadEventFiles([str(events)]), RunSettings(warehouse=warehouse))
        connection = duckdb.connect(warehouse)
        pairs = connection.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT author_id, reader_id FROM pair_scores_latest "
            "WHERE reader_comments > 0)").fetchone()[0]
        top = connection.execute(
            "SELECT author_id, reader_id, SUM(mentor_score) AS score, SUM(reader_comments), SUM(author_replies), "
            "COUNT(*) FROM pair_scores_latest GROUP BY author_id, reader_id "
            "HAVING SUM(reader_comments) > 0 AND SUM(author_replies) > 0 ORDER BY score DESC, author_id LIMIT 10"
        ).fetchall()
        connection.close()
    names = display_names(dump)
    responses = imported.by_kind.get("COMMENT", 0) + imported.by_kind.get("REPLY", 0)
    response_skips = sum(v for k, v in imported.skipped.items() if k.startswith("parent_") or k == "deleted_user")
    print(f"- rows read: {imported.read:,}; events: {imported.converted:,} "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(imported.by_kind.items()))})")
    print(f"- responses resolved: {responses:,}; skipped: {', '.join(f'{k} {v:,}' for k, v in sorted(imported.skipped.items()))}")
    print(f"- pipeline: {scored.scored:,} interactions scored, {scored.skipped_total:,} skipped "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(scored.skipped.items()))}), {scored.dead_letters_total} dead letters")
    print(f"- author-reader pairs with reader comments: {pairs:,}\n")
    print("| # | author (mentor) | reader | sum of mentor_score | reader comments | author replies | day windows |")
    print("|---|---|---|---|---|---|---|")
    for rank, (author, reader, score, rc, ar, windows) in enumerate(top, start=1):
        print(f"| {rank} | {names.get(author, author)} ({author}) | {names.get(reader, reader)} ({reader}) | "
              f"{score:.3f} | {rc} | {ar} | {windows} |")
    print(f"\n(responses skipped in import: {response_skips:,})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
