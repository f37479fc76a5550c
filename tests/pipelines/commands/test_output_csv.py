"""CSV output: booleans as true/false (as JSON Lines writes them), not Python's True/False."""
import io

from pipelines.commands.output import write_rows


def test_csv_writes_booleans_in_lower_case():
    out = io.StringIO()
    write_rows(["site", "is_final_pane"], [("s", True), ("t", False), ("u", None)], "csv", out)
    assert out.getvalue().splitlines() == ["site,is_final_pane", "s,true", "t,false", "u,"]
