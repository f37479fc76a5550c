import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import dataflow_main
from pipelines.cli import parse
from pipelines.commands.scoring import kafka_run_config
from pipelines.scoring import pipeline_options

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "deploy" / "dataflow" / "metadata.json").read_text())
# A value for every template parameter, as an operator would fill in the launch form.
SAMPLE_VALUES = {
    "source": "kafka",
    "bootstrap_servers": "kafka-1.internal:9092,kafka-2.internal:9092",
    "topic": "engagement-events-prod",
    "group_id": "mentors-prod",
    "warehouse": "bigquery://my-project/social_mentors",
    "window": "6h",
    "allowed_lateness": "3d",
    "streaming": "true",
    "bigquery_write": "storage-exactly-once",
}
# What the Flex Template launcher adds after the parameters: Beam options of the Dataflow runner,
# among them where to stage the job it then creates (launcher logs show
# --template_location=gs://STAGING/template_launches/JOB_ID/job_object).
STAGED_JOB_ID = "2026-03-01_01_02_03-1234567890123456789"
LAUNCHER_BEAM_OPTIONS = [
    "--runner=DataflowRunner", "--project=my-project", "--region=europe-west1",
    "--job_name=social-mentors-20260301", "--temp_location=gs://bucket/tmp",
    "--staging_location=gs://bucket/staging", "--setup_file=/template/setup.py",
    f"--template_location=gs://bucket/staging/template_launches/{STAGED_JOB_ID}/job_object",
]


def template_argv(values: dict[str, str]) -> list[str]:
    """The argv the launcher passes to pipelines/dataflow_main.py: ``--name=value`` per parameter."""
    return [f"--{p['name']}={values[p['name']]}" for p in SPEC["parameters"]] + LAUNCHER_BEAM_OPTIONS


def test_every_template_parameter_has_a_sample_value_its_regexes_accept():
    assert {p["name"] for p in SPEC["parameters"]} == set(SAMPLE_VALUES)
    for parameter in SPEC["parameters"]:
        for regex in parameter.get("regexes", []):
            assert re.match(regex, SAMPLE_VALUES[parameter["name"]]), parameter["name"]


def test_the_template_command_line_reaches_the_run_settings():
    args = parse(dataflow_main.command_line(template_argv(SAMPLE_VALUES)))
    source, settings = kafka_run_config(args)
    assert args.source == "kafka"
    assert source.bootstrap_servers == "kafka-1.internal:9092,kafka-2.internal:9092"
    assert source.topic == "engagement-events-prod" and source.group_id == "mentors-prod"
    assert settings.warehouse == "bigquery://my-project/social_mentors"
    assert (settings.window_s, settings.allowed_lateness_s, settings.streaming) == (6 * 3600, 3 * 86400, True)
    assert not settings.bulk_writes  # a stream inserts
    # the write mode the README describes for Dataflow (an outside probe: the template could not choose it)
    assert settings.bigquery_write == "storage-exactly-once"
    # Only the launcher's options go to Beam, and Beam reads them (streaming included).
    assert args.beam_args == LAUNCHER_BEAM_OPTIONS
    options = pipeline_options(args.beam_args, settings.streaming).get_all_options()
    assert (options["runner"], options["project"], options["region"], options["streaming"]) == (
        "DataflowRunner", "my-project", "europe-west1", True)


def test_a_bounded_template_launch_reads_streaming_false():
    values = dict(SAMPLE_VALUES, streaming="false", bigquery_write="auto")
    args = parse(dataflow_main.command_line(template_argv(values) + ["--until_end=true"]))
    source, settings = kafka_run_config(args)
    assert (settings.streaming, source.until_end, settings.bulk_writes) == (False, True, True)


def test_a_boolean_parameter_with_another_value_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        parse(dataflow_main.command_line(template_argv(dict(SAMPLE_VALUES, streaming="maybe"))))
    assert exited.value.code == 2 and "--streaming takes true or false" in capsys.readouterr().err


def test_the_launcher_s_python_file_refuses_a_misspelled_parameter_before_connecting_anywhere():
    argv = template_argv(SAMPLE_VALUES) + ["--group_idd=typo"]
    result = subprocess.run([sys.executable, str(ROOT / "pipelines" / "dataflow_main.py"), *argv],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "unknown option --group_idd" in result.stderr and "did you mean --group-id" in result.stderr


def test_the_package_builds_into_a_wheel_that_installs_and_imports_in_a_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("social_mentors-*.whl")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    # Dependencies come from this environment's site-packages, the project's code only from the wheel.
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    check = (
        "import sys; sys.path.append(%r)\n"
        "import schemas, pipelines.cli, transforms.score, warehouse, importers, pipelines.dataflow_main\n"
        "assert 'fresh' in schemas.__file__, schemas.__file__\n"
        "assert schemas.field_names('pair_scores')[0] == 'site'\n"
        "assert 'pair_scores_latest' in schemas.query_sql('mentors', 'duckdb')\n"
        "print('ok')\n" % deps
    )
    result = subprocess.run([str(venv / "bin" / "python"), "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip().endswith("ok"), result.stderr[-2000:]


# --- the `dataflow` extra: Beam's Google Cloud parts, which DataflowRunner needs to submit a job ------

def _distribution():
    """setup.py as setuptools reads it (install_requires, extras_require), without building anything."""
    import importlib

    importlib.import_module("setuptools")  # first: it provides distutils on Python 3.12+
    from distutils.core import run_setup

    return run_setup(str(ROOT / "setup.py"), stop_after="init")


def test_the_dataflow_extra_declares_apache_beam_gcp_in_apache_beam_s_own_range():
    from packaging.requirements import Requirement

    dist = _distribution()
    (beam,) = [r for r in map(Requirement, dist.install_requires) if r.name == "apache-beam"]
    (gcp,) = [r for r in map(Requirement, dist.extras_require["dataflow"]) if r.name == "apache-beam"]
    assert gcp.extras == {"gcp"} and beam.extras == set()
    assert gcp.specifier == beam.specifier and str(beam.specifier), (gcp, beam)


def test_the_flex_template_image_installs_the_dataflow_extra():
    dockerfile = (ROOT / "deploy" / "dataflow" / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if re.match(r"RUN\s+pip install", line)]
    assert installs and all(re.search(r"\$\{WORKDIR\}\[dataflow\]", line) for line in installs), installs



def test_the_readme_s_image_build_uses_gcloud_s_own_flags_and_builds_the_dataflow_dockerfile():
    # an outside probe: the README said `gcloud builds submit --tag IMAGE -f deploy/dataflow/Dockerfile .`;
    # gcloud builds submit has no -f (docker build's flag), and --tag alone builds ./Dockerfile, which
    # this repository does not have. A Cloud Build config names the Dockerfile instead.
    import shlex

    import yaml

    readme = (ROOT / "deploy" / "dataflow" / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith("gcloud builds submit")]
    argv = shlex.split(line)
    documented = {"--config", "--substitutions", "--tag", "-t", "--region", "--project"}  # gcloud's reference
    flags = {arg.split("=")[0] for arg in argv[3:] if arg.startswith("-")}
    assert flags <= documented and argv[-1] == ".", argv
    config = yaml.safe_load((ROOT / argv[argv.index("--config") + 1]).read_text())
    (step,) = config["steps"]
    args = step["args"]
    assert args[0] == "build" and args[args.index("-f") + 1] == "deploy/dataflow/Dockerfile" and args[-1] == "."
    assert (ROOT / "deploy" / "dataflow" / "Dockerfile").exists()
    image = args[args.index("-t") + 1]
    assert config["images"] == [image] and image.startswith("${_") and f"{image[2:-1]}=" in line

# --- a template launch stages its job and returns; it does not wait on it ----------------------------

@pytest.mark.parametrize("streaming, extra", [("true", []), ("false", ["--until_end=true"])])
def test_a_template_launch_is_staged_and_not_waited_on(streaming, extra):
    # With --template_location Beam stages the job and returns a result without one, whose
    # wait_until_finish returns at once: the run was summarized (and recorded) before its job existed.
    from pipelines.dataflow_launch import STAGE, launch_mode, launched_run, staged_job_id

    args = parse(dataflow_main.command_line(template_argv(dict(SAMPLE_VALUES, streaming=streaming)) + extra))
    _, settings = kafka_run_config(args)
    options = pipeline_options(args.beam_args, settings.streaming)
    assert launch_mode(options) == STAGE and staged_job_id(options) == STAGED_JOB_ID
    launched = launched_run(None, options, STAGE)
    assert (launched.job_id, launched.project, launched.region, launched.streaming) == (
        STAGED_JOB_ID, "my-project", "europe-west1", streaming == "true")
    stop = "drain" if streaming == "true" else "cancel"
    assert f"gcloud dataflow jobs {stop} {STAGED_JOB_ID} --project my-project --region europe-west1" in launched.render()
    assert launched.balanced and launched.error is None  # `run` exits 0
