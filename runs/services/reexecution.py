"""Re-executing a finished run: plan (and preview) which steps run again and which outputs are reused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagviz.execution.plan import ParentRun
from dagviz.execution.reexecution import (
    ParentRecord,
    ReexecutionPlan,
    ReexecutionStrategy,
    as_strategy,
    parent_run_for,
    preview_with_reasons,
)
from dagviz.execution.status import StepStatus
from runs.errors import RunNotFinishedError
from runs import event_rows
from runs.models import Run, RunStatus, Step
from runs.services.launch import launch_run
from runs.services.runs import get_run
from runs.workspace import get_workspace

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition

REUSABLE = (StepStatus.SUCCESS.value, StepStatus.REUSED.value)


def load_parent_record(run: Run) -> ParentRecord:
    """What ``run`` left behind: every step's status, the outputs of those that produced them, its keys."""
    statuses, outputs, previews = {}, {}, {}
    rows = Step.objects.filter(run=run).values_list("key", "status", "outputs", "output_previews")
    for key, status, step_outputs, step_previews in rows:
        statuses[key] = StepStatus(status)
        if status in REUSABLE:
            outputs[key] = step_outputs
            previews[key] = step_previews
    yielded: dict[tuple[str, str], dict[str, str]] = {}
    for step_key, output_name, mapping_key, ref in event_rows.yielded_keys([run.id]):
        yielded.setdefault((step_key, output_name), {}).setdefault(mapping_key, ref)  # a key yielded again: its first
    dynamic = {emitter: list(keys.items()) for emitter, keys in yielded.items()}
    return ParentRecord(str(run.id), run.job_name, run.status == RunStatus.SUCCESS, statuses, outputs, dynamic,
                        previews)


def _finished_parent(parent: Run) -> tuple["JobDefinition", ParentRecord]:
    """The job ``parent`` ran (its op selection) and what it left behind; refused while it still runs."""
    if not parent.is_finished:
        raise RunNotFinishedError(f"Run {parent.id} is {parent.status}; re-execute it once it has finished.")
    return get_workspace().get(parent.job_name).get_subset(parent.op_selection), load_parent_record(parent)


def plan_reexecution(parent_run_id: str, strategy: ReexecutionStrategy | str,
                     step_keys: list[str] | None = None) -> ReexecutionPlan:
    """Which steps a re-execution would run and which it would reuse, each with the reason (``op[?]``:
    keys not known yet)."""
    parent = get_run(parent_run_id)
    job, record = _finished_parent(parent)
    return preview_with_reasons(job, parent.run_config, record, strategy, step_keys)


def reexecute(parent_run_id: str, strategy: ReexecutionStrategy | str, step_keys: list[str] | None = None,
              executor: str | None = None, actor: str = "") -> Run:
    """Launch a run that re-executes ``parent_run_id`` with ``strategy``, reusing outputs where it can.

    ``actor`` (who re-executes) is recorded as the new run's launcher.

    The child runs the same ops as its parent: a run of an op selection is re-executed with that selection.
    """
    parent = get_run(parent_run_id)
    strategy = as_strategy(strategy)
    job, record = _finished_parent(parent)
    parent_run_for(job, record, strategy, step_keys)  # validate before anything is written
    selection = {"strategy": strategy.value, "step_keys": list(step_keys or [])}
    return launch_run(parent.job_name, parent.run_config, parent.tags, executor or parent.executor,
                      parent=parent, step_selection=selection, output_store=parent.output_store,
                      op_selection=parent.op_selection, actor=actor)


def parent_run_of(run: Run, job: "JobDefinition") -> ParentRun:
    """The reuse rules of a launched re-execution, from its parent's records and its selection.

    Step keys are checked against the ops the run executes (its op selection of ``job``).
    """
    selection = run.step_selection or {"strategy": ReexecutionStrategy.FROM_FAILURE.value}
    return parent_run_for(job.get_subset(run.op_selection), load_parent_record(run.parent_run),
                          selection["strategy"], selection.get("step_keys"))
