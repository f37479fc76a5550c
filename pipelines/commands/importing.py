"""``import``: a community archive (Stack Exchange, mbox, Reddit, Disqus, WordPress) into events."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Optional


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    importing = commands.add_parser("import", help="turn a community archive into events (file or Kafka)")
    importing.add_argument("format", choices=("stackexchange", "mbox", "reddit", "disqus", "wordpress"))
    importing.add_argument("paths", nargs="+", help="files or folders of the archive")
    importing.add_argument("--to", required=True, help="avro:PATH, jsonl:PATH or kafka://HOST:PORT/TOPIC")
    importing.add_argument("--site", default=None, help="site name (default: from the archive or folder)")
    importing.add_argument("--pseudonymize", metavar="KEY", default=None,
                           help="replace every actor id with a keyed hash (HMAC-SHA256)")
    importing.add_argument("--actors-out", metavar="FILE", default=None,
                           help="stackexchange: also write each user's reputation as JSONL (site, actor_id, signal, "
                                "name), for `evaluate --actors`; with --pseudonymize the ids are hashed the same "
                                "way and names left out")
    return {"import": cmd_import}


def cmd_import(args: argparse.Namespace) -> int:
    from importers import import_items
    from importers.core import run_import

    if args.actors_out and args.format != "stackexchange":
        raise ValueError("--actors-out needs a Stack Exchange dump: other archives carry no reputation")
    missing = [p for p in args.paths if args.actors_out and not (Path(p) / "Users.xml").exists()]
    if missing:  # said before anything is imported
        raise FileNotFoundError(f"no Users.xml in {', '.join(missing)}: --actors-out needs the dump's Users.xml")
    summary = run_import(import_items(args.format, args.paths, args.site), args.to, args.pseudonymize)
    print(summary.render())
    print(f"wrote {summary.converted:,} events to {args.to}")
    if args.actors_out:
        print(f"wrote {write_actors(args.paths, args.site, args.pseudonymize, Path(args.actors_out)):,} actors "
              f"to {args.actors_out}")
    return 0


def write_actors(folders: list[str], site: Optional[str], pseudonymize_key: Optional[str], out: Path) -> int:
    """The dumps' users with their reputation, one JSON object a line; ids pseudonymized like the events'."""
    from importers.core import Pseudonymizer
    from importers.stackexchange import stackexchange_actors

    pseudonymize = Pseudonymizer(pseudonymize_key)
    count = 0
    with open(out, "w", encoding="utf-8") as lines:
        for folder in folders:
            for actor in stackexchange_actors(Path(folder), site):
                if pseudonymize_key:
                    actor = {**actor, "actor_id": pseudonymize(actor["actor_id"]), "name": None}
                lines.write(json.dumps(actor) + "\n")
                count += 1
    return count
