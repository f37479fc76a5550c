"""``import``: a community archive (Stack Exchange, mbox, Reddit, Disqus, WordPress) into events."""
from __future__ import annotations

import argparse
from typing import Callable


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    importing = commands.add_parser("import", help="turn a community archive into events (file or Kafka)")
    importing.add_argument("format", choices=("stackexchange", "mbox", "reddit", "disqus", "wordpress"))
    importing.add_argument("paths", nargs="+", help="files or folders of the archive")
    importing.add_argument("--to", required=True, help="avro:PATH, jsonl:PATH or kafka://HOST:PORT/TOPIC")
    importing.add_argument("--site", default=None, help="site name (default: from the archive or folder)")
    importing.add_argument("--pseudonymize", metavar="KEY", default=None,
                           help="replace every actor id with a keyed hash (HMAC-SHA256)")
    return {"import": cmd_import}


def cmd_import(args: argparse.Namespace) -> int:
    from importers import import_items
    from importers.core import run_import

    summary = run_import(import_items(args.format, args.paths, args.site), args.to, args.pseudonymize)
    print(summary.render())
    print(f"wrote {summary.converted:,} events to {args.to}")
    return 0
