"""How a run on Dataflow ends in the launching process: waited on, or submitted and left running.

In: the run's Beam options. Out: one of

* ``WAIT``: run to the end here, then read the summary back (every runner but Dataflow, and a
  bounded Dataflow job launched from a shell: its summary and its Kafka commit need its end);
* ``SUBMIT``: a streaming Dataflow job launched from a shell (or a bounded one given Beam's
  ``--no_wait_until_finish``): submit it, record the run
  ``LAUNCHED`` with the job id, print how to follow and stop it, and return;
* ``STAGE``: the Flex Template launcher's call (``--template_location`` given): Beam writes the job
  where the launcher asked instead of submitting it, and the run is recorded ``LAUNCHED``.

Why: ``wait_until_finish()`` on a streaming Dataflow job returns only once the job is cancelled or
drained, so a launch never returned and its run stayed RUNNING. A Flex Template launcher runs this
program with ``--template_location=gs://.../template_launches/JOB_ID/job_object`` (Dataflow's
launcher logs show it); Beam then stages the job there and returns a result without a job
(``DataflowPipelineResult.has_job`` is False and ``wait_until_finish`` returns DONE at once), so
the run used to be summarized, with nothing read, before its job even existed. Dataflow creates the
job from that file after this program exits; its id is that folder's name.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions

WAIT, SUBMIT, STAGE = "wait", "submit", "stage"
_STAGED_JOB = re.compile(r"/template_launches/([^/]+)/[^/]+$")


def launch_mode(options: PipelineOptions) -> str:
    """WAIT, SUBMIT or STAGE for a pipeline about to run with ``options`` (see the module docstring)."""
    if not _is_dataflow(options.view_as(StandardOptions).runner):
        return WAIT
    if options.view_as(GoogleCloudOptions).template_location:
        return STAGE
    standard = options.view_as(StandardOptions)
    # Beam's --no_wait_until_finish asks the same of a bounded job (Beam itself reads it only in `with`)
    return SUBMIT if standard.streaming or getattr(standard, "no_wait_until_finish", False) else WAIT


def how_it_runs(beam_args: list[str], streaming: bool) -> str:
    """Said before a Kafka read starts: a job handed to Dataflow runs there, not until Ctrl-C here."""
    mode = launch_mode(PipelineOptions([*beam_args, *(["--streaming"] if streaming else [])]))
    if mode != WAIT:
        return f"{'streaming' if streaming else 'bounded'}, handed to Dataflow"
    return "streaming until Ctrl-C or SIGTERM" if streaming else "bounded"


def _is_dataflow(runner: Any) -> bool:
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner  # importable without [gcp]
    from apache_beam.runners.runner import create_runner

    if not runner:
        return False
    if not isinstance(runner, str):
        return isinstance(runner, DataflowRunner)
    try:  # Beam's own reading of the name: "DataflowRunner", "dataflow", a dotted path
        return isinstance(create_runner(runner), DataflowRunner)
    except (ValueError, ImportError):
        return False


def staged_job_id(options: PipelineOptions) -> Optional[str]:
    """The id of the job Dataflow creates from a Flex Template launch's staged file, or None."""
    location = options.view_as(GoogleCloudOptions).template_location or ""
    match = _STAGED_JOB.search(location)
    return match.group(1) if match else None


@dataclasses.dataclass
class LaunchedRun:
    """A run handed to Dataflow: what ``run`` prints and records instead of a summary. It has the
    summary's ``balanced``, ``refused_rows`` and ``error``, so ``run`` exits 0 for it."""

    job_id: Optional[str]
    project: Optional[str]
    region: Optional[str]
    streaming: bool
    staged: bool  # STAGE: Dataflow starts the job after this process exits
    balanced: bool = True
    refused_rows: int = 0
    error: Optional[str] = None

    def _gcloud(self, verb: str) -> str:
        where = "".join(f" --{name} {value}" for name, value in (("project", self.project), ("region", self.region))
                        if value)
        return f"gcloud dataflow jobs {verb} {self.job_id or 'JOB_ID'}{where}"

    def message(self) -> str:
        """The ``runs`` row's message: which job, and how to stop it."""
        job = f"Dataflow job {self.job_id}" if self.job_id else "a Dataflow job (its id is in the launch's log)"
        stop = "drain" if self.streaming else "cancel"
        return (f"{'staged by the Flex Template launcher as' if self.staged else 'submitted as'} {job}; it runs "
                f"there and this row is not updated when it ends: see `{self._gcloud('show')}`, stop it with "
                f"`{self._gcloud(stop)}`")

    def render(self) -> str:
        lines = [f"Launched on Dataflow: {'job ' + self.job_id if self.job_id else 'job id not known here'} "
                 f"({'streaming' if self.streaming else 'bounded'}"
                 f"{', created by Dataflow once the template launcher exits' if self.staged else ''})",
                 f"  follow: {self._gcloud('show')}"]
        if self.job_id and self.project and self.region:
            lines.append(f"          https://console.cloud.google.com/dataflow/jobs/{self.region}/{self.job_id}"
                         f"?project={self.project}")
        if self.streaming:
            lines.append(f"  stop:   {self._gcloud('drain')}   (finishes what is in flight; `cancel` drops it)")
        else:
            lines.append(f"  stop:   {self._gcloud('cancel')}")
        lines.append("  The runs table says LAUNCHED: this process does not see the job end; its counts reach "
                     "run_ledger as the workers write them.")
        return "\n".join(lines)


def launched_run(job_id: Optional[str], options: PipelineOptions, mode: str) -> LaunchedRun:
    """The LaunchedRun of a job Beam submitted (its id) or staged (``staged_job_id``)."""
    cloud = options.view_as(GoogleCloudOptions)
    return LaunchedRun(job_id=job_id or (staged_job_id(options) if mode == STAGE else None), project=cloud.project,
                       region=cloud.region, streaming=bool(options.view_as(StandardOptions).streaming),
                       staged=mode == STAGE)
