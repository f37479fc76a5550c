"""Which runs `run` waits on and which it hands to Dataflow, from command lines as operators type them
(deploy/dataflow/README.md's direct launch). The Flex Template's own command line: tests/deploy/test_dataflow.py.
Dataflow itself is not run here (no GCP project, and Beam's Google Cloud parts are not installed)."""
import pytest

from pipelines.cli import parse
from pipelines.commands.scoring import kafka_run_config
from pipelines.dataflow_launch import STAGE, SUBMIT, WAIT, how_it_runs, launch_mode, launched_run, staged_job_id
from pipelines.scoring import pipeline_options

DIRECT = ["run", "--source", "kafka", "--bootstrap-servers", "kafka:9092", "--topic", "engagement-events",
          "--group-id", "social-mentors", "--warehouse", "bigquery://my-project/social_mentors",
          "--project", "my-project", "--region", "europe-west1", "--temp_location", "gs://b/tmp",
          "--staging_location", "gs://b/staging", "--setup_file", "./setup.py", "--enable_streaming_engine"]


def mode_of(argv: list[str]) -> tuple[str, object]:
    args = parse(argv)
    _, settings = kafka_run_config(args)
    options = pipeline_options(args.beam_args, settings.streaming)
    return launch_mode(options), options


@pytest.mark.parametrize("runner, bounded, expected", [
    ("DataflowRunner", False, SUBMIT),  # wait_until_finish on a stream returns only when it is cancelled
    ("dataflow", False, SUBMIT),  # Beam's short name for the same runner
    ("DataflowRunner", True, WAIT),  # a bounded job ends: its summary and Kafka commit need that end
    ("DataflowRunner --no_wait_until_finish", True, SUBMIT),  # unless the operator asks not to wait
    ("FlinkRunner", False, WAIT),
    (None, False, WAIT),  # the local runners
    (None, True, WAIT),
])
def test_a_streaming_dataflow_job_is_submitted_and_not_waited_on(runner, bounded, expected):
    runner, *more = (runner or "").split() or [None]
    argv = DIRECT + (["--until-end"] if bounded else ["--streaming"]) + ([f"--runner={runner}"] if runner else []) + more
    assert mode_of(argv)[0] == expected


def test_a_submitted_stream_says_which_job_it_is_and_how_to_follow_and_stop_it():
    mode, options = mode_of(DIRECT + ["--streaming", "--runner", "DataflowRunner"])
    launched = launched_run("2026-11-27_03_04_05-42", options, mode)
    text = launched.render()
    assert "Launched on Dataflow: job 2026-11-27_03_04_05-42 (streaming)" in text
    assert "gcloud dataflow jobs show 2026-11-27_03_04_05-42 --project my-project --region europe-west1" in text
    assert "gcloud dataflow jobs drain 2026-11-27_03_04_05-42 --project my-project --region europe-west1" in text
    assert "https://console.cloud.google.com/dataflow/jobs/europe-west1/2026-11-27_03_04_05-42?project=my-project" in text
    assert "submitted as Dataflow job 2026-11-27_03_04_05-42" in launched.message()
    assert (launched.balanced, launched.refused_rows, launched.error) == (True, 0, None)


def test_a_template_location_that_is_no_launcher_s_is_staged_without_a_job_id():
    # A classic template written by hand: Beam stages it and no job exists at all.
    mode, options = mode_of(DIRECT + ["--streaming", "--runner", "DataflowRunner",
                                      "--template_location", "gs://b/templates/social-mentors"])
    assert mode == STAGE and staged_job_id(options) is None
    assert "job id not known here" in launched_run(None, options, mode).render()


@pytest.mark.parametrize("runner, said", [
    (["--runner", "DataflowRunner"], "streaming, handed to Dataflow"),  # it used to say "until Ctrl-C"
    ([], "streaming until Ctrl-C or SIGTERM"),
])
def test_the_line_before_a_kafka_read_says_where_a_stream_runs(runner, said):
    args = parse(DIRECT + ["--streaming"] + runner)
    assert how_it_runs(args.beam_args, args.streaming) == said
