"""``--bigquery-write storage-exactly-once``: committed streams with offsets in Beam state, against the
emulator. A retried bundle is simulated as the runner makes one: the same batch processed again from
the state the runner last committed (the failed attempt's state writes are dropped)."""
import copy

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from helpers import E, score_row as row
from transforms.exactly_once_writes import AppendAtOffsetFn, ExactlyOnceWrite, create_shard_streams, insert_id
from warehouse import open_warehouse


class CommittedState:
    """One value of a key's state as the runner keeps it between bundles."""

    def __init__(self, value=None):
        self.value = value

    def read(self):
        return self.value

    def write(self, value):
        self.value = value

    def clear(self):
        self.value = None


def _rows_per_key(warehouse):
    """How often each pair and window is stored in the base table (not the latest view)."""
    columns, rows = warehouse.export("pair_scores", all_rows=True)
    keys = [tuple(r[columns.index(c)] for c in ("author_id", "reader_id", "window_end")) for r in rows]
    return {key: keys.count(key) for key in keys}


@pytest.mark.parametrize("mode, stored_per_key", [("storage", 2), ("storage-exactly-once", 1)])
def test_a_retried_bundle_is_stored_once_on_a_committed_stream_and_twice_on_the_default_stream(
        bigquery_url, mode, stored_per_key):
    warehouse = open_warehouse(bigquery_url + "?write=" + mode)
    batch = [row("a", f"r{i}", E, 0.1) for i in range(3)]
    if mode == "storage":  # the bundle's write runs, the bundle fails after it, the runner runs it again
        for _ in range(2):
            assert warehouse.write_scores([dict(r) for r in batch]).refused == []
    else:
        (stream,) = create_shard_streams(bigquery_url, "pair_scores", shards=1)
        write = AppendAtOffsetFn(bigquery_url, "pair_scores", [stream])
        write.setup()
        committed = (CommittedState(), CommittedState())  # what the runner holds for shard 0
        for attempt in ("fails after its append", "the retry"):
            state = copy.deepcopy(committed)
            assert list(write.process((0, list(reversed(batch))), *state)) == []
        committed = state
        assert committed[1].read() == 3  # the retry found the rows there and moved the offset past them
        assert write.already_written_rows == 3 and write.appended_rows == 3
        # The next batch of the shard goes after them.
        assert list(write.process((0, [row("b", "r", E, 0.1)]), *committed)) == []
        assert committed[1].read() == 4
        batch.append(row("b", "r", E, 0.1))
    assert set(_rows_per_key(warehouse).values()) == {stored_per_key}
    assert len(_rows_per_key(warehouse)) == len(batch)
    assert warehouse.count("pair_scores") == len(batch)  # the latest view: one row per key either way


def test_a_retry_after_a_failure_between_two_appends_adds_only_the_rows_not_yet_stored(bigquery_url, monkeypatch):
    from transforms import exactly_once_writes

    monkeypatch.setattr(exactly_once_writes, "MAX_APPEND_ROWS", 2)  # a batch of 5: appends of 2, 2 and 1
    (stream,) = create_shard_streams(bigquery_url, "pair_scores", shards=1)
    write = AppendAtOffsetFn(bigquery_url, "pair_scores", [stream])
    write.setup()
    batch = [row("a", f"r{i}", E, 0.1) for i in range(5)]
    append = write.writer.append_committed

    def worker_dies_after_one_append(*args):
        append(*args)
        raise ConnectionResetError("the worker died")

    write.writer.append_committed = worker_dies_after_one_append
    committed = (CommittedState(), CommittedState())
    with pytest.raises(ConnectionResetError):
        list(write.process((0, batch), *copy.deepcopy(committed)))
    write.writer.append_committed = append
    assert list(write.process((0, batch), *committed)) == []  # the retry, from the committed state
    assert (write.already_written_rows, write.appended_rows, committed[1].read()) == (2, 3, 5)
    counts = _rows_per_key(open_warehouse(bigquery_url))
    assert len(counts) == 5 and set(counts.values()) == {1}


def test_a_batch_is_sent_in_key_order_whatever_order_it_came_in(bigquery_url):
    (stream,) = create_shard_streams(bigquery_url, "pair_scores", shards=1)
    write = AppendAtOffsetFn(bigquery_url, "pair_scores", [stream])
    write.setup()
    sent = []
    write.writer.append_committed = lambda stream, table, rows, offset: (sent.append(rows), ([], False))[1]
    rows = [row("a", f"r{i}", E, 0.1) for i in (3, 1, 2)]
    list(write.process((0, rows), CommittedState(), CommittedState()))
    list(write.process((0, list(reversed(rows))), CommittedState(), CommittedState()))
    assert sent[0] == sent[1] and [r["reader_id"] for r in sent[0]] == ["r1", "r2", "r3"]
    assert [insert_id("pair_scores", r) for r in sent[0]] == sorted(insert_id("pair_scores", r) for r in rows)


def test_an_offset_beyond_the_stream_s_end_fails_the_bundle_with_what_disagrees(bigquery_url):
    (stream,) = create_shard_streams(bigquery_url, "pair_scores", shards=1)
    write = AppendAtOffsetFn(bigquery_url, "pair_scores", [stream])
    write.setup()
    with pytest.raises(RuntimeError, match=r"offset 7 is beyond the end of committed stream .*pair_scores"):
        list(write.process((0, [row("a", "r", E, 0.1)]), CommittedState(stream), CommittedState(7)))


def test_a_refused_row_becomes_a_dead_letter_and_the_others_are_appended_once(bigquery_url):
    from apache_beam.testing.util import assert_that, equal_to

    bad = row("a", "r-bad", E, 0.2)
    bad["reader_comments"] = None  # required
    rows = [row("a", f"r{i}", E, 0.1) for i in range(20)] + [bad]
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as pipeline:
        written = pipeline | beam.Create(rows) | ExactlyOnceWrite(bigquery_url, "pair_scores", shards=3)
        assert_that(written.refused | beam.Map(lambda letter: (letter.origin.split("/")[3], letter.error_kind)),
                    equal_to([("r-bad", "WAREHOUSE_REFUSED")]))
    warehouse = open_warehouse(bigquery_url)
    assert set(_rows_per_key(warehouse).values()) == {1} and len(_rows_per_key(warehouse)) == 20
