"""The run ledger: counts of every outcome, from the pipeline's outputs."""
import datetime as dt

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.testing.util import assert_that, equal_to

from helpers import T0, event
from transforms.events import DeadLetter
from transforms.ledger import ENTRIES, CountInBundleFn, CountOutcomes, DistinctDeadLetters, WriteWithLedger
from warehouse import open_warehouse


def dead(origin, kind="PARSE_ERROR"):
    return DeadLetter(origin, kind, "m", None, "raw")


def test_every_output_is_counted_and_a_too_late_record_is_not_scored():
    with beam.Pipeline("FnApiRunner") as p:
        outputs = {
            "events": p | "Events" >> beam.Create(["e1", "e2", "e3", "e4", "e5"]),
            "decode_dead_letters": p | "Decode" >> beam.Create([dead("f:9")]),
            "interactions": p | "Interactions" >> beam.Create(["i1", "i2", "i3"]),
            "skipped": p | "Skipped" >> beam.Create([("post", "e1")]),
            "duplicates": p | "Duplicates" >> beam.Create(["e5"]),
            "dead_letters": p | "Dead" >> beam.Create([dead("f:9"), dead("f:3", "TOO_LATE")]),
            "scores": p | "Scores" >> beam.Create([{}, {}]),
            "kept": p | "Kept" >> beam.Create([2]),
            "late_author_replies": p | "LateReplies" >> beam.Create(["c1", "c2"]),
        }
        counts = outputs | CountOutcomes()
        assert_that(counts, equal_to([
            (("records_in", ""), 6), (("scored", ""), 2), (("skipped", "post"), 1), (("duplicates", ""), 1),
            (("dead_lettered", "PARSE_ERROR"), 1), (("dead_lettered", "TOO_LATE"), 1),
            (("pair_rows", "computed"), 2), (("pair_rows", "kept_more_complete"), 2),
            (("credits", "late_author_replies"), 2),  # issue 10: counted under their own reason, not records
        ]))


def test_a_bad_record_read_twice_is_one_dead_letter_and_a_duplicate():
    with beam.Pipeline("FnApiRunner") as p:
        distinct = p | beam.Create([dead("f:1"), dead("f:1"), dead("f:1"), dead("f:2"), dead("f:2", "BAD_VALUE")]) \
            | DistinctDeadLetters()
        assert_that(distinct.dead_letters | beam.Map(lambda d: (d.origin, d.error_kind)),
                    equal_to([("f:1", "PARSE_ERROR"), ("f:2", "PARSE_ERROR"), ("f:2", "BAD_VALUE")]))
        assert_that(distinct.repeats, equal_to([2]), label="repeats")


def test_the_ledger_is_written_with_the_rows_under_the_run_id(warehouse_path):
    post = event("p1", "POST", "a", T0)
    with beam.Pipeline("FnApiRunner") as p:
        results = {
            "events": p | "Events" >> beam.Create([post]),
            "decode_dead_letters": p | "Decode" >> beam.Create([dead("f:2")]),
            "interactions": p | "Interactions" >> beam.Create([]),
            "skipped": p | "Skipped" >> beam.Create([("post", post)]),
            "duplicates": p | "Duplicates" >> beam.Create([]),
            "dead_letters": p | "Dead" >> beam.Create([dead("f:2")]),
            "scores": p | "Scores" >> beam.Create([]),
        }
        results | WriteWithLedger(warehouse_path, T0)
    warehouse = open_warehouse(warehouse_path)
    columns, rows = warehouse.export("run_ledger")
    rows = list(rows)
    ledger = {(r[columns.index("outcome")], r[columns.index("reason")]): r[columns.index("count")] for r in rows}
    assert ledger == {("records_in", ""): 2, ("skipped", "post"): 1, ("dead_lettered", "PARSE_ERROR"): 1}
    assert {r[0].replace(tzinfo=dt.timezone.utc).timestamp() * 1000 for r in rows} == {T0}
    assert warehouse.count("dead_letters") == 1


def test_a_bounded_count_sums_each_bundle_once_and_every_bundle_exactly():
    # Bounded runs sum entries per bundle (CountInBundleFn) rather than emitting one per element:
    # across many bundles and both outcomes of a dead letter, the sums stay exact.
    dead_letters = [dead(f"f:{n}", "TOO_LATE" if n % 3 == 0 else "PARSE_ERROR") for n in range(1, 3001)]
    with beam.Pipeline("FnApiRunner") as p:
        outputs = {
            "events": p | "Events" >> beam.Create(range(7000)) | "SpreadEvents" >> beam.Reshuffle(),
            "dead_letters": p | "Dead" >> beam.Create(dead_letters) | "SpreadDead" >> beam.Reshuffle(),
            "interactions": p | "Interactions" >> beam.Create([]),
        }
        assert_that(outputs | CountOutcomes(), equal_to([
            (("records_in", ""), 7000), (("dead_lettered", "PARSE_ERROR"), 2000),
            (("dead_lettered", "TOO_LATE"), 1000), (("scored", ""), -1000),
        ]))


def test_a_bundle_s_entries_leave_as_one_sum_per_outcome():
    fn = CountInBundleFn(ENTRIES["dead_letters"])
    fn.start_bundle()
    for origin in ("f:1", "f:2", "f:3"):
        assert list(fn.process(dead(origin, "TOO_LATE"))) == []
    out = list(fn.finish_bundle())
    assert sorted(v.value for v in out) == [(("dead_lettered", "TOO_LATE"), 3), (("scored", ""), -3)]
    assert all(v.windows == [GlobalWindow()] for v in out)
    assert list(fn.finish_bundle()) == []  # counted once: the next bundle starts from nothing
