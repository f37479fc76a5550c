"""The BigQuery emulator the tests use: its DuckDB engine runs under a memory cap (uncapped, it took
80% of the machine's RAM, was OOM-killed mid-suite, and the test waiting on it hung CI)."""
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from services.bigquery_emulator import MEMORY_LIMIT


def client_of(emulator):
    return bigquery.Client(project=emulator.project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=emulator.endpoint))


def test_the_emulator_answers_queries_under_its_memory_cap(bigquery_emulator):
    client = client_of(bigquery_emulator)
    rows = list(client.query("SELECT current_setting('memory_limit') AS memory_limit").result())
    limit = rows[0]["memory_limit"]  # DuckDB prints it in GiB: 4GB is "3.7 GiB"
    assert limit.endswith("GiB") and float(limit.split()[0]) <= float(MEMORY_LIMIT.rstrip("GB")), limit


def test_an_emulator_grown_past_its_limit_restarts_with_its_data(bigquery_emulator):
    # Its memory grew ~0.8 GB a minute through a full run's BigQuery tests, past the DuckDB cap;
    # empty_bigquery_url restarts it past EMULATOR_RESTART_ABOVE_MB, keeping the datasets.
    client_of(bigquery_emulator).create_dataset("kept_across_a_restart", exists_ok=True)
    assert not bigquery_emulator.restart_if_above(float("inf"))
    pid = bigquery_emulator.process.pid
    assert bigquery_emulator.restart_if_above(0) and bigquery_emulator.process.pid != pid
    datasets = {d.dataset_id for d in client_of(bigquery_emulator).list_datasets()}
    assert "kept_across_a_restart" in datasets
