"""Runs on Beam's FlinkRunner: an embedded mini-cluster, and a standalone session cluster with SDK
workers outside the submitting process (the job server and Flink from Maven Central)."""
import contextlib
import os
import sys
import time

import pytest

from helpers import descendants, process_alive
from pipelines.cli import main
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions

from pipelines.runners import RUN_DEADLINE_S, runner_services
from producers.synthetic import CommunitySpec, generate_community, write_community
from warehouse import open_warehouse

# Columns that depend on when a run happened, not on what it computed.
RUN_TIME_COLUMNS = {"computed_at", "run_started_at", "arrived_at"}


def table_of(warehouse: str, table: str) -> list[tuple]:
    columns, rows = open_warehouse(warehouse).export(table)
    keep = [i for i, name in enumerate(columns) if name not in RUN_TIME_COLUMNS]
    return sorted(tuple(row[i] for i in keep) for row in rows)


def summary_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip().split("  ")[0] not in ("run", "time taken", "pair rows")]


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("community")
    community = generate_community(CommunitySpec(seed=5, invalid_rate=0.01))
    write_community(community, folder / "events.avro", folder / "truth.jsonl")
    return str(folder / "events.avro")


def test_a_flink_run_writes_exactly_what_a_direct_runner_run_writes(events_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the job server keeps its log under ./.social-mentors/flink
    direct, flink = str(tmp_path / "direct.duckdb"), str(tmp_path / "flink.duckdb")
    assert main(["run", "--input", events_file, "--warehouse", direct, "--runner", "DirectRunner"]) == 0
    direct_out = capsys.readouterr().out
    assert main(["run", "--input", events_file, "--warehouse", flink,
                 "--runner", "FlinkRunner", "--parallelism", "2"]) == 0
    captured = capsys.readouterr()
    assert "Flink job server on 127.0.0.1:" in captured.err
    assert (tmp_path / ".social-mentors" / "flink" / "flink-job-server.log").exists()
    # Two slots, two Python processes (the default LOOPBACK workers are threads that take turns)
    assert "2 SDK worker processes" in captured.err
    pool_log = (tmp_path / ".social-mentors" / "flink" / "worker-pool.log").read_text()
    assert pool_log.count("Starting worker with command") == 2

    direct_scores = table_of(direct, "pair_scores")
    assert len(direct_scores) > 1000
    assert table_of(flink, "pair_scores") == direct_scores  # panes too: one on-time, final pane each
    assert table_of(flink, "dead_letters") == table_of(direct, "dead_letters")
    # The summary is the run ledger Flink wrote, read back from the warehouse: the same accounting, balanced.
    assert summary_lines(captured.out) == summary_lines(direct_out)
    assert "accounting      balanced" in captured.out


def test_other_runners_get_their_arguments_unchanged():
    for args in (["--runner=DirectRunner"], ["--runner", "DataflowRunner", "--project", "p"], []):
        with runner_services(args) as used:
            assert used == args


def test_a_portable_run_keeps_its_job_streams_open_as_long_as_it_runs(prism_binary):
    """Beam's default --job_server_timeout (300 s) is also the deadline of the job's state and message
    streams: a Prism stream died after five minutes with DEADLINE_EXCEEDED (the 10-minute soak)."""
    for args, streaming in ((["--runner=FlinkRunner", "--job_endpoint=127.0.0.1:1"], False),
                            ([f"--prism_location={prism_binary}"], True),
                            (["--runner=PrismRunner", f"--prism_location={prism_binary}"], False)):
        with runner_services(args, streaming=streaming) as used:
            assert PipelineOptions(used).view_as(PortableOptions).job_server_timeout == RUN_DEADLINE_S, used
    given = ["--runner=FlinkRunner", "--job_endpoint=127.0.0.1:1", "--job_server_timeout=60"]
    with runner_services(given) as used:
        assert used == given  # an operator's own deadline stands


def test_a_bounded_kafka_run_on_flink_matches_the_direct_run_and_commits_its_offsets(
        kafka_broker, topic, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from producers.kafka_producer import EventPublisher

    with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
        assert publisher.publish_all(generate_community(CommunitySpec(seed=6)).events, progress=None).failed == 0
    read = ["run", "--source", "kafka", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic, "--until-end"]
    direct, flink = str(tmp_path / "direct.duckdb"), str(tmp_path / "flink.duckdb")
    assert main([*read, "--group-id", "direct", "--warehouse", direct]) == 0
    direct_out = capsys.readouterr().out
    on_flink = [*read, "--group-id", "flink", "--warehouse", flink, "--runner", "FlinkRunner"]
    assert main(on_flink) == 0
    flink_out = capsys.readouterr().out
    assert summary_lines(flink_out) == summary_lines(direct_out)
    assert table_of(flink, "pair_scores") == table_of(direct, "pair_scores")
    assert len(table_of(flink, "pair_scores")) > 1000
    # The offsets were committed after the Flink run succeeded: a second run re-reads everything
    # retained below them, and changes no score.
    assert main(on_flink) == 0
    assert "re-reading" in capsys.readouterr().err
    assert table_of(flink, "pair_scores") == table_of(direct, "pair_scores")


@contextlib.contextmanager
def worker_pool(tmp_path):
    """Beam's SDK worker pool, as an operator runs it beside each task manager (deploy/flink): it
    starts workers with the ``python`` on PATH, which must be the environment holding this package."""
    from services import processes
    from services.flink_job_server import answers
    from services.maven import free_port

    port = free_port()
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    pool = processes.spawn([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                            f"--service_port={port}"], tmp_path / "worker-pool.log", env=env)
    try:
        deadline = time.monotonic() + 30
        while not answers(port):
            assert pool.poll() is None and time.monotonic() < deadline, "the worker pool did not start"
            time.sleep(0.2)
        yield f"localhost:{port}"
    finally:
        processes.terminate(pool)


def test_a_run_on_a_flink_session_cluster_with_external_workers_writes_what_the_direct_runner_writes(
        events_file, tmp_path, capsys, monkeypatch):
    from services.flink_cluster import FlinkSessionCluster

    monkeypatch.chdir(tmp_path)
    direct, flink = str(tmp_path / "direct.duckdb"), str(tmp_path / "flink.duckdb")
    assert main(["run", "--input", events_file, "--warehouse", direct, "--runner", "DirectRunner"]) == 0
    direct_out = capsys.readouterr().out
    with FlinkSessionCluster(tmp_path / "cluster") as cluster, worker_pool(tmp_path) as pool:
        assert main(["run", "--input", events_file, "--warehouse", flink, "--runner", "FlinkRunner",
                     "--flink_master", cluster.rest_address, "--parallelism", "2",
                     "--environment_type", "EXTERNAL", "--environment_config", pool]) == 0
        overview = cluster.overview()
    captured = capsys.readouterr()
    assert f"the Flink cluster at {cluster.rest_address}" in captured.err
    assert (overview["taskmanagers"], overview["jobs-finished"], overview["jobs-failed"]) == (1, 1, 0)
    assert table_of(flink, "pair_scores") == table_of(direct, "pair_scores")
    assert table_of(flink, "dead_letters") == table_of(direct, "dead_letters")
    assert summary_lines(captured.out) == summary_lines(direct_out)


# --- DataflowRunner without Beam's Google Cloud parts (the `dataflow` extra) -------------------------

def _dataflow_parts_installed() -> bool:
    import importlib

    try:  # what DataflowRunner imports to submit a job (GCS, the Dataflow API client)
        importlib.import_module("apache_beam.runners.dataflow.internal.apiclient")
    except ImportError:
        return False
    return True


DATAFLOW_ARGS = ["--runner=DataflowRunner", "--project=p", "--region=europe-west1", "--temp_location=gs://b/tmp"]
INSTALL_THE_EXTRA = "pip install 'social-mentors[dataflow]'"


@pytest.mark.skipif(_dataflow_parts_installed(), reason="apache-beam[gcp] is installed here: nothing is missing")
def test_a_dataflow_run_without_the_dataflow_extra_stops_before_writing_anything(events_file, tmp_path, capsys):
    # It used to die in an ImportError deep in Beam, leaving a FAILED run in the runs table.
    warehouse = tmp_path / "w.duckdb"
    code = main(["run", "--input", events_file, "--warehouse", str(warehouse), *DATAFLOW_ARGS])
    err = capsys.readouterr().err
    assert code == 2, err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "--runner DataflowRunner needs Beam's Google Cloud parts" in line and INSTALL_THE_EXTRA in line, line
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "no warehouse file, so no run row"


@pytest.mark.skipif(_dataflow_parts_installed(), reason="apache-beam[gcp] is installed here: nothing is missing")
def test_a_template_launch_without_the_dataflow_extra_records_no_run(bigquery_url, capsys):
    # The Flex Template's own command line, against a BigQuery warehouse (the emulator): no run row,
    # and no Kafka broker contacted (the runner is checked first; kafka-1.internal does not exist).
    from pipelines import dataflow_main

    argv = ["--source=kafka", "--bootstrap_servers=kafka-1.internal:9092", "--topic=events", "--group_id=g",
            f"--warehouse={bigquery_url}", "--streaming=true", *DATAFLOW_ARGS]
    started = time.monotonic()
    code = dataflow_main.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and INSTALL_THE_EXTRA in err, err
    assert time.monotonic() - started < 5, "it waited for Kafka before checking the runner"
    _, rows = open_warehouse(bigquery_url).export("runs")
    assert list(rows) == []


@pytest.mark.parametrize("args, said", [
    (["--parallelism", "0"], "--parallelism 0: Flink runs a job on 1 to 32,768 slots"),
    (["--parallelism=-2"], "--parallelism -2: Flink runs a job on 1 to 32,768 slots"),
    (["--parallelism", "2147483648"], "--parallelism 2147483648: Flink runs a job on 1 to 32,768 slots"),
    (["--parallelism", "2", "--sdk_worker_parallelism", "-1"], "--sdk_worker_parallelism -1: give 0"),
    (["--flink_master="], "--flink_master '': give the cluster's REST address as HOST:PORT"),
    (["--flink_master", "bogus"], "--flink_master 'bogus': give the cluster's REST address as HOST:PORT"),
    (["--flink_master", "http://127.0.0.1:99999"], "--flink_master 'http://127.0.0.1:99999': give the cluster"),
])
def test_a_flink_run_with_options_flink_refuses_stops_before_anything_starts(events_file, tmp_path, capsys, args, said):
    # Outside probes: Flink refused these only after the job server had started (a Java exception,
    # or a minute's wait for a blank master), and the run was recorded FAILED; 2147483648 first
    # announced as many SDK worker processes.
    warehouse = tmp_path / "w.duckdb"
    code = main(["run", "--input", events_file, "--warehouse", str(warehouse), "--runner", "FlinkRunner", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert said in line, line
    assert "job server" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "no warehouse file, so no run row"


@pytest.mark.parametrize("args, named", [(["--parallelism", "0"], "--parallelism"),
                                         (["--parallelism=4", "--flink_master=[local]"], "--parallelism, --flink_master")])
def test_flink_options_on_another_runner_are_said_to_be_ignored(events_file, tmp_path, capsys, args, named):
    # An outside probe: `--parallelism 0` on the default runner ran without a word, as if it had
    # been applied; the deployment meant Flink, or the option does nothing.
    code = main(["run", "--input", events_file, "--warehouse", str(tmp_path / "w.duckdb"), *args])
    err = capsys.readouterr().err
    assert code == 0, err
    (line,) = [line for line in err.splitlines() if line.startswith("note:")]
    assert f"{named}: FlinkRunner's options" in line and "FnApiRunner ignores" in line, line


@pytest.mark.parametrize("args, streaming, workers", [
    (["--parallelism=2"], False, 2),
    (["--parallelism=3"], False, 3),
    (["--parallelism=1"], False, 0),  # one slot: LOOPBACK costs no process start
    ([], False, os.cpu_count() if (os.cpu_count() or 1) > 1 else 0),  # Flink's local default: a slot per core
    (["--parallelism=2"], True, 0),  # a stream's drain switch lives in this process
    (["--parallelism=2", "--streaming"], False, 0),
    (["--parallelism=2", "--environment_type=LOOPBACK"], False, 0),  # the run chose
    (["--parallelism=2", "--environment_type=EXTERNAL", "--environment_config=host:1"], False, 0),
    (["--parallelism=0"], False, 0),  # refused before the run (check_runner): no worker pool for it
    (["--parallelism=4", "--sdk_worker_parallelism=1"], False, 0),  # the run's own choice, not ignored
    (["--parallelism=2", "--sdk_worker_parallelism", "3"], False, 3),
])
def test_a_bounded_run_on_the_embedded_flink_gets_a_worker_process_per_slot(args, streaming, workers):
    from pipelines.runners import embedded_flink_workers

    assert embedded_flink_workers(PipelineOptions(["--runner=FlinkRunner", *args]), streaming) == workers


@pytest.mark.parametrize("signum, code, said", [("SIGTERM", 143, "terminated (SIGTERM)"), ("SIGINT", 130, "interrupted")])
def test_a_flink_run_at_parallelism_2_stopped_with_a_signal_stops_everything_it_started(tmp_path, signum, code, said):
    # An outside probe: `timeout 25 social-mentors run ... --runner FlinkRunner --parallelism 2` left
    # the job server, the worker pool and its workers running the job to its end, writing to a
    # warehouse whose run stayed RUNNING. Ctrl-C (SIGINT to the terminal's process group) also printed
    # the traceback of Beam's job message thread, whose stream the stopped job server cut.
    import signal
    import subprocess

    from bench.events import write_bench_events

    events = tmp_path / "events.avro"
    write_bench_events(100_000, events, tmp_path / "events.parquet")
    warehouse = tmp_path / "w.duckdb"
    run = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--input", str(events), "--warehouse", str(warehouse),
         "--runner", "FlinkRunner", "--parallelism", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()))
    pool_log = tmp_path / ".social-mentors" / "flink" / "worker-pool.log"
    deadline = time.monotonic() + 240
    while not (pool_log.exists() and "Starting worker" in pool_log.read_text()):
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.5)
    time.sleep(2)
    started = descendants(run.pid)
    assert len(started) >= 4  # the job server, the pool, its two workers
    os.killpg(run.pid, getattr(signal, signum))  # the whole group, as a terminal's Ctrl-C (the services have sessions of their own)
    out, err = run.communicate(timeout=120)
    assert run.returncode == code and said in err, err
    assert "Traceback" not in err and "Exception in thread" not in err, err
    deadline = time.monotonic() + 30
    while any(process_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in started if process_alive(pid)]
    runs = [row for row in open_warehouse(str(warehouse)).export("runs")[1]]
    columns = open_warehouse(str(warehouse)).export("runs")[0]
    assert [row[columns.index("status")] for row in runs] == ["FAILED"]


def test_runner_threads_grpc_errors_go_to_the_log_and_the_hook_stays_while_a_job_message_thread_reads(monkeypatch):
    import threading

    import grpc

    from pipelines.stopping import JOB_MESSAGES_THREAD, runner_thread_errors_logged

    shown = []
    monkeypatch.setattr(threading, "excepthook", lambda failure: shown.append((failure.thread.name, failure.exc_type)))

    class CutStream(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return "Stream removed (Socket closed)"

    def fail_in(name, error, release=None):
        def run():
            if release is not None:
                release.wait()
            raise error
        thread = threading.Thread(target=run, name=name)
        thread.start()
        return thread

    recorder = threading.excepthook
    with runner_thread_errors_logged():
        fail_in("another thread", ValueError("a bug")).join()  # not a gRPC error: shown
        fail_in("another thread", CutStream()).join()  # logged
    assert shown == [("another thread", ValueError)]
    assert threading.excepthook is recorder  # given back: no job-message thread was left reading

    release = threading.Event()
    with runner_thread_errors_logged():
        reading = fail_in(JOB_MESSAGES_THREAD, CutStream(), release)  # still reading at the end
    release.set()  # its job server is stopped after the run: the stream is cut
    reading.join()
    assert shown == [("another thread", ValueError)]
