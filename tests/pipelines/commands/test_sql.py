"""`social-mentors sql`: one read-only statement on the warehouse, in query's output formats."""
import json

import pytest

from helpers import T0, score_row
from pipelines.cli import main
from warehouse import open_warehouse


@pytest.fixture
def filled(warehouse_path):
    warehouse = open_warehouse(warehouse_path)
    warehouse.write_scores([score_row("a", "r1", T0 + 7 * 86400_000, 0.5), score_row("a", "r2", T0 + 7 * 86400_000, 0.25)])
    return warehouse_path


def test_select_prints_rows_in_every_format(filled, capsys):
    assert main(["sql", "SELECT reader_id, mentor_score FROM pair_scores_latest ORDER BY reader_id",
                 "--warehouse", filled, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"reader_id": "r1", "mentor_score": 0.5}, {"reader_id": "r2", "mentor_score": 0.25}]
    assert main(["sql", "SELECT COUNT(*) AS n FROM pair_scores", "--warehouse", filled, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "2"]
    assert main(["sql", "WITH x AS (SELECT reader_id FROM pair_scores) SELECT * FROM x ORDER BY 1",
                 "--warehouse", filled]) == 0
    assert capsys.readouterr().out.split() == ["reader_id", "r1", "r2"]


@pytest.mark.parametrize("statement", [
    "DELETE FROM pair_scores",
    "DROP TABLE pair_scores",
    "INSERT INTO dead_letters (origin, error_kind, message, arrived_at) VALUES ('x', 'y', 'z', now())",
    "COPY pair_scores TO 'stolen.csv'",
    "SELECT 1; DELETE FROM pair_scores",
    "UPDATE pair_scores SET mentor_score = 0",
])
def test_anything_that_writes_is_refused_and_changes_nothing(filled, statement, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sql", statement, "--warehouse", filled]) == 2
    assert "error:" in capsys.readouterr().err
    assert open_warehouse(filled).count("pair_scores") == 2 and open_warehouse(filled).count("dead_letters") == 0
    assert not (tmp_path / "stolen.csv").exists()


def test_a_sql_error_is_one_line(filled, capsys):
    assert main(["sql", "SELECT no_such_column FROM pair_scores", "--warehouse", filled]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no_such_column" in err and "Traceback" not in err
