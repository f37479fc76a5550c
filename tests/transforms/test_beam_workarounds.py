"""The SDK race behind a streaming run that failed in its first seconds (found by the soak,
bench/soak_streaming.py): Prism asks a slow bundle of the Kafka read to split; the SDK estimates the
read's progress from its output bytes, ``element count x mean size``, and an output element already
counted but not yet sized (``OperationCounters.update_collect`` counts first, sizes second, while the
split request runs on another thread) has a mean size of NaN. ``_compute_split`` then raised
"cannot convert float NaN to integer", the bundle failed, and the run ended FAILED."""
import math

import pytest

from apache_beam.runners.worker import operations
from apache_beam.runners.worker.bundle_processor import DataInputOperation
from apache_beam.utils.counters import CounterFactory

import transforms.beam_workarounds  # noqa: F401  (what the pipeline's Kafka source imports)


def receivers_between_count_and_size():
    """Tagged receivers with one output element counted and not yet sized: the state a split
    request meets when it lands between the two updates of ``update_collect``."""
    receivers = operations._TaggedReceivers(CounterFactory(), "ReadKafka")
    sized, racing = receivers["main"], receivers["dead_letters"]
    sized.opcounter.element_counter.update(3)
    sized.opcounter.mean_byte_counter.update(100)
    racing.opcounter.element_counter.update(1)  # update_collect's first half only
    return receivers


def test_output_bytes_of_an_element_counted_but_not_yet_sized_are_a_number():
    total = receivers_between_count_and_size().total_output_bytes()
    assert not math.isnan(total) and total == 300  # the sized receiver's bytes; the other adds none yet


def test_a_nan_progress_is_what_failed_the_split():
    with pytest.raises(ValueError, match="NaN"):
        DataInputOperation._compute_split(0, math.nan, float("inf"), 0.5, 1)


def test_a_split_request_in_that_state_computes_a_split():
    progress = 300 / (300 + 1)  # what the Kafka tracker's progress becomes with those output bytes
    split = DataInputOperation._compute_split(0, progress, float("inf"), 0.5, 1)
    assert split is not None and split[0] == 0  # keeps the current element, splits after it
