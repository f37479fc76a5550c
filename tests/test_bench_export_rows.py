"""The export bench's synthetic rows fit the current pair_scores schema (they stopped fitting when
schema version 4 added a column, and only a bench run would have said so)."""
from bench.export_rows import write_pair_scores
from warehouse import open_warehouse


def test_the_export_bench_writes_rows_of_the_current_schema(tmp_path):
    path = str(tmp_path / "w.duckdb")
    assert write_pair_scores(path, 1000) == 1000
    columns, rows = open_warehouse(path).export("pair_scores")
    rows = [dict(zip(columns, row)) for row in rows]
    assert len(rows) == 1000
    assert all(0 <= row["author_replies_by_window_end"] <= row["author_replies"] for row in rows)
