"""Keying contributions by pair and event-time window."""
import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from helpers import DAY_MS, T0
from transforms.thread_ledger import Contribution
from transforms.windowing import KeyByWindow, key_by_window, window_bounds

WEEK_MS = 7 * DAY_MS


def test_key_by_window_keys_each_contribution_by_pair_and_window_with_one_argument_per_element():
    start, end = window_bounds(T0, WEEK_MS)
    comment = Contribution("s", "author", "reader", False, T0, T0, None)
    late_reply = Contribution("s", "author", "reader", True, T0, end + 1, (end + 1 - T0) / 1000)
    with beam.Pipeline("FnApiRunner") as p:
        keyed = p | beam.Create([comment, late_reply]) | "Key" >> KeyByWindow(WEEK_MS / 1000)
        assert_that(keyed, equal_to([key_by_window(comment, WEEK_MS), key_by_window(late_reply, WEEK_MS)]))
    assert key_by_window(late_reply, WEEK_MS) == (
        ("s", "author", "reader", start, end), late_reply._replace(after_window_end=True))
    # An extra argument to Map sends every element through Beam's slower argument-handling path.
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            if node.full_label == "Key/KeyByPairAndWindow":
                found.append(node.transform)

        enter_composite_transform = visit_transform

    p.visit(Visitor())
    assert [(list(t.args), t.kwargs) for t in found] == [([], {})]
