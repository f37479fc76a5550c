"""The command line's spelling rules and its check of options handed to Beam."""
import pytest

from pipelines.argv import _beam_parser, _flags, subcommand_parser
from pipelines.cli import build_parser, parse


def test_a_misspelled_option_of_ours_fails_the_run_and_names_the_real_one(capsys):
    for typo, meant in (("--bootstrap-server=k:9092", "--bootstrap-servers"), ("--windw=6h", "--window")):
        with pytest.raises(SystemExit) as exited:
            parse(["run", "--input", "events.avro", typo])
        err = capsys.readouterr().err
        assert exited.value.code == 2 and f"unknown option {typo.split('=')[0]}" in err and f"did you mean {meant}" in err


def test_beam_options_pass_through_to_beam_in_either_form():
    args = parse(["run", "--input", "e.avro", "--runner", "FlinkRunner", "--flink_master=host:8081",
                  "--direct_num_workers=2", "--experiments=use_runner_v2", "--temp_location", "gs://b/t"])
    assert args.beam_args == ["--runner", "FlinkRunner", "--flink_master=host:8081", "--direct_num_workers=2",
                              "--experiments=use_runner_v2", "--temp_location", "gs://b/t"]


def test_underscore_and_boolean_value_spellings_reach_our_options():
    args = parse(["run", "--source=kafka", "--group_id=g", "--until_end=true", "--idle_timeout", "5s",
                  "--allowed_lateness=1d", "--streaming=false"])
    assert (args.group_id, args.until_end, args.idle_timeout, args.allowed_lateness, args.streaming) == (
        "g", True, "5s", "1d", False)
    assert args.beam_args == []


def test_the_run_options_beam_also_declares_are_known_and_meant_for_us():
    # One of ours in its underscore spelling that Beam also declares is read as ours, not Beam's:
    # --streaming (handed on to Beam by pipeline_options()) and --bootstrap_servers (Beam's Kafka
    # Streams runner's, which this project does not use). A new collision must be looked at.
    run = subcommand_parser(build_parser()[0], ["run"])
    ours = {"--" + o[2:].replace("-", "_") for o in _flags(run)[0] if o.startswith("--") and o != "--help"}
    beam = set(_flags(_beam_parser())[0])
    assert ours & beam == {"--streaming", "--bootstrap_servers"}


def test_other_commands_refuse_leftovers(capsys):
    with pytest.raises(SystemExit):
        parse(["export", "pair_scores", "--runner=DataflowRunner"])
    assert "unknown option --runner: not an option of `social-mentors export`" in capsys.readouterr().err


# --- issue 13's outside probe: Beam booleans, repeated options, negative numbers --------------------

import json
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import dataflow_main
from pipelines.cli import main

ROOT = Path(__file__).resolve().parents[2]


def template_argv(**values: str) -> list[str]:
    """The argv a Flex Template launch passes to pipelines/dataflow_main.py: ``--name=value`` per
    parameter of deploy/dataflow/metadata.json, then what Dataflow adds."""
    spec = json.loads((ROOT / "deploy" / "dataflow" / "metadata.json").read_text())
    values = {"source": "kafka", "bootstrap_servers": "kafka-1.internal:9092", "topic": "events",
              "group_id": "mentors", "warehouse": "bigquery://p/d", "window": "6h", "allowed_lateness": "2d",
              "streaming": "true", "bigquery_write": "auto", **values}
    return [f"--{p['name']}={values[p['name']]}" for p in spec["parameters"]] + [
        "--runner=DataflowRunner", "--project=p", "--region=europe-west1", "--temp_location=gs://b/tmp"]


def test_beam_boolean_flags_sent_as_true_or_false_reach_beam():
    # Dataflow sends every boolean parameter as =true/=false; Beam's parser refused the value
    # ("ignored explicit argument 'true'") and the launch exited 2.
    argv = template_argv() + ["--enable_streaming_engine=true", "--use_public_ips=false", "--save_main_session=TRUE",
                              "--no_pipeline_type_check=false"]
    args = parse(dataflow_main.command_line(argv))
    assert args.beam_args[-3:] == ["--enable_streaming_engine", "--no_use_public_ips", "--save_main_session"]
    options = PipelineOptions(args.beam_args).get_all_options()
    assert (options["enable_streaming_engine"], options["use_public_ips"], options["save_main_session"],
            options["pipeline_type_check"]) == (True, False, True, True)


def test_a_beam_flag_set_false_that_beam_cannot_turn_off_is_refused_in_one_line(capsys):
    # --enable_streaming_engine has no negative in Beam and is on by default: dropping it would
    # silently keep it on.
    for flag, message in (("--enable_streaming_engine=false", "--enable_streaming_engine=false: Beam has no option"),
                          ("--use_public_ips=maybe", "--use_public_ips takes true or false, not 'maybe'")):
        with pytest.raises(SystemExit) as exited:
            parse(dataflow_main.command_line(template_argv() + [flag]))
        err = capsys.readouterr().err
        assert exited.value.code == 2 and message in err, err
        assert len(err.strip().splitlines()[-1]) < 300 and "usage: -c" not in err  # not Beam's 200-line usage


def test_a_beam_option_with_a_bad_value_is_one_line_not_beams_usage(capsys):
    with pytest.raises(SystemExit) as exited:
        parse(["run", "--input", "e.avro", "--direct_num_workers=many"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--direct_num_workers" in err and "many" in err and "usage: -c" not in err, err


def test_a_beam_boolean_given_true_runs_in_a_real_run(tmp_path, capsys):
    # past the parser: the run goes on to its first real check (the input)
    code = main(["run", "--input", str(tmp_path / "absent.avro"), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--save_main_session=true"])
    assert code == 2 and "no input file matches" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["run", "--input", "e.avro", "--window", "1d", "--window", "7d"], "--window"),
    (["run", "--input", "e.avro", "--window=1d", "--window=7d"], "--window"),
    (["run", "--input", "e.avro", "--runner=DirectRunner", "--runner", "FlinkRunner"], "--runner"),
    (["export", "pair_scores", "--format", "csv", "--format=jsonl"], "--format"),
    (["query", "mentors", "--reader", "r", "--top", "3", "--top", "5"], "--top"),
    (dataflow_main.command_line(template_argv() + ["--group-id=other"]), "--group-id"),
    (dataflow_main.command_line(template_argv() + ["--use_public_ips", "--no_use_public_ips"]), "--use_public_ips"),
])
def test_a_single_value_option_given_twice_with_different_values_is_refused(argv, named, capsys):
    # the last one used to win silently
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and f"{named}" in err and "different values" in err, err


def test_identical_repeats_and_repeatable_options_pass():
    args = parse(["run", "--input", "a.avro", "--input", "b.avro", "--window", "1d", "--window=1d", "--streaming",
                  "--streaming", "--experiments=a", "--experiments=b", "--source", "kafka", "--source=kafka"])
    assert (args.input, args.window, args.streaming) == (["a.avro", "b.avro"], "1d", True)
    assert args.beam_args == ["--experiments=a", "--experiments=b"]


def test_one_number_in_two_spellings_is_the_same_value():
    # an outside probe: --parallelism=1 --parallelism=01 was refused as "different values", where
    # Beam reads both as 1; a number is compared by its value, a string (--top 3 vs --top 5) differs
    args = parse(["run", "--input", "e.avro", "--runner=FlinkRunner", "--parallelism=1", "--parallelism=01"])
    assert "--parallelism=01" in args.beam_args
    parse(["query", "mentors", "--reader", "r", "--top", "3", "--top", "03"])
    with pytest.raises(SystemExit):
        parse(["run", "--input", "e.avro", "--runner=FlinkRunner", "--parallelism=1", "--parallelism=2"])


def test_one_duration_in_two_spellings_is_the_same_value():
    # an outside probe: --window=7d --window=168h was refused as "different values"; a duration is
    # compared by what it means, other options as written (a topic named 1d is not one named 24h)
    args = parse(dataflow_main.command_line(template_argv(window="7d") + ["--window=168h"]))
    assert args.window == "168h"
    with pytest.raises(SystemExit):
        parse(["run", "--source", "kafka", "--topic", "1d", "--topic", "24h", "--until-end"])


@pytest.mark.parametrize("argv, message", [
    (["run", "--input", "e.avro", "--window", "-5m"], "argument --window: '-5m' must be positive"),
    (["run", "--input", "e.avro", "--window=-5m"], "argument --window: '-5m' must be positive"),
    (["run", "--input", "e.avro", "--window", "0"], "argument --window: '0' must be positive"),
    (["run", "--input", "e.avro", "--allowed-lateness", "-1d"], "argument --allowed-lateness: '-1d' cannot be negative"),
    (["run", "--input", "e.avro", "--early-firing", "-30s"], "argument --early-firing: '-30s' must be positive"),
    (["run", "--source", "kafka", "--until-end", "--kafka-timeout", "-1s"], "argument --kafka-timeout: '-1s' must be positive"),
    (["run", "--input", "e.avro", "--window", "99999999999w"], "argument --window: '99999999999w' is too long"),
    (["run", "--input", "e.avro", "--latency-scale", "-2h"], "argument --latency-scale: '-2h' must be positive"),
])
def test_negative_and_absurd_durations_parse_and_are_refused_with_the_reason(argv, message, capsys):
    # a value starting with '-' was read as an option: "expected one argument"
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err, err


@pytest.mark.parametrize("argv", [
    ["run", "--source", "kafka", "--streaming=true", "--streaming=false"],
    ["run", "--source", "kafka", "--streaming=false", "--streaming"],
    ["run", "--source", "kafka", "--until_end=true", "--until_end=false", "--streaming=false"],
    dataflow_main.command_line(template_argv() + ["--streaming=false"]),
])
def test_a_flag_given_true_and_false_is_refused(argv, capsys):
    # `=false` used to be dropped before the repeat check: the true one won silently
    named = "--until-end" if "--until_end=true" in argv else "--streaming"
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert f"{named} given more than once with different values (true and false): give it once" in err, err


def test_a_flag_given_false_twice_or_true_twice_passes():
    assert parse(["run", "--source", "kafka", "--streaming=false", "--streaming=false", "--until-end"]).streaming is False
    assert parse(["run", "--source", "kafka", "--streaming=true", "--streaming"]).streaming is True
