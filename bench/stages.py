"""One timed stage of the benchmark, run in a child process so that its peak RSS is its own.

``python -m bench.stages STAGE ARGS_JSON RESULT_PATH``: runs STAGE with the arguments, writes
{"seconds": ..., "records": ..., ...} to RESULT_PATH. The parent (bench/__main__.py) reads the
child's peak RSS from os.wait4.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable


def generate(events: int, avro: str, parquet: str, seed: int = 1) -> dict[str, Any]:
    from bench.events import write_bench_events

    return {"records": write_bench_events(events, Path(avro), Path(parquet), seed)}


def fastavro_decode(avro: str) -> dict[str, Any]:
    import fastavro

    started, cpu = time.perf_counter(), time.process_time()
    with open(avro, "rb") as stream:
        count = sum(1 for _ in fastavro.reader(stream))
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "records": count}


def duckdb_query(parquet: str, database: str) -> dict[str, Any]:
    import duckdb

    from bench.reference import pair_scores_sql

    with contextlib.suppress(FileNotFoundError):
        os.remove(database)
    connection = duckdb.connect(database)
    started, cpu = time.perf_counter(), time.process_time()
    connection.execute(f"CREATE TABLE pair_scores AS {pair_scores_sql(parquet)}")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    rows = connection.execute("SELECT count(*) FROM pair_scores").fetchone()[0]
    records = connection.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()[0]
    connection.close()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "records": records, "rows": rows}


def _summary_fields(summary: Any, cpu_started: float) -> dict[str, Any]:
    return {"seconds": summary.seconds, "cpu_seconds": time.process_time() - cpu_started, "records": summary.records_in, "rows": summary.pair_score_rows,
            "balanced": summary.balanced, "duplicates": summary.duplicates,
            "dead_letters": summary.dead_letters_total}


def pipeline(avro: str, warehouse: str, beam_args: list[str]) -> dict[str, Any]:
    from pipelines.runners import runner_services
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from transforms.decode import ReadEventFiles

    with contextlib.suppress(FileNotFoundError):
        os.remove(warehouse)
    with runner_services(beam_args) as runner_args, python_descendants_cpu() as workers:
        cpu = time.process_time()
        summary = run_scoring(ReadEventFiles([avro]), RunSettings(warehouse=warehouse), runner_args)
    fields = _summary_fields(summary, cpu)
    # SDK workers in processes of their own (the embedded Flink at parallelism > 1): their CPU too,
    # so that every pipeline row counts the Python CPU of its run, wherever it ran
    fields["cpu_seconds"] += workers.seconds
    fields["worker_processes"] = workers.processes
    return fields


class _DescendantsCpu:
    seconds = 0.0
    processes = 0


def _is_sdk_worker(pid: str) -> bool:
    """An SDK worker or the pool that starts them (not Beam's ``pip freeze`` at submission, say)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read()
    except OSError:
        return False
    return b"SdkHarness" in command or b"services.beam_worker_pool" in command


@contextlib.contextmanager
def python_descendants_cpu(every_s: float = 0.2) -> Any:
    """The CPU seconds (user + system) of this process's SDK worker processes and their pool,
    sampled from /proc every ``every_s`` until exit: a process's last sample stands for its total (at
    most ``every_s`` of it is missed). The JVMs a runner starts are left out, as they are for the
    in-process runners; so is each worker's memory (the table's peak RSS is the launching process's)."""
    import threading

    tick = os.sysconf("SC_CLK_TCK")
    latest: dict[int, float] = {}
    done = threading.Event()
    result = _DescendantsCpu()

    def sample() -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    name, rest = stat.read().rsplit(")", 1)
            except OSError:
                continue
            fields = rest.split()
            if "python" in name and _is_sdk_worker(entry):
                cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
            parents[int(entry)] = int(fields[1])
        me = os.getpid()
        for pid, seconds in cpu.items():
            ancestor, hops = parents.get(pid), 0
            while ancestor and ancestor != me and hops < 20:
                ancestor, hops = parents.get(ancestor), hops + 1
            if ancestor == me:
                latest[pid] = seconds

    def run() -> None:
        while not done.wait(every_s):
            sample()

    sampler = threading.Thread(target=run, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        sample()
        done.set()
        sampler.join()
        result.seconds, result.processes = sum(latest.values()), len(latest)


def kafka_produce(avro: str, bootstrap: str, topic: str, partitions: int = 2) -> dict[str, Any]:
    import fastavro
    from kafka.admin import KafkaAdminClient, NewTopic

    from producers.kafka_producer import EventPublisher

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    admin.close()
    started = time.perf_counter()
    with open(avro, "rb") as stream, EventPublisher(bootstrap, topic) as publisher:
        report = publisher.publish_all(fastavro.reader(stream))
    return {"seconds": time.perf_counter() - started, "records": report.sent}


def kafka_read(bootstrap: str, topic: str, warehouse: str) -> dict[str, Any]:
    from pipelines.kafka_runs import KafkaSourceSettings, plan_read
    from pipelines.scoring import run_scoring
    from pipelines.settings import RunSettings
    from transforms.decode import ReadEventsFromKafka
    from transforms.kafka_source import ReadFromKafkaPartitions

    with contextlib.suppress(FileNotFoundError):
        os.remove(warehouse)
    source = KafkaSourceSettings(bootstrap_servers=bootstrap, topic=topic, group_id=f"bench-{time.time_ns()}",
                                 until_end=True)
    settings = RunSettings(warehouse=warehouse)
    plan = plan_read(source)
    read = ReadFromKafkaPartitions(plan.plans, source.max_out_of_orderness_s, source.idle_timeout_s)
    cpu = time.process_time()
    summary = run_scoring(ReadEventsFromKafka(read, source.accepted_schema_ids), settings, [])
    return _summary_fields(summary, cpu)


class _CheckedSink(io.RawIOBase):
    """Where an export writes in the bench: a byte count and a CRC-32 of what was written (cheap next
    to formatting), so two ways of exporting are checked to write the same bytes."""

    def __init__(self) -> None:
        self.size, self.crc = 0, 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)
        return len(data)


def export(warehouse: str, fmt: str = "jsonl", path: str = "columnar") -> dict[str, Any]:
    """``export pair_scores --format FMT`` to a checked sink through stdout (a text stream, as in a
    shell): ``path`` columnar is the command as it is; rows is the row-by-row way it was before
    (Warehouse.export and write_rows, which BigQuery's export still takes)."""
    from pipelines.cli import main

    sink = _CheckedSink()
    stdout = io.TextIOWrapper(io.BufferedWriter(sink, 1 << 20), encoding="utf-8", newline="")
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(stdout):
        if path == "columnar":
            code = main(["export", "pair_scores", "--warehouse", warehouse, "--format", fmt])
        else:
            from pipelines.commands.output import write_rows
            from warehouse import open_warehouse

            columns, rows = open_warehouse(warehouse, read_only=True).export("pair_scores")
            write_rows(columns, rows, fmt)
            code = 0
        stdout.flush()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as connection:
        rows = connection.execute("SELECT count(*) FROM pair_scores").fetchone()[0]
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "records": rows, "rows": rows, "exit_code": code,
            "bytes": sink.size, "crc32": sink.crc, "us_per_row": 1e6 * seconds / max(rows, 1),
            "cpu_us_per_row": 1e6 * cpu_seconds / max(rows, 1)}


def export_warehouse(warehouse: str, rows: int) -> dict[str, Any]:
    """A warehouse of ``rows`` synthetic pair_scores rows (not timed): what the export bench reads."""
    from bench.export_rows import write_pair_scores

    return {"records": write_pair_scores(warehouse, rows)}


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "generate": generate, "fastavro": fastavro_decode, "duckdb": duckdb_query, "pipeline": pipeline,
    "kafka_produce": kafka_produce, "kafka_read": kafka_read, "export": export,
    "export_warehouse": export_warehouse,
}

def peak_rss_mib() -> float | None:
    """This process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries the parent's
    peak at fork into it, so a child of a large parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


if __name__ == "__main__":
    name, arguments, result_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    result = STAGES[name](**arguments)
    result["own_peak_rss_mib"] = peak_rss_mib()
    Path(result_path).write_text(json.dumps(result))
