"""``import``: a community archive (Stack Exchange, mbox, Reddit, Disqus, WordPress) into events."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from pipelines.commands.options import add_kafka_security_options, kafka_security, whole_number


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    from importers.lines import DEFAULT_MAX_LINE_BYTES

    importing = commands.add_parser("import", help="turn a community archive into events (file or Kafka)")
    importing.add_argument("format", choices=("stackexchange", "mbox", "reddit", "disqus", "wordpress"))
    importing.add_argument("paths", nargs="+", help="files or folders of the archive")
    importing.add_argument("--to", required=True, help="avro:PATH, jsonl:PATH or kafka://HOST:PORT/TOPIC")
    importing.add_argument("--force", action="store_true",
                           help="replace an existing --to or --actors-out file (never an input; a symlink is replaced, "
                                "not followed)")
    importing.add_argument("--site", default=None, help="site name (default: from the archive or folder)")
    importing.add_argument("--pseudonymize-key-env", metavar="NAME", default=None,
                           help="replace every person's id and every public item id with a keyed hash (HMAC-SHA256); "
                                "the key (at least 16 bytes) is in the environment variable NAME")
    importing.add_argument("--pseudonymize-key-file", metavar="PATH", default=None,
                           help="as --pseudonymize-key-env, the key read from the file PATH")
    importing.add_argument("--pseudonymize", metavar="KEY", default=None, help=argparse.SUPPRESS)
    importing.add_argument("--max-line-bytes", type=whole_number(1, 1 << 30), default=DEFAULT_MAX_LINE_BYTES,
                           help="a longer record (a line, a mail header block, a Stack Exchange row, a Disqus "
                                "thread or post, a WordPress comment or post field) is a counted skip, never held "
                                "in memory "
                                f"(default {DEFAULT_MAX_LINE_BYTES:,})")
    importing.add_argument("--actors-out", metavar="FILE", default=None,
                           help="stackexchange, mbox, disqus: also write the people as JSONL (site, actor_id, "
                                "name; Stack Exchange adds its reputation as signal, for `evaluate --actors`), for "
                                "`query`/`report --actors`; pseudonymized, the ids are hashed as the events' are "
                                "and names left out (default: not written)")
    add_kafka_security_options(importing)  # for --to kafka://...
    return {"import": cmd_import}


def cmd_import(args: argparse.Namespace) -> int:
    from importers import ACTOR_FORMATS, import_items
    from importers.core import run_import
    from importers.pseudonymize import load_key
    from pipelines.commands.output import printable
    from services.outfile import check_targets, replacing

    if args.pseudonymize is not None:
        raise ValueError("--pseudonymize KEY is no longer accepted: a key on the command line shows in `ps` "
                         "(and an unset $KEY silently turned it off); put the key in an environment variable "
                         "or a file and pass --pseudonymize-key-env NAME or --pseudonymize-key-file PATH")
    key = load_key(env=args.pseudonymize_key_env, file=args.pseudonymize_key_file)
    if args.actors_out and args.format not in ACTOR_FORMATS:
        raise ValueError(f"--actors-out needs a Stack Exchange dump, a mail archive or a Disqus export: "
                         f"a {args.format} archive names no one beside their ids")
    missing = [p for p in args.paths
               if args.actors_out and args.format == "stackexchange" and not (Path(p) / "Users.xml").exists()]
    if missing:  # said before anything is imported
        raise FileNotFoundError(f"no Users.xml in {', '.join(missing)}: --actors-out needs the dump's Users.xml")
    events_file = (args.to.split(":", 1)[1] if args.to.startswith(("avro:", "jsonl:")) else "") or None
    # the key file is an input too: an output written over it would destroy the secret
    inputs = [*args.paths, *([args.pseudonymize_key_file] if args.pseudonymize_key_file else [])]
    if args.actors_out:  # both outputs checked before anything is read
        check_targets([events_file, args.actors_out] if events_file else [args.actors_out], inputs, args.force)
    items = import_items(args.format, args.paths, args.site, max_line_bytes=args.max_line_bytes)
    progress = sys.stderr if sys.stderr.isatty() else None  # a line redrawn with \r is for terminals only
    security = kafka_security(args) if args.to.startswith("kafka://") else None
    with contextlib.ExitStack() as actors_file:
        actors, actor_skips = 0, ""
        if args.actors_out:  # written first, kept only if the import succeeds too
            out = actors_file.enter_context(replacing(args.actors_out, args.force))
            actors, actor_skips = write_actors(args.format, args.paths, args.site, key, out, args.max_line_bytes)
        summary = run_import(items, args.to, key, inputs=inputs, force=args.force, progress=progress,
                             kafka_security=security)
    print(printable(summary.render(), keep_newlines=True))
    print(f"wrote {summary.converted:,} events to {printable(args.to)}"
          + (" (ids pseudonymized)" if key else ""))
    if args.actors_out:
        print(printable(f"wrote {actors:,} actors{actor_skips} to {args.actors_out}"))
    return 0


def write_actors(archive_format: str, paths: list[str], site: Optional[str], pseudonymize_key: Optional[bytes],
                 out: BinaryIO, max_line_bytes: int) -> tuple[int, str]:
    """The archive's people (and a dump's reputation), one JSON object a line; pseudonymized, the ids
    are hashed like the events' and the names dropped: a name beside a hash would undo it. Returns
    how many were written and what was skipped, `` (2 skipped: REASON N e.g. ORIGIN, ...)`` or ""."""
    from importers import import_actors
    from importers.core import Skipped
    from importers.pseudonymize import Pseudonymizer

    pseudonymize = Pseudonymizer(pseudonymize_key)
    count = 0
    skipped: dict[str, list] = {}  # reason -> [count, first origin]
    for actor in import_actors(archive_format, paths, site, max_line_bytes=max_line_bytes):
        if isinstance(actor, Skipped):
            skipped.setdefault(actor.reason, [0, actor.origin])[0] += 1
            continue
        if pseudonymize_key:
            actor = {**actor, "actor_id": pseudonymize.actor(actor["actor_id"]), "name": None}
        out.write((json.dumps(actor) + "\n").encode("utf-8"))
        count += 1
    if not skipped:
        return count, ""
    reasons = ", ".join(f"{reason} {n:,} e.g. {origin}" for reason, (n, origin) in sorted(skipped.items()))
    return count, f" ({sum(n for n, _ in skipped.values()):,} skipped: {reasons})"
