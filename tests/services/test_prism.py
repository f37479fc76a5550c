"""Prism's arguments: the runner, the local build, and its dynamic splitting turned off."""
from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions

from services.prism import NO_DYNAMIC_SPLITS, prism_args


def test_prism_runs_with_its_dynamic_splitting_off_and_other_experiments_kept(prism_binary):
    args = prism_args(["--experiments=use_runner_v2", f"--prism_location={prism_binary}"])
    experiments = PipelineOptions(args).view_as(DebugOptions).experiments
    assert NO_DYNAMIC_SPLITS in experiments and "use_runner_v2" in experiments
    assert "--runner=PrismRunner" in args and args.count(f"--prism_location={prism_binary}") == 1


def test_the_experiment_is_not_added_twice():
    args = prism_args([f"--experiments={NO_DYNAMIC_SPLITS}", "--prism_location=/bin/true", "--runner=PrismRunner"])
    assert PipelineOptions(args).view_as(DebugOptions).experiments == [NO_DYNAMIC_SPLITS]
