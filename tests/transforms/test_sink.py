"""Writing to the warehouse: rows it refuses are kept as dead letters, never lost."""
import datetime as dt
import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from helpers import E, T0, score_row
from transforms.events import WAREHOUSE_REFUSED, DeadLetter
from transforms.sink import WriteDeadLetters, WriteScores
from warehouse import open_warehouse


def test_a_refused_score_row_becomes_a_dead_letter_with_bigquery_s_reason(bigquery_url):
    bad = score_row("a", "r-bad", E, 0.2)
    bad["reader_comments"] = "many"
    rows = [score_row("a", f"r{i}", E, 0.1) for i in range(5)] + [bad]
    decode_dead = DeadLetter("file.avro:7", "PARSE_ERROR", "not JSON", None, "{")
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    refused = (pipeline | "Scores" >> beam.Create(rows) | WriteScores(bigquery_url))["refused"]
    dead = pipeline | "DeadLetters" >> beam.Create([decode_dead])
    (dead, refused) | beam.Flatten() | WriteDeadLetters(bigquery_url, T0)
    result = pipeline.run()
    result.wait_until_finish()

    warehouse = open_warehouse(bigquery_url)
    assert warehouse.count("pair_scores") == 5
    columns, letters = warehouse.export("dead_letters")
    letters = [dict(zip(columns, letter)) for letter in letters]
    by_kind = {letter["error_kind"]: letter for letter in letters}
    assert set(by_kind) == {"PARSE_ERROR", WAREHOUSE_REFUSED}
    refused_letter = by_kind[WAREHOUSE_REFUSED]
    assert refused_letter["origin"].startswith("warehouse:pair_scores/s/a/r-bad/")
    assert "reader_comments" in refused_letter["message"]
    assert json.loads(refused_letter["raw_payload"])["reader_comments"] == "many"
    assert {letter["run_started_at"].replace(tzinfo=dt.timezone.utc).timestamp() * 1000 for letter in letters} == {T0}
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
                if c.key.metric.namespace == "warehouse"}
    assert counters == {"pair_scores_written": 5, "pair_scores_refused": 1, "dead_letters_written": 2}


def test_rows_kept_back_for_a_more_complete_row_are_counted_out_of_the_sink(warehouse_path):
    from apache_beam.testing.util import assert_that, equal_to

    open_warehouse(warehouse_path).write_scores([score_row("a", f"r{i}", E, 0.5, rc=5, run=T0) for i in range(3)])
    truncated = [score_row("a", f"r{i}", E, 0.1, rc=1, run=T0 + 1) for i in range(3)]
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as pipeline:
        written = pipeline | beam.Create(truncated) | WriteScores(warehouse_path)
        assert_that(written["kept"] | beam.CombineGlobally(sum), equal_to([3]))
        assert_that(written["refused"], equal_to([]), label="none refused")
    assert open_warehouse(warehouse_path).count("pair_scores") == 3


def _labels(pipeline):
    labels = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            labels.append(node.full_label)

        def visit_transform(self, node):
            labels.append(node.full_label)

    pipeline.visit(Visitor())
    return labels


def test_bounded_rows_already_in_the_global_window_are_not_windowed_again(warehouse_path):
    # Re-windowing cost a step per row of a bounded run, where it changes nothing.
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    _ = pipeline | beam.Create([score_row("a", "r", E, 0.1)]) | "Write" >> WriteScores(warehouse_path)
    assert not [label for label in _labels(pipeline) if "AnyWindow" in label]
    pipeline.run().wait_until_finish()
    assert open_warehouse(warehouse_path).count("pair_scores") == 1


def test_rows_in_other_windows_are_still_batched_across_windows(warehouse_path):
    from apache_beam.transforms.window import FixedWindows, TimestampedValue

    rows = [score_row("a", f"r{i}", E, 0.1) for i in range(3)]
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    _ = (pipeline | beam.Create(list(enumerate(rows)))
         | beam.Map(lambda ir: TimestampedValue(ir[1], ir[0] * 100))
         | beam.WindowInto(FixedWindows(60)) | "Write" >> WriteScores(warehouse_path))
    assert [label for label in _labels(pipeline) if label.endswith("AnyWindow")] == ["Write/AnyWindow"]
    pipeline.run().wait_until_finish()
    assert open_warehouse(warehouse_path).count("pair_scores") == 3


def test_a_bounded_run_writes_the_embedded_warehouse_in_batches_of_at_most_ten_thousand_rows(warehouse_path):
    # A batch is held as row dicts while it is written: BigQuery's load-job size (50,000) raised a
    # 1M-event run's peak RSS by about 100 MB on the embedded warehouse, which needs no large batches.
    from apache_beam.metrics.metric import MetricsFilter

    rows = [score_row("a", f"r{i}", E, 0.1) for i in range(12_000)]
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    _ = pipeline | beam.Create(rows, reshuffle=False) | "Write" >> WriteScores(warehouse_path, bulk=True)
    result = pipeline.run()
    result.wait_until_finish()
    sizes = result.metrics().query(MetricsFilter().with_name("pair_scores_batch_rows"))["distributions"]
    batches = sizes[0].committed
    assert (batches.sum, batches.max, batches.count) == (12_000, 10_000, 2)
    assert open_warehouse(warehouse_path).count("pair_scores") == 12_000


def _count_opens(monkeypatch) -> list:
    import duckdb

    opens, real_connect = [], duckdb.connect

    def counting_connect(*args, **kwargs):
        opens.append(args)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting_connect)
    return opens


def _write_bulk(warehouse_path, rows):
    from apache_beam.metrics.metric import MetricsFilter

    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    _ = pipeline | beam.Create(rows, reshuffle=False) | "Write" >> WriteScores(warehouse_path, bulk=True)
    result = pipeline.run()
    result.wait_until_finish()
    return result.metrics().query(MetricsFilter().with_name("pair_scores_batch_rows"))["distributions"][0].committed


def test_a_bounded_run_opens_the_embedded_warehouse_once_for_a_bundle_of_batches(warehouse_path, monkeypatch):
    # Each close of a written DuckDB file checkpoints it, rewriting the whole primary-key index: one
    # open per 10,000-row batch cost a 1M-event run about 10% of its time (README, "Speed and scale").
    open_warehouse(warehouse_path)
    opens = _count_opens(monkeypatch)
    batches = _write_bulk(warehouse_path, [score_row("a", f"r{i}", E, 0.1) for i in range(25_000)])
    assert batches.count == 3
    assert len(opens) == 2  # the worker's open_warehouse (which creates nothing here), and one for the writes
    assert open_warehouse(warehouse_path).count("pair_scores") == 25_000


def test_a_hold_is_let_go_after_a_while_so_readers_get_in(warehouse_path, monkeypatch):
    import transforms.sink

    monkeypatch.setattr(transforms.sink, "HOLD_MAX_S", 0.0)
    open_warehouse(warehouse_path)
    opens = _count_opens(monkeypatch)
    batches = _write_bulk(warehouse_path, [score_row("a", f"r{i}", E, 0.1) for i in range(25_000)])
    assert len(opens) == 1 + batches.count == 4


def test_a_write_that_fails_lets_go_of_the_warehouse_at_once(warehouse_path):
    import threading

    import pytest

    from transforms.sink import WriteBatchFn
    from warehouse.duckdb_connection import connect

    write = WriteBatchFn(warehouse_path, "pair_scores", bulk=True)
    write.setup()
    write.start_bundle()
    list(write.process([score_row("a", "r1", E, 0.1)]))
    bad = score_row("a", "r2", E, 0.1)
    bad["reader_comments"] = "many"
    with pytest.raises(Exception):
        list(write.process([bad]))
    # the runner may retry the bundle on another thread: the hold must not outlive the failure
    opened = threading.Event()

    def open_it() -> None:
        with connect(warehouse_path):
            opened.set()

    threading.Thread(target=open_it, daemon=True).start()
    assert opened.wait(10)
    write.teardown()
    assert open_warehouse(warehouse_path).count("pair_scores") == 1
