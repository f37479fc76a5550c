import pytest

from pipelines.settings import RunSettings


def test_bounded_runs_load_and_streams_insert_unless_told_otherwise():
    assert RunSettings(warehouse="w").bulk_writes
    assert not RunSettings(warehouse="w", streaming=True).bulk_writes
    assert not RunSettings(warehouse="w", bigquery_write="streaming").bulk_writes
    with pytest.raises(ValueError, match="needs a bounded run"):
        RunSettings(warehouse="w", streaming=True, bigquery_write="load")
    with pytest.raises(ValueError, match="auto, load, streaming, storage"):
        RunSettings(warehouse="w", bigquery_write="fast")


def test_only_a_stream_needs_a_dedupe_horizon_as_long_as_window_and_lateness():
    assert RunSettings(warehouse="w", window_s=30 * 86400).window_s == 30 * 86400  # bounded: deduped whole
    with pytest.raises(ValueError, match=r"--dedupe-horizon \(14d\) must be at least --window \+ "
                                         r"--allowed-lateness \(32d\)"):
        RunSettings(warehouse="w", window_s=30 * 86400, streaming=True)


def test_durations_are_said_in_the_largest_whole_unit():
    from pipelines.settings import describe_duration

    assert [describe_duration(s) for s in (14 * 86400, 32 * 86400, 7200, 90, 45, 1.5)] == \
        ["14d", "32d", "2h", "90s", "45s", "1.5s"]


def test_the_exactly_once_mode_reaches_the_sinks_through_the_bigquery_url_only():
    from warehouse.bigquery_warehouse import writes_exactly_once

    exactly_once = RunSettings(warehouse="bigquery://p/d", bigquery_write="storage-exactly-once")
    assert exactly_once.sink_warehouse == "bigquery://p/d?write=storage-exactly-once" and not exactly_once.bulk_writes
    assert writes_exactly_once(exactly_once.sink_warehouse)
    assert not writes_exactly_once(RunSettings(warehouse="bigquery://p/d", bigquery_write="storage").sink_warehouse)
    assert not writes_exactly_once(RunSettings(warehouse="w.duckdb", bigquery_write="storage-exactly-once").sink_warehouse)
