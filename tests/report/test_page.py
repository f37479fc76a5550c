"""The report page: names are shown whole, in the network's tooltips and in the leaderboards."""
from analysis.actors import ActorNames
from helpers import E, score_row
from report import data as report_data
from report.page import render
from warehouse import open_warehouse

LONG_NAME = "Professor Quantum Error-Correction Enthusiast"


def test_long_names_are_whole_in_the_network_titles_and_the_leaderboards(warehouse_path):
    open_warehouse(warehouse_path).write_scores([
        score_row("1234567", "7654321", E, 1.0, rc=4, ar=3), score_row("7654321", "1234567", E, 1.0, rc=3, ar=3)])
    names = ActorNames({(None, "1234567"): LONG_NAME, (None, "7654321"): "Another Rather Long Display Name"})
    html = render(report_data.load(warehouse_path), names=names)
    label = f"{LONG_NAME} (1234567)"
    network = html[html.index('<svg class="chart network"'):]
    network = network[:network.index("</svg>")]
    assert f"<title>{label}</title></circle>" in network and f"<title>{label}</title></text>" in network
    leaderboards = html[html.index("<h2>Leaderboards</h2>"):html.index("<h2>Distributions</h2>")]
    assert f"<td class=\"\">{label}</td>" in leaderboards
    assert label[:24] + "<" not in html  # nowhere cut at 24 characters


def test_a_line_break_in_a_name_is_a_space_not_two_words_run_together(warehouse_path):
    # Outside probe: "RED\n2nd line" showed as "RED2nd line".
    open_warehouse(warehouse_path).write_scores([
        score_row("1", "2", E, 1.0, rc=4, ar=3), score_row("2", "1", E, 1.0, rc=3, ar=3)])
    names = ActorNames({(None, "1"): "RED\n2nd\tline\u2028x", (None, "2"): "bell\x07ringer"})
    html = render(report_data.load(warehouse_path), names=names)
    assert "RED 2nd line x (1)" in html and "bellringer (2)" in html
    assert "RED2nd" not in html and "\x07" not in html
