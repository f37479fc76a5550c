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

from pipelines.commands.options import add_warehouse, positive_int


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
    report.add_argument("--site", default=None, help="only this site (default: every site)")
    report.add_argument("--since", type=_timestamp, default=None,
                        help="only windows ending after this ISO 8601 date or time (default: from the first)")
    report.add_argument("--as-of", type=_timestamp, default=None,
                        help="only windows starting before this ISO 8601 date or time (default: up to the newest)")
    report.add_argument("--top", type=positive_int, default=30, help="edges in the mentor network (default 30)")
    report.add_argument("--timelines", type=int, default=6, help="top pairs drawn as timelines (default 6)")
    report.add_argument("--png", default=None, metavar="DIR",
                        help="also save each chart as a PNG in DIR (needs the chromium browser)")
    add_warehouse(report)
    return {"report": cmd_report}


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.commands.warehouse import require_warehouse
    from report import data, page

    require_warehouse(args.warehouse)
    report_data = data.load(args.warehouse, site=args.site, since=args.since, as_of=args.as_of)
    html = page.render(report_data, top=args.top, timelines=args.timelines)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out} ({len(report_data.pairs):,} pairs, {report_data.windows:,} pair windows, "
          f"{min(args.top, len(data.top_edges(report_data, args.top)))} network edges)")
    if not report_data.pairs:
        print("(no rows in scope: check --site, --since and --as-of)", file=sys.stderr)
    if args.png:
        from report.images import save_pngs

        saved = save_pngs(out, Path(args.png))
        print(f"saved {len(saved)} PNG images in {args.png}")
    return 0
