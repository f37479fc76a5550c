"""The report's SVG charts: one mark per datum, every text escaped."""
from report import charts


def test_network_draws_one_circle_per_person_and_one_path_per_edge():
    edges = [("a", "b", 2.0), ("b", "a", 1.0), ("a", "c", 0.5)]
    svg = charts.network(edges, {"a": "a", "b": "b", "c": "c"})
    assert svg.count('<circle class="node"') == 3
    assert svg.count('<path class="edge"') == 3


def test_labels_are_escaped():
    hostile = '<script>alert(1)</script>&"'
    svg = charts.network([("x", "y", 1.0)], {"x": hostile, "y": "y"})
    svg += charts.histogram([(hostile, 3)], hostile, hostile)
    svg += charts.timeline([(hostile, 1, 1, 60.0)])
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;" in svg


def test_an_empty_network_says_so():
    svg = charts.network([], {})
    assert "no pair with an author reply" in svg and 'class="node"' not in svg


def test_histogram_and_timeline_marks():
    svg = charts.histogram([("0", 0), ("1", 4), ("2", 2)], "x", "y")
    assert svg.count('<rect class="bar"') == 3
    svg = charts.timeline([("w1", 3, 2, 600.0), ("w2", 1, 0, None), ("w3", 2, 2, 60.0)])
    assert svg.count('<rect class="rc"') == 3 and svg.count('<rect class="ar"') == 3
    assert svg.count('<circle class="latency"') == 2


def test_the_layout_is_the_same_for_the_same_data():
    edges = [("a", "b", 1.0), ("c", "d", 1.0), ("b", "c", 0.2)]
    labels = {n: n for n in "abcd"}
    assert charts.network(edges, labels) == charts.network(edges, labels)


def test_a_timeline_shows_quiet_windows_as_gaps():
    import datetime as dt

    from report.data import Pair
    from report.page import timeline_slots

    week = dt.timedelta(days=7)
    monday = dt.datetime(2026, 1, 5)
    pair = Pair("s", "a", "r", timeline=[
        {"window_start": monday, "window_end": monday + week}, {"window_start": monday + 3 * week, "window_end": monday + 4 * week}])
    slots = timeline_slots(pair)
    assert [start for start, _ in slots] == [monday + n * week for n in range(4)]
    assert [row is None for _, row in slots] == [False, True, True, False]


LONG = "Professor Quantum Error-Correction Enthusiast (1234567)"


def _visible_labels(svg: str) -> list[str]:
    """The text a reader sees under each node: the label's lines joined, its <title> left out."""
    import re

    texts = re.findall(r'<text class="label"[^>]*>(.*?)</text>', svg)
    return [" ".join(re.findall(r"<tspan[^>]*>(.*?)</tspan>", t)) or re.sub(r"<title>.*?</title>", "", t)
            for t in texts]


def test_a_long_network_label_is_shown_whole_not_cut():
    svg = charts.network([("x", "y", 1.0)], {"x": LONG, "y": "y"})
    # the whole name is on screen, wrapped over lines, not cut at 24 characters
    assert LONG in _visible_labels(svg)
    # and in the label's own tooltip
    assert f"<title>{LONG}</title></text>" in svg


def test_a_label_too_long_for_its_lines_is_elided_and_whole_in_its_title():
    huge = "x" * 30 + " " + "y" * 30 + " " + "z" * 30 + " (42)"
    svg = charts.network([("a", "b", 1.0)], {"a": huge, "b": "b"})
    seen = next(label for label in _visible_labels(svg) if label != "b")
    assert seen.endswith("…") and len(seen) < len(huge)
    assert f"<title>{huge}</title></text>" in svg
    assert f"<title>{huge}</title></circle>" in svg


def test_a_timeline_carries_its_title_and_legend_so_its_png_stands_alone_on_a_slide():
    # Outside probe: `report --png` timelines had neither the pair's name nor what the colours mean.
    svg = charts.timeline([("w1", 3, 2, 600.0), ("w2", 1, 0, None)], title="Ada <1> → Bo: 4 comments")
    assert ">Ada &lt;1&gt; → Bo: 4 comments</text>" in svg
    for key in ("reader comments", "author replies", "median reply latency"):
        assert f">{key}" in svg
    assert svg.count('<rect class="rc"') == 2 and svg.count('<circle class="latency"') == 1  # keys are not marks
