"""The worker's collector thresholds: raised while a pipeline runs, never lowered, the caller's back after."""
import gc

import apache_beam as beam
import pytest

from helpers import record
from producers.event_files import write_events
from transforms.decode import ReadEventFiles
from transforms.worker_gc import WORKER_THRESHOLDS, tune_worker_gc, worker_gc


@pytest.fixture
def python_defaults():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_thresholds_are_raised_inside_and_the_callers_restored_after(python_defaults):
    with worker_gc():
        assert gc.get_threshold() == WORKER_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_a_threshold_already_higher_is_kept(python_defaults):
    gc.set_threshold(1_000_000, 10, 10)
    tune_worker_gc()
    assert gc.get_threshold() == (1_000_000, WORKER_THRESHOLDS[1], WORKER_THRESHOLDS[2])


def test_the_decoder_raises_them_in_the_worker_process_that_runs_it(python_defaults, tmp_path):
    # FnApiRunner's worker is a thread of this process: after a run outside run_scoring (which
    # restores), the thresholds are the ones the decoder's setup set.
    write_events(tmp_path / "a.jsonl", [record(event_id="a1")])
    with beam.Pipeline("FnApiRunner") as p:
        p | ReadEventFiles([str(tmp_path / "a.jsonl")])
    assert gc.get_threshold() == WORKER_THRESHOLDS
