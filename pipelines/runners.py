"""Start, for one run, the local services a chosen Beam runner needs, and pass them to Beam.

* ``--runner=PrismRunner`` (and streaming Kafka runs, which need it): Prism built from the Go module
  proxy, passed as ``--prism_location``, since Beam's own download is out of reach offline.
* ``--runner=FlinkRunner`` without ``--job_endpoint``: Beam's Flink job server resolved from Maven
  Central (``services.flink_job_server``) and started for the run, with ``--flink_master`` as its
  Flink master: ``[local]``/``[auto]`` (the default) is an embedded mini-cluster, ``HOST:PORT`` a
  real cluster. A bounded run on the embedded cluster gets one SDK worker process per slot from
  Beam's worker pool (``services.beam_worker_pool``; a stream's workers stay in this process,
  LOOPBACK); a real cluster needs ``--environment_type=DOCKER`` or ``EXTERNAL`` (see the README's
  operators section).

Every portable run (Prism, Flink, a given ``--job_endpoint``) also gets a ``--job_server_timeout``
as long as the run itself (see ``RUN_DEADLINE_S``) unless one is given. Every other runner
(FnApiRunner, DirectRunner, DataflowRunner) gets the arguments unchanged.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

from apache_beam.options.pipeline_options import FlinkRunnerOptions, PipelineOptions, PortableOptions, StandardOptions

_LOCAL_FLINK_MASTERS = ("[local]", "[auto]")
# Beam's portable runner uses --job_server_timeout (default 300 s) as the deadline of the job's state
# and message streams, not only of its requests: a stream on Prism ended after five minutes with
# DEADLINE_EXCEEDED, NOT balanced (found by the 10-minute soak), and so would any longer bounded run.
# A run's streams now last as long as the run (ten years).
RUN_DEADLINE_S = 10 * 365 * 86_400


def without_stream_deadline(beam_args: list[str]) -> list[str]:
    """The arguments of a portable run, with the job's streams open as long as it runs."""
    if any(arg.startswith(("--job_server_timeout", "--job-server-timeout")) for arg in beam_args):
        return list(beam_args)
    return [*beam_args, f"--job_server_timeout={RUN_DEADLINE_S}"]


# The job server's log and staged artifacts, beside the Kafka broker's state.
FLINK_WORK_DIR = Path(".social-mentors") / "flink"
PRISM_WORK_DIR = Path(".social-mentors") / "prism"


def _runner_name(options: PipelineOptions) -> str:
    runner = options.view_as(StandardOptions).runner or ""
    return runner if isinstance(runner, str) else type(runner).__name__


def check_runner(beam_args: list[str], streaming: bool = False) -> None:
    """A ``--runner`` Beam does not know, or DataflowRunner without the Google Cloud parts it
    submits with, is one error line before anything runs (Beam says so only when the pipeline
    starts, after the run was recorded). Flink's options on another runner get a note: Beam ignores
    them without a word."""
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
    from apache_beam.runners.runner import create_runner

    options = PipelineOptions(beam_args)
    runner = _runner_name(options)
    if runner == "FlinkRunner":
        check_flink_options(options)
    elif not options.view_as(PortableOptions).job_endpoint:  # an endpoint may be a Flink job server
        ignored = given_flink_options(beam_args)
        if ignored:
            used = runner or ("PrismRunner" if streaming else "FnApiRunner")
            print(f"note: {', '.join(ignored)}: FlinkRunner's options; this run on {used} ignores "
                  f"{'them' if len(ignored) > 1 else 'it'} (add --runner FlinkRunner to run on Flink)",
                  file=sys.stderr)
    if runner:
        try:
            created = create_runner(runner)
        except (ValueError, ImportError) as error:
            raise ValueError(f"--runner {runner}: {str(error).splitlines()[0]}") from None
        missing = missing_dataflow_parts() if isinstance(created, DataflowRunner) else None
        if missing:
            raise ValueError(
                f"--runner {runner} needs Beam's Google Cloud parts, which are not installed ({missing}): "
                f"{INSTALL_DATAFLOW}, then launch again (the Flex Template image installs them)")


FLINK_MAX_PARALLELISM = 32768  # Flink's upper bound for a job's (max) parallelism


def given_flink_options(beam_args: list[str]) -> list[str]:
    """The options of Beam's FlinkRunnerOptions that ``beam_args`` give, in order, once each."""
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    FlinkRunnerOptions._add_argparse_args(parser)
    names = {name for action in parser._actions for name in action.option_strings}
    return list(dict.fromkeys(arg.split("=", 1)[0] for arg in beam_args if arg.split("=", 1)[0] in names))


def check_flink_options(options: PipelineOptions) -> None:
    """Flink options Flink itself refused only after the job server had started and the run was
    recorded FAILED, with a Java exception or a minute's wait (outside probes): one line up front."""
    flink = options.view_as(FlinkRunnerOptions)
    parallelism = flink.parallelism
    if parallelism is not None and parallelism != -1 and not 1 <= parallelism <= FLINK_MAX_PARALLELISM:
        raise ValueError(f"--parallelism {parallelism}: Flink runs a job on 1 to {FLINK_MAX_PARALLELISM:,} slots; "
                         "give a number in that range, or -1 for Flink's default (a slot per core on the "
                         "embedded Flink)")
    workers = _given_int(options, "sdk_worker_parallelism")
    if workers is not None and workers < 0:
        raise ValueError(f"--sdk_worker_parallelism {workers}: give 0 (Beam's choice) or more")
    master = flink.flink_master
    if master and master.startswith("[") and master.endswith("]"):  # [local], [auto]: Beam's own words
        return
    address = (master or "").strip().removeprefix("http://").removeprefix("https://").rstrip("/")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"--flink_master {master!r}: give the cluster's REST address as HOST:PORT (port 1 to "
                         f"65535, e.g. flink-jobmanager:8081), or [local] for an embedded Flink")


INSTALL_DATAFLOW = "pip install 'social-mentors[dataflow]'"  # setup.py's extra: apache-beam[gcp]


def missing_dataflow_parts() -> str | None:
    """What DataflowRunner cannot import to stage and submit a job (GCS, the Dataflow API client),
    or None. Beam imports its DataflowRunner class without them and fails only inside run()."""
    import importlib

    try:
        importlib.import_module("apache_beam.runners.dataflow.internal.apiclient")
    except ImportError as error:
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return None


@contextlib.contextmanager
def runner_services(beam_args: list[str], streaming: bool = False) -> Iterator[list[str]]:
    """Yield the Beam arguments to run with, the services they point at running until exit.

    Beam's job-message thread is still reading when a stopped run (Ctrl-C, SIGTERM) stops the job
    server it started here: its gRPC error, which Python printed as a traceback after "interrupted",
    goes to the log (``pipelines.stopping.runner_thread_errors_logged``, kept while the thread runs)."""
    from pipelines.stopping import runner_thread_errors_logged

    with runner_thread_errors_logged(), _runner_services(beam_args, streaming) as args:
        yield args


@contextlib.contextmanager
def _runner_services(beam_args: list[str], streaming: bool = False) -> Iterator[list[str]]:
    options = PipelineOptions(beam_args)
    runner = _runner_name(options)
    if runner == "PrismRunner" or (streaming and not runner):
        from services.prism import prism_args, prism_job_service

        print("  this run uses Prism (built with Go on first use; this can take a few minutes)", file=sys.stderr)
        with prism_job_service(prism_args(beam_args), PRISM_WORK_DIR) as args:
            yield without_stream_deadline(args)
        return
    flink = options.view_as(FlinkRunnerOptions)
    portable = runner in ("FlinkRunner", "PortableRunner") or bool(options.view_as(PortableOptions).job_endpoint)
    if runner != "FlinkRunner" or options.view_as(PortableOptions).job_endpoint or flink.flink_job_server_jar:
        yield without_stream_deadline(beam_args) if portable else beam_args
        return

    from services.flink_job_server import LOCAL_MASTER, FlinkJobServer

    master = LOCAL_MASTER if flink.flink_master in _LOCAL_FLINK_MASTERS else flink.flink_master
    where = "an embedded Flink mini-cluster" if master == LOCAL_MASTER else f"the Flink cluster at {master}"
    print(f"  starting Beam's Flink job server for {where} (resolved with Maven on first use) ...", file=sys.stderr)
    workers = embedded_flink_workers(options, streaming) if master == LOCAL_MASTER else 0
    with FlinkJobServer(FLINK_WORK_DIR, flink_master=master) as server, _worker_pool(workers) as pool:
        print(f"  Flink job server on {server.endpoint}; its log: {server.log_file}", file=sys.stderr)
        args = [*beam_args, f"--job_endpoint={server.endpoint}"]
        if pool is not None:
            print(f"  {workers} SDK worker processes (Beam's worker pool; its log and theirs: {pool.log_file})",
                  file=sys.stderr)
            # kept for the job: Flink's batch mode runs stage after stage, and without a cache it
            # started (and stopped) a new set of workers for each, paying Beam's import each time
            args += ["--environment_type=EXTERNAL", f"--environment_config={pool.address}",
                     f"--environment_cache_millis={ENVIRONMENT_CACHE_MS}"]
            if _given_int(options, "sdk_worker_parallelism") is None:
                args.append(f"--sdk_worker_parallelism={workers}")
        yield without_stream_deadline(args)


ENVIRONMENT_CACHE_MS = 10 * 60 * 1000  # idle workers are kept this long within a job


def embedded_flink_workers(options: PipelineOptions, streaming: bool) -> int:
    """How many SDK worker processes a run on the embedded Flink gets: one per slot (``--parallelism``,
    else Flink's local default, a slot per core) unless ``--sdk_worker_parallelism`` says, or 0 to
    keep Beam's default (LOOPBACK: threads of this process, which Python runs one at a time) when the
    run chose its environment, is a stream (its drain switch is a flag in this process,
    ``pipelines.stopping``), or has one slot."""
    if streaming or options.view_as(StandardOptions).streaming:
        return 0
    if options.view_as(PortableOptions).environment_type or options.view_as(PortableOptions).environment_config:
        return 0
    parallelism = options.view_as(FlinkRunnerOptions).parallelism
    if parallelism is not None and parallelism != -1 and parallelism < 1:
        return 0  # refused by check_runner before a run starts
    given_sdk_workers = _given_int(options, "sdk_worker_parallelism")
    if given_sdk_workers is not None:
        return given_sdk_workers if given_sdk_workers > 1 else 0
    slots = parallelism if parallelism and parallelism > 0 else (os.cpu_count() or 1)  # -1: Flink's default
    return slots if slots > 1 else 0


def _given_int(options: PipelineOptions, name: str) -> int | None:
    """An option's value when the arguments name it, else None (Beam's default is not a choice)."""
    value = options.get_all_options(retain_unknown_options=True).get(name)
    given = any(arg.split("=", 1)[0].replace("-", "_") == f"__{name}" for arg in getattr(options, "_flags", ()))
    return int(value) if given and value is not None else None


@contextlib.contextmanager
def _worker_pool(workers: int) -> Iterator[object]:
    if workers <= 0:
        yield None
        return
    from services.beam_worker_pool import BeamWorkerPool

    with BeamWorkerPool(FLINK_WORK_DIR) as pool:
        yield pool
