"""Messages a user reads: times in ISO 8601 UTC (never raw epoch milliseconds), and `kafka status`
finding the local broker from any directory."""
import json
import os
import time

from helpers import T0, event
from pipelines.cli import main
from transforms.dedupe import event_json
from transforms.events import iso_utc


def test_a_start_in_the_future_is_named_in_iso_8601(tmp_path, capsys):
    future = int(time.time() * 1000) + 30 * 86_400_000
    assert main(["generate", "--out", str(tmp_path / "e.avro"), "--start", str(future)]) == 2
    err = capsys.readouterr().err
    assert iso_utc(future) in err and str(future) not in err


def test_a_dead_letter_s_raw_payload_writes_its_times_in_iso_8601():
    record = json.loads(event_json(event("c1", "COMMENT", "r", T0, parent="p1", parent_actor="a", parent_at=T0 - 1000)))
    assert record["created_at"] == iso_utc(T0) and record["parent_created_at"] == iso_utc(T0 - 1000)


def test_kafka_status_finds_the_local_broker_from_another_directory(tmp_path, monkeypatch, capsys):
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("SOCIAL_MENTORS_CACHE", str(cache))
    # a broker started in one folder (the pid file of a live process stands in for it) ...
    (cache / "kafka").mkdir(parents=True)
    (cache / "kafka" / "broker.pid").write_text(str(os.getpid()))
    # ... is seen from another
    monkeypatch.chdir(elsewhere)
    assert main(["kafka", "status", "--port", "1"]) == 0
    assert f"running, pid {os.getpid()}" in capsys.readouterr().out


def test_bigquery_refusing_a_run_s_status_names_the_run_in_iso_8601():
    import pytest

    from warehouse import RefusedRow
    from warehouse.bigquery_warehouse import BigQueryWarehouse

    warehouse = object.__new__(BigQueryWarehouse)  # no client: the insert is refused below
    warehouse._ids = lambda table, rows, fields: None
    warehouse._insert = lambda table, rows, ids: [RefusedRow(rows[0], "no such field")]
    with pytest.raises(RuntimeError) as refused:
        warehouse.record_run({"run_started_at": T0, "status": "RUNNING"})
    assert iso_utc(T0) in str(refused.value) and str(T0) not in str(refused.value)
