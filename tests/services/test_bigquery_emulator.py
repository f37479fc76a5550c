"""The BigQuery emulator the tests use: its DuckDB engine runs under a memory cap (uncapped, it took
80% of the machine's RAM, was OOM-killed mid-suite, and the test waiting on it hung CI)."""
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from services.bigquery_emulator import MEMORY_LIMIT


def test_the_emulator_answers_queries_under_its_memory_cap(bigquery_emulator):
    client = bigquery.Client(project=bigquery_emulator.project, credentials=AnonymousCredentials(),
                             client_options=ClientOptions(api_endpoint=bigquery_emulator.endpoint))
    rows = list(client.query("SELECT current_setting('memory_limit') AS memory_limit").result())
    limit = rows[0]["memory_limit"]  # DuckDB prints it in GiB: 4GB is "3.7 GiB"
    assert limit.endswith("GiB") and float(limit.split()[0]) <= float(MEMORY_LIMIT.rstrip("GB")), limit
