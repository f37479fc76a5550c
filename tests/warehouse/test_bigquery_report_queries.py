"""The report's and the status's queries, and `sql`, give the same rows on BigQuery (the local
emulator) as on the embedded warehouse."""
import datetime as dt

import pytest

from helpers import DAY_MS, E, score_row as row
from report import data as report_data
from warehouse import open_warehouse

ROWS = [row("a1", "r", E, 0.4, days=3), row("a1", "r", E - 14 * DAY_MS, 0.6, days=2),
        row("a2", "r", E, 0.65), row("a4", "r", E, 5.0, site="other")]
DEAD = [{"origin": "f:1", "error_kind": "PARSE_ERROR", "message": "bad", "arrived_at": E, "run_started_at": E},
        {"origin": "f:2", "error_kind": "PARSE_ERROR", "message": "bad", "arrived_at": E, "run_started_at": E},
        {"origin": "f:3", "error_kind": "BAD_TIMESTAMP", "message": "old", "arrived_at": E - DAY_MS, "run_started_at": E}]
SINCE = dt.datetime.fromtimestamp((E - 10 * DAY_MS) / 1000, dt.timezone.utc).replace(tzinfo=None)


def both(bigquery_url, warehouse_path, ask):
    results = []
    for url in (bigquery_url, warehouse_path):
        warehouse = open_warehouse(url)
        warehouse.write_scores([dict(r) for r in ROWS])
        warehouse.write_dead_letters([dict(d) for d in DEAD])
        columns, rows = ask(warehouse)
        results.append((columns, [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]))
    assert results[0] == results[1] and results[0][1]
    return results[0]


@pytest.mark.parametrize("name, params", [
    ("report_windows", {"site": None, "since": None, "as_of": None}),
    ("report_windows", {"site": "s", "since": SINCE, "as_of": None}),
    ("report_dead_letters", {}),
    ("status_newest_window", {}),
    ("status_dead_letters", {"since": SINCE}),
])
def test_report_and_status_queries_agree(bigquery_url, warehouse_path, name, params):
    both(bigquery_url, warehouse_path, lambda w: w.query(name, params))


def test_sql_reads_the_dataset_s_tables_unqualified(bigquery_url, warehouse_path):
    columns, rows = both(bigquery_url, warehouse_path, lambda w: w.sql(
        "SELECT site, COUNT(*) AS n FROM pair_scores_latest GROUP BY site ORDER BY site"))
    assert rows == [("other", 1), ("s", 3)]
    with pytest.raises(ValueError, match="read-only"):
        open_warehouse(bigquery_url).sql("DELETE FROM pair_scores WHERE TRUE")


def test_the_report_reads_bigquery(bigquery_url):
    open_warehouse(bigquery_url).write_scores([dict(r) for r in ROWS])
    loaded = report_data.load(bigquery_url)
    assert loaded.windows == 4 and len(loaded.pairs) == 3
