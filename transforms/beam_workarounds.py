"""Work around an Apache Beam Python SDK race that fails a streaming run (seen with 2.77 on Prism).

When a bundle makes no progress for a while, Prism asks the SDK to split it. The SDK estimates the
current element's progress from the bytes it has output so far, ``element count x mean size`` per
output (``_TaggedReceivers.total_output_bytes``). Each output element is counted, then sized
(``OperationCounters.update_collect``), on the processing thread, while the split request is served on
another: between the two, an output has a count of one and a mean size of NaN (an empty distribution),
the progress becomes NaN, and ``_compute_split`` raises "cannot convert float NaN to integer". The
bundle fails and with it the run. The Kafka read, a long-running splittable DoFn that Prism splits when
the topic is quiet, meets this in the first seconds of a live stream (bench/soak_streaming.py did).

The fix counts an output whose size is not known yet as no bytes, which is what it is a moment later.
It is applied once, on import, by the modules whose DoFns run in such bundles, so it also holds in a
remote SDK worker, which imports them to unpickle the DoFns.
"""
from __future__ import annotations

import math

from apache_beam.runners.worker import operations


def _total_output_bytes(receivers: "operations._TaggedReceivers") -> int:
    total = 0
    for receiver in receivers.values():
        elements = receiver.opcounter.element_counter.value()
        if elements > 0:
            mean = receiver.opcounter.mean_byte_counter.value()[0]
            if not math.isnan(mean):  # counted, not yet sized: no bytes known yet
                total += elements * mean
    return total


def apply() -> None:
    """Patch the SDK once; a newer SDK without ``_TaggedReceivers.total_output_bytes`` is left alone."""
    tagged = getattr(operations, "_TaggedReceivers", None)
    if tagged is not None and hasattr(tagged, "total_output_bytes"):
        tagged.total_output_bytes = _total_output_bytes


apply()
