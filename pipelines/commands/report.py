"""``social-mentors report``: the analyst report, one self-contained HTML file from either warehouse.

The command parses the scope and writes the file; what is shown comes from ``report.data`` and how
it is drawn from ``report.page``. ``--png DIR`` also saves each chart as a PNG, by screenshots of
headless Chromium when it is installed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Callable

from pipelines.commands.names import add_actors, load_names
from pipelines.commands.options import ROWS, add_warehouse, whole_number


def _timestamp(text: str) -> dt.datetime:
    """An ISO 8601 date or time, as naive UTC (the warehouse's timestamps are UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time (2018-05-01, 2018-05-01T12:00Z)") from error
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[argparse.Namespace], int]]:
    report = commands.add_parser(
        "report", help="write the analyst report: one self-contained HTML file",
        description="Write one HTML file (inline SVG, no scripts, opens offline): the mentor network, "
                    "timelines of the top pairs, leaderboards, distributions, and what was skipped or "
                    "dead-lettered.")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--force", action="store_true",
                        help="replace an existing --out file or --png image (never the warehouse or --actors; a "
                             "symlink is replaced, not followed)")
    report.add_argument("--site", default=None, help="only this site (default: every site)")
    report.add_argument("--since", type=_timestamp, default=None,
                        help="only windows ending after this ISO 8601 date or time (default: from the first)")
    report.add_argument("--as-of", type=_timestamp, default=None,
                        help="only windows starting before this ISO 8601 date or time (default: up to the newest)")
    report.add_argument("--top", type=ROWS, default=30, help="edges in the mentor network (default 30)")
    report.add_argument("--timelines", type=whole_number(0, 100), default=6, help="top pairs drawn as timelines (default 6)")
    report.add_argument("--png", default=None, metavar="DIR",
                        help="also save each chart as a PNG in DIR (needs the chromium browser)")
    add_actors(report)
    add_warehouse(report)
    return {"report": cmd_report}


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.commands.warehouse import require_warehouse, warehouse_files
    from report import data, images, page
    from services.outfile import check_target, check_targets, replacing_all

    inputs = [*warehouse_files(args.warehouse), *([args.actors] if args.actors else [])]
    check_target(args.out, inputs, args.force)  # before anything is read
    if args.png and Path(args.png).exists() and not Path(args.png).is_dir():
        raise ValueError(f"--png {args.png} is a file; give a folder for the images")
    require_warehouse(args.warehouse)
    report_data = data.load(args.warehouse, site=args.site, since=args.since, as_of=args.as_of)
    html = page.render(report_data, top=args.top, timelines=args.timelines, names=load_names(args.actors, args.warehouse))
    out = Path(args.out)
    pngs = [Path(args.png) / name for name in images.image_names(html)] if args.png else []
    check_targets([out, *pngs], inputs, args.force)
    shots = images.screenshots(html) if args.png else []
    with replacing_all([out, *pngs], args.force) as (html_file, *png_files):  # all written, or none
        html_file.write(html.encode("utf-8"))
        for png_file, (_, image) in zip(png_files, shots):
            png_file.write(image)
    print(f"wrote {out} ({len(report_data.pairs):,} pairs, {report_data.windows:,} pair windows, "
          f"{min(args.top, len(data.top_edges(report_data, args.top)))} network edges)")
    if not report_data.pairs:
        print("(no rows in scope: check --site, --since and --as-of)", file=sys.stderr)
    if args.png:
        print(f"saved {len(pngs)} PNG images in {args.png}")
    return 0

