"""`social-mentors report` from the synthetic community, opened in headless Chromium: the charts are
drawn with one mark per datum, the console stays silent, and nothing is fetched."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.cli import main
from report import data as report_data
from report.images import chromium_command
from report.page import timeline_slots

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium (.ci/run does)")


@pytest.fixture(scope="module")
def community(tmp_path_factory):
    """The synthetic community, generated and scored once for the module."""
    folder = tmp_path_factory.mktemp("community")
    events, warehouse = folder / "events.avro", str(folder / "warehouse.duckdb")
    assert main(["generate", "--out", str(events)]) == 0
    assert main(["run", "--input", str(events), "--warehouse", warehouse]) == 0
    return warehouse


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        chromium_command(CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                         *args),
        capture_output=True, text=True, timeout=300)


def console_lines(stderr: str) -> list[str]:
    """Chromium logs every console message of the page (errors included) as a CONSOLE line."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
def test_the_console_check_catches_an_error(tmp_path):
    # the check below could fail: a page that logs an error is seen
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("broken chart")</script></body></html>')
    assert any("broken chart" in line for line in console_lines(chromium(tmp_path, "--dump-dom", page.as_uri()).stderr))


@needs_chromium
def test_report_draws_every_chart_in_headless_chromium(community, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", "--warehouse", community, "--out", str(out), "--top", "25", "--timelines", "4"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    html = out.read_text()
    # self-contained: no script, no stylesheet or image from elsewhere (the SVG namespace is a name, not a fetch)
    assert "<script" not in html
    assert not [url for url in re.findall(r"(?:src|href)=\"([^\"]+)\"", html) if not url.startswith("#")]

    rendered = chromium(tmp_path, "--dump-dom", out.as_uri())
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert console_lines(rendered.stderr) == []
    dom = rendered.stdout

    expected = report_data.load(community)
    edges = report_data.top_edges(expected, 25)
    people = {(p.site, p.author_id) for p in edges} | {(p.site, p.reader_id) for p in edges}
    assert len(edges) == 25
    assert dom.count('<circle class="node"') == len(people)
    assert dom.count('<path class="edge"') == 25
    assert dom.count('<svg class="chart timeline"') == 4
    windows_drawn = sum(len(timeline_slots(p)) for p in edges[:4])  # quiet windows between drawn empty
    assert windows_drawn >= sum(len(p.timeline) for p in edges[:4])
    assert dom.count('<rect class="rc"') == windows_drawn and dom.count('<rect class="ar"') == windows_drawn
    assert dom.count('<svg class="chart histogram"') == 3
    assert dom.count('<rect class="bar"') == 7 + 10 + 11  # latency bins, reciprocity tenths, 0..10+ regulars
    assert "PARENT_UNRESOLVED" in dom  # the generator plants replies whose parent never comes
    assert f"{expected.reader_comments:,}" in dom and f"{expected.author_replies:,}" in dom

    screenshot = tmp_path / "report.png"
    shot = chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1050,2400", "--hide-scrollbars", out.as_uri())
    assert shot.returncode == 0 and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SOCIAL_MENTORS_ARTIFACTS"):  # CI keeps it
        Path(os.environ["SOCIAL_MENTORS_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(os.environ["SOCIAL_MENTORS_ARTIFACTS"]) / "report.png")


def test_scope_bounds_the_windows(community, tmp_path):
    everything = report_data.load(community)
    starts = sorted({w["window_start"] for p in everything.pairs.values() for w in p.timeline})
    assert len(starts) >= 3
    middle = starts[len(starts) // 2]
    early = report_data.load(community, as_of=middle)
    late = report_data.load(community, since=middle)
    assert early.windows and late.windows
    assert all(w["window_start"] < middle for p in early.pairs.values() for w in p.timeline)
    assert all(w["window_end"] > middle for p in late.pairs.values() for w in p.timeline)
    assert early.windows + late.windows == everything.windows
    one_site = report_data.load(community, site="blog-1")
    assert one_site.sites == ["blog-1"] and 0 < one_site.windows < everything.windows


def test_report_of_an_empty_scope_still_writes_a_page(community, tmp_path, capsys):
    out = tmp_path / "empty.html"
    assert main(["report", "--warehouse", community, "--out", str(out), "--site", "no-such-site"]) == 0
    assert "no rows in scope" in capsys.readouterr().err
    assert "no pair with an author reply in scope" in out.read_text()


def test_a_bad_date_is_a_clear_error(community, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["report", "--warehouse", community, "--out", str(tmp_path / "x.html"), "--since", "last tuesday"])
    assert "not an ISO 8601 date" in capsys.readouterr().err


@needs_chromium
def test_png_saves_one_image_per_chart(community, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", "--warehouse", community, "--out", str(out), "--timelines", "0",
                 "--png", str(tmp_path / "png")]) == 0
    images = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert images == ["01-network.png", "02-histogram.png", "03-histogram.png", "04-histogram.png"]
    assert all((tmp_path / "png" / name).read_bytes()[:4] == b"\x89PNG" for name in images)
