"""Re-execution: which steps of a finished run to run again, and which outputs to reuse.

The same plan logic drives the preview and the launched run: the preview runs the plan with
an executor that pretends each step produced what it produced in the parent run (and one
unknown key ``?`` for an emitter whose keys the parent never recorded), so the preview
lists exactly the steps the real run would execute and reuse.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Iterable

from dagviz.config.run_config import resolve_run_config
from dagviz.errors import DagsterExecutionStepNotFoundError, DagvizError, InvalidStepKeyError, unknown_steps_message
from dagviz.execution.events import DynamicOutputYielded, Event, StepOutput, StepReused, StepStarted, StepSucceeded
from dagviz.execution.orchestrator import RunCoordinator
from dagviz.execution.plan import ParentRun
from dagviz.execution.sinks import MemorySink
from dagviz.execution.status import StepStatus
from dagviz.execution.step_runner import StepTask
from dagviz.step_keys import UNRESOLVED, StepKey, parse_step_key

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.execution.result import ExecutionResult
    from dagviz.storage.output_store import OutputStore
    from dagviz.workspace import JobPointer


class ReexecutionStrategy(str, Enum):
    FROM_FAILURE = "FROM_FAILURE"  # failed and never-run steps, and everything downstream of them
    SELECTED = "SELECTED"  # exactly the given step keys (``op[key]``, ``op[?]`` for every key), as Dagster does
    FROM_SELECTED = "FROM_SELECTED"  # the given step keys and everything downstream of them
    ALL = "ALL"  # every step


class ReexecutionError(DagvizError):
    """A re-execution cannot be planned (nothing failed, unknown step keys, ...)."""


@dataclass(frozen=True)
class ParentRecord:
    """What a finished run left behind, as read from storage."""

    run_id: str
    job_name: str
    succeeded: bool
    step_statuses: dict[str, StepStatus]
    outputs: dict[str, dict[str, str]]  # step key -> output -> ref, for SUCCESS and REUSED steps
    dynamic_items: dict[tuple[str, str], list[tuple[str, str]]]  # (emitter key, output) -> [(key, ref)]
    previews: dict[str, dict[str, str]] = field(default_factory=dict)  # step key -> output -> preview

    @classmethod
    def from_result(cls, result: "ExecutionResult") -> "ParentRecord":
        """The record of a run executed in this process (its events and final step statuses)."""
        outputs = {key: dict(step.outputs) for key, step in result.steps.items()
                   if step.status in (StepStatus.SUCCESS, StepStatus.REUSED)}
        dynamic: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for event in result.events:
            if isinstance(event, DynamicOutputYielded):
                dynamic.setdefault((event.step_key, event.output_name), []).append((event.mapping_key, event.ref))
        statuses = {key: step.status for key, step in result.steps.items()}
        return cls(result.run_id, result.job.name, result.success, statuses, outputs, dynamic,
                   _previews_of(result.events))


def _previews_of(events: Iterable[Event]) -> dict[str, dict[str, str]]:
    """The output previews a run recorded, by step and output (a reused step's are its parent's)."""
    previews: dict[str, dict[str, str]] = {}
    for event in events:
        if isinstance(event, StepOutput) and event.preview is not None:
            previews.setdefault(event.step_key, {})[event.output_name] = event.preview
        elif isinstance(event, StepReused):
            previews[event.step_key] = dict(event.previews)
    return previews


@dataclass(frozen=True)
class ReexecutionPlan:
    to_execute: list[str]
    reused: list[str]


def parse_selection(job: "JobDefinition", step_keys: Iterable[str], known_steps: Iterable[str]) -> list[StepKey]:
    """Parse and check selected step keys: the node exists, the depth fits, a concrete key was in the run."""
    known = set(known_steps)
    selection, unknown, reasons = [], [], []
    for text in step_keys:
        try:
            key = parse_step_key(text)
        except InvalidStepKeyError as error:
            unknown.append(text)
            reasons.append(str(error))
            continue
        node = job.nodes.get(key.node)
        if node is None:
            reasons.append(f"job '{job.name}' has no node '{key.node}'")
        elif len(key.mapping_keys) != node.depth:
            expected = "".join(["[key]"] * node.depth) or " with no [key]"
            reasons.append(f"node '{key.node}' is mapped {node.depth} deep, write it as {key.node}{expected}")
        elif not key.is_unresolved and text not in known:
            reasons.append(f"'{text}' is not a step of the parent run")
        else:
            selection.append(key)
            continue
        unknown.append(text)
    if unknown:
        raise DagsterExecutionStepNotFoundError(f"{unknown_steps_message(unknown)} (dagviz: {'; '.join(reasons)})")
    if not selection:
        raise ReexecutionError("SELECTED re-execution needs at least one step key.")
    return selection


def parent_run_for(job: "JobDefinition", record: ParentRecord, strategy: ReexecutionStrategy | str,
                   step_keys: Iterable[str] | None = None) -> ParentRun:
    """The reuse rules of one re-execution of ``record`` with ``strategy``."""
    strategy = as_strategy(strategy)
    if strategy == ReexecutionStrategy.FROM_FAILURE:
        if record.succeeded:
            raise ReexecutionError(
                f"Run {record.run_id} succeeded: there is nothing to re-execute from failure "
                "(use SELECTED or ALL to run steps again)."
            )
        forced = _never
    elif strategy == ReexecutionStrategy.ALL:
        forced = _always
    else:
        selection = parse_selection(job, step_keys or (), record.step_statuses)

        def forced(step_key: str) -> bool:
            parsed = parse_step_key(step_key)
            return any(pattern.matches(parsed) for pattern in selection)

    only_forced = strategy == ReexecutionStrategy.SELECTED
    return ParentRun(record.run_id, record.outputs, record.dynamic_items, forced, only_forced, record.previews)


def as_strategy(value: ReexecutionStrategy | str) -> ReexecutionStrategy:
    try:
        return ReexecutionStrategy(value)
    except ValueError:
        valid = ", ".join(strategy.value for strategy in ReexecutionStrategy)
        raise ReexecutionError(f"Unknown re-execution strategy {value!r}; valid strategies: {valid}.") from None


def _never(step_key: str) -> bool:
    return False


def _always(step_key: str) -> bool:
    return True


class _PreviewStore:
    url = "preview://"

    def put(self, ref: str, value: object) -> str:
        return ref

    def get(self, ref: str) -> object:
        raise DagvizError("A preview reads no outputs.")

    def exists(self, ref: str) -> bool:
        return False


class PreviewExecutor:
    """Pretends each submitted step produced what it produced in the parent run; runs no user code."""

    name = "preview"

    def __init__(self, parent: ParentRun) -> None:
        self.parent = parent
        self._tasks: deque[StepTask] = deque()

    def start(self, job: "JobDefinition", pointer: "JobPointer | None", store: "OutputStore") -> None:
        self._job = job

    def free_slots(self) -> int:
        return 1 << 30

    def submit(self, task: StepTask) -> None:
        self._tasks.append(task)

    def next_events(self, timeout: float | None) -> list[Event]:
        if not self._tasks:
            return []
        task = self._tasks.popleft()
        op_def = self._job.nodes[task.node].op
        recorded = self.parent.outputs.get(task.step_key)
        events: list[Event] = [StepStarted(task.step_key)]
        for output, out in op_def.outs.items():
            if out.is_dynamic:
                items = list(self.parent.dynamic_items.get((task.step_key, output), ()))
                if recorded is None:  # it did not finish in the parent: more keys may come
                    items.append((UNRESOLVED, f"preview/{task.step_key}/{output}/{UNRESOLVED}"))
                events.extend(DynamicOutputYielded(task.step_key, output_name=output, mapping_key=key, ref=ref)
                              for key, ref in items)
            else:
                ref = (recorded or {}).get(output, f"preview/{task.step_key}/{output}")
                events.append(StepOutput(task.step_key, output_name=output, ref=ref))
        events.append(StepSucceeded(task.step_key))
        return events

    def terminate(self) -> None:
        self._tasks.clear()

    def shutdown(self) -> None:
        self._tasks.clear()


def preview_reexecution(job: "JobDefinition", run_config: dict | None, parent: ParentRun) -> ReexecutionPlan:
    """The steps a re-execution would run and reuse; ``op[?]`` stands for keys not yet known."""
    config = resolve_run_config(job.name, job.nodes, run_config, resource_defs=job.resource_defs)
    sink = MemorySink()
    RunCoordinator(job, config, PreviewExecutor(parent), _PreviewStore(), sink, parent=parent).run()
    to_execute = [event.step_key for event in sink.events if isinstance(event, StepStarted)]
    reused = [event.step_key for event in sink.events if isinstance(event, StepReused)]
    return ReexecutionPlan(to_execute, reused)
