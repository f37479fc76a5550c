"""The run ledger: what became of every input record, counted from the pipeline's own outputs and
written to the warehouse's ``run_ledger`` table in the same pipeline as the rows.

Why not Beam's metrics: they are best-effort (a streaming probe showed a DoFn emitting two elements
while its counter committed one), and a runner may lose or double them. The ledger is data: every
element of the pipeline's outputs becomes a ledger entry ((outcome, reason), n), summed per key by an
ordinary combine, which every runner computes as exactly as the scores themselves.

Outcomes of input records (the run summary's lines; they balance):

* ``records_in``: the events and the decode dead letters that enter the scoring pipeline;
* ``scored``: the records the resolver scored (``interactions``), less those that then arrived too
  late for their window (``TOO_LATE`` dead letters);
* ``skipped`` by reason; ``duplicates`` (reason empty: a re-delivered event_id; ``same_origin``: a bad
  record read twice, e.g. the same file given twice); ``dead_lettered`` by error_kind.

Rows, not records (outside the balance): ``pair_rows`` ``computed`` (rows and panes the run computed),
``refused`` (rows the warehouse refused, kept as WAREHOUSE_REFUSED dead letters) and
``kept_more_complete`` (rows the embedded warehouse did not store because it holds a row of another
run computed from more data); ``credits`` ``late_author_replies`` (streaming: author replies that
reached a window already closed, so in no row).

A bounded run writes each count once, at the end. A stream counts in the global window, fires every
``early_count`` entries of an outcome (accumulating: each write is the count so far, with a higher pane
index) and once more when the stream is drained and its watermark reaches the end.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Optional

import apache_beam as beam
from apache_beam.transforms import trigger
from apache_beam.transforms.window import GlobalWindow, GlobalWindows
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from transforms.events import TOO_LATE, DeadLetter
from transforms.sink import WriteDeadLetters, WriteLedgerRows, WriteScores

RECORDS_IN, SCORED, SKIPPED, DUPLICATES, DEAD_LETTERED = "records_in", "scored", "skipped", "duplicates", "dead_lettered"
PAIR_ROWS, COMPUTED, REFUSED, KEPT_MORE_COMPLETE = "pair_rows", "computed", "refused", "kept_more_complete"
SAME_ORIGIN = "same_origin"
# Credits, not records (outside the balance): author replies that reached a window already closed.
CREDITS, LATE_AUTHOR_REPLIES = "credits", "late_author_replies"
REPEATS = "repeats"
# A stream's counts so far are written every this many entries of an outcome, not every so many
# seconds: Prism 2.77 panics ("assignment to entry in nil map", aggregateStageKind.
# buildProcessingTimeBundle) when a processing-time trigger's timer fires after a drain has closed
# the global window, which ended a drained run FAILED.
LEDGER_EARLY_COUNT = 50

Entry = tuple[tuple[str, str], int]


def dead_letter_entries(dead_letter: DeadLetter) -> list[Entry]:
    """A (distinct) dead letter: one record dead-lettered; a TOO_LATE one was scored first, and is not."""
    entries = [((DEAD_LETTERED, dead_letter.error_kind), 1)]
    if dead_letter.error_kind == TOO_LATE:
        entries.append(((SCORED, ""), -1))
    return entries


# Which ledger entries each input of ``CountOutcomes`` gives, per element.
ENTRIES: dict[str, Callable[[Any], list[Entry]]] = {
    "events": lambda _: [((RECORDS_IN, ""), 1)],
    "decode_dead_letters": lambda _: [((RECORDS_IN, ""), 1)],
    "interactions": lambda _: [((SCORED, ""), 1)],
    "skipped": lambda reason_and_event: [((SKIPPED, reason_and_event[0]), 1)],
    "duplicates": lambda _: [((DUPLICATES, ""), 1)],
    "dead_letters": dead_letter_entries,
    "repeated_dead_letters": lambda copies: [((DUPLICATES, SAME_ORIGIN), copies)],
    "scores": lambda _: [((PAIR_ROWS, COMPUTED), 1)],
    "refused": lambda _: [((PAIR_ROWS, REFUSED), 1)],
    "kept": lambda rows: [((PAIR_ROWS, KEPT_MORE_COMPLETE), rows)],
    "late_author_replies": lambda _: [((CREDITS, LATE_AUTHOR_REPLIES), 1)],
}


class FirstCopyFn(beam.CombineFn):
    """Copies of one dead letter (same origin and error) -> (one copy, how many there were)."""

    def create_accumulator(self) -> tuple[Optional[DeadLetter], int]:
        return None, 0

    def add_input(self, acc: tuple, dead_letter: DeadLetter) -> tuple:
        return self.merge_accumulators([acc, (dead_letter, 1)])

    def merge_accumulators(self, accumulators: Iterable[tuple]) -> tuple:
        copies = [acc for acc in accumulators if acc[0] is not None]
        if not copies:
            return None, 0
        # Copies of one record are alike; the choice is made deterministic anyway.
        first = min((acc[0] for acc in copies), key=lambda d: (d.message, d.raw_payload or "", d.event_id or ""))
        return first, sum(acc[1] for acc in copies)

    def extract_output(self, acc: tuple) -> tuple:
        return acc


def _split_copies(keyed: tuple[Any, tuple[DeadLetter, int]]) -> Iterable[Any]:
    _, (dead_letter, copies) = keyed
    yield dead_letter
    if copies > 1:
        yield beam.pvalue.TaggedOutput(REPEATS, copies - 1)


class DistinctDeadLetters(beam.PTransform):
    """Bounded: dead letters -> one per (origin, error_kind) (main) and the number of extra copies
    (``repeats``). The warehouse stores a record's dead letter once per run, so the ledger must count
    it once: a bad record read twice (the same file given twice) is a duplicate the second time.
    A stream reads each Kafka offset once per run, so it needs no such step."""

    def expand(self, dead_letters: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            dead_letters
            | "KeyByOriginAndError" >> beam.Map(lambda d: ((d.origin, d.error_kind), d))
            | "OneCopyEach" >> beam.CombinePerKey(FirstCopyFn())
            | "SplitCopies" >> beam.FlatMap(_split_copies).with_outputs(REPEATS, main="dead_letters")
        )


class CountInBundleFn(beam.DoFn):
    """Bounded: elements in; their ledger entries summed over the bundle out, in the global window,
    when the bundle ends. Exact as the per-element entries are (a retried bundle's outputs are
    discarded with it), and about 3 µs an element cheaper: an entry per element cost a FlatMap
    output, a window assignment, and an encode and decode where the runner materialized the Flatten."""

    def __init__(self, entries: Callable[[Any], list[Entry]]):
        self.entries = entries

    def start_bundle(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def process(self, element: Any) -> Iterable[Entry]:
        counts = self.counts
        for key, n in self.entries(element):
            counts[key] = counts.get(key, 0) + n
        return ()

    def finish_bundle(self) -> Iterable[WindowedValue]:
        for entry in self.counts.items():
            yield WindowedValue(entry, MIN_TIMESTAMP, [GlobalWindow()])
        self.counts = {}


class CountOutcomes(beam.PTransform):
    """A dict of the pipeline's PCollections (keys of ``ENTRIES``) -> ((outcome, reason), count),
    in the global window: once at the end of a bounded run (pre-summed per bundle); in a stream every
    ``early_count`` entries of an outcome (accumulating) and finally when the watermark reaches the end."""

    def __init__(self, streaming: bool = False, early_count: int = LEDGER_EARLY_COUNT):
        super().__init__()
        self.streaming = streaming
        self.early_count = early_count

    def expand(self, outputs: dict[str, beam.PCollection]) -> beam.PCollection:
        unknown = set(outputs) - set(ENTRIES)
        if unknown:
            raise ValueError(f"no ledger entries for {sorted(unknown)}")
        # A bundle's sums are stamped in the global window: only for inputs already there (a bounded
        # run's are), else an element's window and its coder would disagree.
        if not self.streaming and all(isinstance(p.windowing.windowfn, GlobalWindows) for p in outputs.values()):
            entries = [pcoll | f"{name}Entries" >> beam.ParDo(CountInBundleFn(ENTRIES[name]))
                       for name, pcoll in sorted(outputs.items())]
            return entries | "AllEntries" >> beam.Flatten() | "SumPerOutcome" >> beam.CombinePerKey(sum)
        # A stream fires every early_count entries: one entry per element, as they come.
        entries = [
            pcoll
            | f"{name}Entries" >> beam.FlatMap(ENTRIES[name])
            | f"{name}IntoGlobalWindow" >> beam.WindowInto(GlobalWindows())
            for name, pcoll in sorted(outputs.items())
        ]
        flat = entries | "AllEntries" >> beam.Flatten() | "FireAsItGoes" >> beam.WindowInto(
            GlobalWindows(),
            trigger=trigger.AfterWatermark(early=trigger.AfterCount(self.early_count)),
            accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
        )
        return flat | "SumPerOutcome" >> beam.CombinePerKey(sum)


class FormatLedgerRowFn(beam.DoFn):
    """((outcome, reason), count) in a pane -> one ``run_ledger`` row of run ``run_started_at``."""

    def __init__(self, run_started_at: int):
        self.run_started_at = run_started_at

    def process(self, element: Entry, pane=beam.DoFn.PaneInfoParam) -> Iterable[dict[str, Any]]:
        (outcome, reason), count = element
        yield {
            "run_started_at": self.run_started_at, "outcome": outcome, "reason": reason, "count": count,
            "pane_index": pane.index if pane is not None else 0, "recorded_at": int(time.time() * 1000),
        }


class WriteWithLedger(beam.PTransform):
    """Writes a run's results and its ledger. In: a dict with the scoring pipeline's inputs
    (``events``, ``decode_dead_letters``) and outputs (``interactions``, ``skipped``,
    ``duplicates``, ``dead_letters``, ``scores``). ``scores`` go to pair_scores, dead letters (and
    refused rows) to dead_letters, the counts of every outcome to run_ledger, all under the run id
    ``run_started_at``."""

    def __init__(self, warehouse_url: str, run_started_at: int, streaming: bool = False, bulk: bool = False,
                 early_count: int = LEDGER_EARLY_COUNT):
        super().__init__()
        self.warehouse_url = warehouse_url
        self.run_started_at = run_started_at
        self.streaming = streaming
        self.bulk = bulk
        self.early_count = early_count

    def expand(self, results: dict[str, beam.PCollection]) -> beam.PCollection:
        counted = dict(results)
        if not self.streaming:
            distinct = results["dead_letters"] | "DistinctDeadLetters" >> DistinctDeadLetters()
            counted["dead_letters"] = distinct.dead_letters
            counted["repeated_dead_letters"] = distinct[REPEATS]
        written = results["scores"] | "WriteScores" >> WriteScores(self.warehouse_url, self.bulk)
        (
            (counted["dead_letters"], written["refused"])
            | "WithRefusedScores" >> beam.Flatten()
            | "WriteDeadLetters" >> WriteDeadLetters(self.warehouse_url, self.run_started_at, self.bulk)
        )
        counted.update(refused=written["refused"], kept=written["kept"])
        return (
            counted
            | "CountOutcomes" >> CountOutcomes(self.streaming, self.early_count)
            | "LedgerRows" >> beam.ParDo(FormatLedgerRowFn(self.run_started_at))
            | "WriteLedger" >> WriteLedgerRows(self.warehouse_url, self.bulk)
        )
