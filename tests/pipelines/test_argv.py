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
