"""Re-execution: which steps of a finished run to run again, and which outputs to reuse.

The same plan logic drives the preview and the launched run: the preview runs the plan with
an executor that pretends each step produced what it produced in the parent run (and one
unknown key ``?`` for an emitter whose keys the parent never recorded), so the preview
lists exactly the steps the real run would execute and reuse. Each step of a preview also
gets the reason it runs (or is reused), from the strategy, the selection, the parent's
statuses and the job's shape (``step_reasons``, the one place that words them).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Iterable

from dagviz.config.run_config import resolve_run_config
from dagviz.errors import DagsterExecutionStepNotFoundError, DagvizError, InvalidStepKeyError, unknown_steps_message
from dagviz.execution.events import DynamicOutputYielded, Event, StepOutput, StepReused, StepStarted, StepSucceeded
from dagviz.execution.orchestrator import RunCoordinator, plan_index
from dagviz.execution.plan import ParentRun, PlanIndex
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

    def failed_steps(self) -> list[str]:
        """Steps that failed in this run (a successful run has some when tolerant collects ran without them)."""
        return [key for key, status in self.step_statuses.items() if status == StepStatus.FAILURE]

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


class StepReason(str, Enum):
    """Why a step of a re-execution runs again, or why it does not."""

    ALL = "all"  # ALL runs every step
    SELECTED = "selected"
    DOWNSTREAM_OF_SELECTED = "downstream of selected"  # FROM_SELECTED
    FAILED_IN_PARENT = "failed in parent"  # the parent has no outputs of it to reuse
    CANCELED_IN_PARENT = "canceled in parent"
    SKIPPED_IN_PARENT = "skipped in parent"
    NOT_RUN_IN_PARENT = "not run in parent"  # never started, still pending, or a key not yielded yet (op[?])
    DOWNSTREAM_OF_RERUN = "downstream of a step that runs again"  # its parent outputs are stale
    REUSED = "reused from parent"


_REASON_OF_PARENT_STATUS = {
    StepStatus.FAILURE: StepReason.FAILED_IN_PARENT,
    StepStatus.CANCELED: StepReason.CANCELED_IN_PARENT,
    StepStatus.SKIPPED: StepReason.SKIPPED_IN_PARENT,
}


@dataclass(frozen=True)
class PlannedStep:
    step_key: str
    reason: StepReason


@dataclass(frozen=True)
class ReexecutionPlan:
    to_execute: list[str]
    reused: list[str]
    steps: list[PlannedStep] = field(default_factory=list)  # to_execute then reused, each with its reason


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
        if record.succeeded and not record.failed_steps():  # a tolerant collect's failed keys can be repaired
            raise ReexecutionError(
                f"Run {record.run_id} succeeded: there is nothing to re-execute from failure "
                "(use SELECTED or ALL to run steps again)."
            )
        forced = _never
    elif strategy == ReexecutionStrategy.ALL:
        forced = _always
    else:
        selected = SelectionMatcher(parse_selection(job, step_keys or (), record.step_statuses))

        def forced(step_key: str) -> bool:
            return selected.matches(parse_step_key(step_key))

    only_forced = strategy == ReexecutionStrategy.SELECTED
    only_selection = strategy in (ReexecutionStrategy.SELECTED, ReexecutionStrategy.FROM_SELECTED)
    return ParentRun(record.run_id, record.outputs, record.dynamic_items, forced, only_forced, record.previews,
                     only_selection)


class SelectionMatcher:
    """Whether a step is selected, in constant time per step however many keys are selected.

    Concrete keys are looked up in a set; only ``op[?]`` patterns are compared, and only with steps of their op.
    A failure group of thousands of keys checked against 100,000 steps stays a set lookup per step.
    """

    def __init__(self, selection: Iterable[StepKey]) -> None:
        self._exact: set[StepKey] = set()
        self._patterns: dict[str, list[StepKey]] = {}
        for key in selection:
            if key.is_unresolved:
                self._patterns.setdefault(key.node, []).append(key)
            else:
                self._exact.add(key)

    def matches(self, key: StepKey) -> bool:
        if key in self._exact:
            return True
        return any(pattern.matches(key) for pattern in self._patterns.get(key.node, ()))


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


def preview_with_reasons(job: "JobDefinition", run_config: dict | None, record: ParentRecord,
                         strategy: ReexecutionStrategy | str, step_keys: Iterable[str] | None = None
                         ) -> ReexecutionPlan:
    """The preview of re-executing ``record`` with ``strategy``, each step with the reason it runs or is reused."""
    strategy = as_strategy(strategy)
    plan = preview_reexecution(job, run_config, parent_run_for(job, record, strategy, step_keys))
    selection = [] if strategy in (ReexecutionStrategy.ALL, ReexecutionStrategy.FROM_FAILURE) else \
        parse_selection(job, step_keys or (), record.step_statuses)
    reasons = step_reasons(job, record, strategy, selection, plan.to_execute)
    steps = [PlannedStep(key, reasons[key]) for key in plan.to_execute]
    steps += [PlannedStep(key, StepReason.REUSED) for key in plan.reused]
    return ReexecutionPlan(plan.to_execute, plan.reused, steps)


def step_reasons(job: "JobDefinition", record: ParentRecord, strategy: ReexecutionStrategy,
                 selection: list[StepKey], to_execute: Iterable[str]) -> dict[str, StepReason]:
    """Why each step that a re-execution runs runs, most telling reason first.

    The strategy's own choice comes first (ALL, the selection, FROM_SELECTED's downstream steps); a step
    the strategy did not choose runs because the parent left no outputs of it (its parent status says
    why) or because a step upstream of it runs again, so the parent's outputs no longer fit.
    """
    downstream = _DownstreamOfSelection(plan_index(job), selection) \
        if strategy == ReexecutionStrategy.FROM_SELECTED else None
    selected = SelectionMatcher(selection)
    reasons: dict[str, StepReason] = {}
    for key_text in to_execute:
        key = parse_step_key(key_text)
        if strategy == ReexecutionStrategy.ALL:
            reasons[key_text] = StepReason.ALL
        elif selected.matches(key):
            reasons[key_text] = StepReason.SELECTED
        elif downstream is not None and downstream.covers(key):
            reasons[key_text] = StepReason.DOWNSTREAM_OF_SELECTED
        else:
            reasons[key_text] = _reason_from_parent(record, key_text)
    return reasons


def _reason_from_parent(record: ParentRecord, step_key: str) -> StepReason:
    if step_key in record.outputs:  # it could have been reused: something it reads runs again
        return StepReason.DOWNSTREAM_OF_RERUN
    return _REASON_OF_PARENT_STATUS.get(record.step_statuses.get(step_key), StepReason.NOT_RUN_IN_PARENT)


class _DownstreamOfSelection:
    """Which steps are downstream of the selected ones, from the job's shape and the steps' mapping keys.

    A step ``n[k]`` is downstream of a selected ``m[j]`` when node ``m`` is upstream of node ``n`` and
    the keys agree on the fan-outs both nodes are in (none for a collect: it is downstream of every key).
    Work is per selected node and per key checked, never per pair of steps.
    """

    def __init__(self, index: PlanIndex, selection: list[StepKey]) -> None:
        # node -> key prefixes of the selected steps above it (one set per prefix length); ``?`` ones apart
        self._exact: dict[str, dict[int, set[tuple[str, ...]]]] = {}
        self._patterns: dict[str, list[tuple[str, ...]]] = {}
        closures: dict[str, set[str]] = {}
        for selected in selection:
            if selected.node not in closures:
                closures[selected.node] = _downstream_nodes(index, selected.node)
            scope = index.nodes[selected.node].scope
            for node in closures[selected.node]:
                prefix = selected.mapping_keys[:_shared_depth(scope, index.nodes[node].scope)]
                if UNRESOLVED in prefix:
                    self._patterns.setdefault(node, []).append(prefix)
                else:
                    self._exact.setdefault(node, {}).setdefault(len(prefix), set()).add(prefix)

    def covers(self, key: StepKey) -> bool:
        by_length = self._exact.get(key.node, {})
        if any(key.mapping_keys[:length] in prefixes for length, prefixes in by_length.items()):
            return True
        candidates = list(self._patterns.get(key.node, ()))
        if UNRESOLVED in key.mapping_keys:  # op[?] stands for keys not yielded yet: any selected key may be one
            candidates += [prefix for prefixes in by_length.values() for prefix in prefixes]
        return any(_keys_agree(prefix, key.mapping_keys[:len(prefix)]) for prefix in candidates)


def _downstream_nodes(index: PlanIndex, node: str) -> set[str]:
    """Every node that reads, directly or through others, what ``node`` produces."""
    found: set[str] = set()
    queue = deque(index.downstream.get(node, ()))
    while queue:
        handle = queue.popleft()
        if handle not in found:
            found.add(handle)
            queue.extend(index.downstream.get(handle, ()))
    return found


def _shared_depth(scope: tuple, other: tuple) -> int:
    """How many fan-outs (outermost first) two nodes are both mapped over."""
    depth = 0
    while depth < min(len(scope), len(other)) and scope[depth] == other[depth]:
        depth += 1
    return depth


def _keys_agree(pattern: tuple[str, ...], keys: tuple[str, ...]) -> bool:
    return all(UNRESOLVED in (mine, theirs) or mine == theirs for mine, theirs in zip(pattern, keys))
