"""PNG images of the report's charts, for slides: each inline SVG of the page, screenshotted alone by
headless Chromium (Debian's ``chromium`` package), with no network and no GPU.

In: the report's HTML file. Out: ``DIR/NN-KIND.png``, one per chart.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_SVG = re.compile(r'<svg class="chart (\w+)" width="(\d+)" height="(\d+)".*?</svg>', re.S)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str:
    """The headless browser's executable, or an error that says what to install."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("--png needs Chromium: apt-get install chromium (or leave out --png)")


def chromium_command(executable: str, *args: str) -> list[str]:
    """Chromium headless, sandbox and GPU off (containers), nothing fetched in the background."""
    return [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", *args]


def save_pngs(html_file: Path, out_dir: Path, timeout_s: float = 120.0) -> list[Path]:
    executable = browser()
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    html = html_file.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="social-mentors-png-") as scratch:
        for number, match in enumerate(_SVG.finditer(html), start=1):
            kind, width, height = match.group(1), int(match.group(2)), int(match.group(3))
            page = Path(scratch) / f"{number}.html"
            page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0;'
                            'font-family:sans-serif;background:#fff}</style></head><body>'
                            f"{match.group(0)}</body></html>", encoding="utf-8")
            target = (out_dir / f"{number:02d}-{kind}.png").resolve()
            subprocess.run(
                chromium_command(executable, f"--user-data-dir={scratch}/profile", f"--screenshot={target}",
                                 f"--window-size={width},{height}", page.resolve().as_uri()),
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout_s)
            saved.append(target)
    return saved
