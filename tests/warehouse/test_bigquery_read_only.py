"""Reading BigQuery creates nothing: `query`, `export`, `sql` and `report` on a dataset that no run
has written say so in one line, exit 2 and leave the project as it was."""
import pytest
from google.api_core.exceptions import NotFound

from pipelines.cli import main
from warehouse import NotInitialised, open_warehouse
from warehouse.bigquery_warehouse import _client


@pytest.fixture
def bigquery_url(empty_bigquery_url):
    """Here a dataset name with nothing created: no run and no `warehouse init` has written there."""
    return empty_bigquery_url


def _dataset(url):
    project, dataset = url[len("bigquery://"):].split("/")
    return _client(project), f"{project}.{dataset}"


@pytest.mark.parametrize("command", [
    ["query", "mentors", "--reader", "r"],
    ["query", "top", "--format", "csv"],
    ["export", "pair_scores"],
    ["sql", "SELECT 1"],
    ["report", "--out", "REPORT"],
])
def test_reading_a_dataset_that_does_not_exist_is_one_line_and_creates_nothing(bigquery_url, command, tmp_path, capsys):
    command = [str(tmp_path / "report.html") if arg == "REPORT" else arg for arg in command]
    assert main([*command, "--warehouse", bigquery_url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has not been initialised" in err and "no run has written there" in err
    assert "social-mentors warehouse init --warehouse " + bigquery_url in err and "Traceback" not in err
    client, dataset = _dataset(bigquery_url)
    with pytest.raises(NotFound):
        client.get_dataset(dataset)
    assert not (tmp_path / "report.html").exists()


def test_a_dataset_without_the_tables_is_not_initialised_and_stays_empty(bigquery_url, capsys):
    client, dataset = _dataset(bigquery_url)
    client.create_dataset(dataset)  # made by hand, or by another tool: no run has written there
    with pytest.raises(NotInitialised, match="no table pair_scores, dead_letters"):
        open_warehouse(bigquery_url, read_only=True)
    assert main(["query", "mentors", "--reader", "r", "--warehouse", bigquery_url]) == 2
    assert "has not been initialised" in capsys.readouterr().err
    assert list(client.list_tables(dataset)) == [] and list(client.list_routines(dataset)) == []


def test_after_warehouse_init_the_readers_read_what_a_run_wrote(bigquery_url, capsys):
    assert main(["warehouse", "init", "--warehouse", bigquery_url]) == 0
    capsys.readouterr()
    assert main(["sql", "SELECT COUNT(*) AS n FROM pair_scores", "--warehouse", bigquery_url, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "0"]
