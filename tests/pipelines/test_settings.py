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
