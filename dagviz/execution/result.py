"""What a finished run gives back: success, events, every step's status, and outputs by node.

Besides dagviz's own view (``events``, ``steps``, ``step_status``), a result answers Dagster's
questions the way Dagster 1.13 does: ``all_events`` holds the events Dagster would have recorded
(no log lines, no reused steps, nothing for steps downstream of a failure), and
``is_node_success`` / ``is_node_failed`` / ``is_node_skipped`` ask whether *any* step of the
node had that event, so a mapped node with one failed key is both a success and a failure.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable

from dagviz.errors import DagsterInvariantViolationError, DagvizError
from dagviz.execution.event_data import DagsterEventType, NodeHandle, StepFailureData
from dagviz.execution.dagster_events import DagsterEvent, dagster_events
from dagviz.execution.events import Event
from dagviz.execution.orchestrator import RunOutcome
from dagviz.execution.plan import Step
from dagviz.execution.run_records import DagsterRun, DagsterRunStatus, run_tags
from dagviz.execution.status import StepStatus
from dagviz.step_keys import format_step_key

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore

_MISSING = object()
_NOT_IN_THIS_RUN = object()  # every step that could hold the value was reused from the parent run


class ExecutionResult:
    """The result of ``execute_in_process`` or ``execute_job``; also a context manager, as Dagster's is."""

    def __init__(self, job: "JobDefinition", outcome: RunOutcome, events: list[Event], store: "OutputStore",
                 tags: dict | None = None, run_config: dict | None = None, root_run_id: str | None = None) -> None:
        self.job = job
        self.run_id = outcome.run_id
        self.success = outcome.success
        self.canceled = outcome.canceled
        self.failure_reason = outcome.failure_reason
        self.tolerated_failures = outcome.tolerated_failures  # failed steps that tolerant collects ran without
        self.tolerated_step_keys = frozenset(outcome.plan.tolerated)
        self.events = events
        self.tags = dict(tags or {})
        self.run_config = dict(run_config or {})
        self._plan = outcome.plan
        self._store = store
        parent = outcome.plan.parent
        self.parent_run_id = parent.run_id if parent is not None else None
        self.root_run_id = root_run_id or self.parent_run_id
        self._all_events: list[DagsterEvent] | None = None

    def __enter__(self) -> "ExecutionResult":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        return None

    # -- dagviz's view ------------------------------------------------------------------------

    @property
    def steps(self) -> dict[str, Step]:
        """Every step of the run by step key (``status``, ``attempts``, ``error``, ``mapping_keys``...)."""
        return self._plan.steps

    def step_status(self, step_key: str) -> StepStatus:
        try:
            return self._plan.steps[step_key].status
        except KeyError:
            raise DagvizError(f"Run {self.run_id} has no step '{step_key}'.") from None

    def events_for_step(self, step_key: str) -> list[Event]:
        return [event for event in self.events if event.step_key == step_key]

    # -- Dagster's view -----------------------------------------------------------------------

    @property
    def dagster_run(self) -> DagsterRun:
        """The run's record: ``status`` (a ``DagsterRunStatus``), ``run_id``, ``tags``, ``job_name``, parents."""
        if self.canceled:
            status = DagsterRunStatus.CANCELED
        else:
            status = DagsterRunStatus.SUCCESS if self.success else DagsterRunStatus.FAILURE
        failed = any(step.status == StepStatus.FAILURE for step in self._plan.steps.values())
        return DagsterRun(
            run_id=self.run_id, job_name=self.job.name, status=status,
            tags=run_tags(self.job.tags, self.tags, status, failed), run_config=self.run_config,
            parent_run_id=self.parent_run_id, root_run_id=self.root_run_id,
        )

    @property
    def job_def(self) -> "JobDefinition":
        return self.job

    @property
    def all_events(self) -> list[DagsterEvent]:
        """The run's events as Dagster records them, with Dagster's types and messages (see ``dagster_events``);
        ``events`` keeps every dagviz event."""
        if self._all_events is None:
            self._all_events = dagster_events(self.job, self._plan, self.events)
        return self._all_events

    def filter_events(self, event_filter: Callable[[DagsterEvent], bool]) -> list[DagsterEvent]:
        return [event for event in self.all_events if event_filter(event)]

    def events_for_node(self, node: str) -> list[DagsterEvent]:
        """Every event of the node's steps (every key of a mapped node; every node inside a graph)."""
        handle = NodeHandle.from_string(node)
        return [event for event in self.all_events
                if event.node_handle is not None and event.node_handle.is_or_descends_from(handle)]

    def is_node_success(self, node: str) -> bool:
        """True if any step of the node succeeded in this run."""
        return any(event.is_step_success for event in self.events_for_node(node))

    def is_node_failed(self, node: str) -> bool:
        """True if any step of the node failed in this run."""
        return any(event.is_step_failure for event in self.events_for_node(node))

    def is_node_skipped(self, node: str) -> bool:
        """True if any step of the node was skipped because an output it needs was not produced."""
        return any(event.is_step_skipped for event in self.events_for_node(node))

    def is_node_untouched(self, node: str) -> bool:
        """True if no step of the node has an event (never created, downstream of a failure, or reused)."""
        return not self.events_for_node(node)

    def get_step_success_events(self) -> list[DagsterEvent]:
        return [event for event in self.all_events if event.is_step_success]

    def get_step_failure_events(self) -> list[DagsterEvent]:
        return [event for event in self.all_events if event.is_step_failure]

    def get_step_skipped_events(self) -> list[DagsterEvent]:
        return [event for event in self.all_events if event.is_step_skipped]

    def get_failed_step_keys(self) -> set[str]:
        return {event.step_key for event in self.get_step_failure_events() if event.step_key}

    def failure_data_for_node(self, node: str) -> StepFailureData | None:
        """The failure data of the node's first failed step, or None."""
        for event in self.events_for_node(node):
            if event.is_step_failure:
                return event.step_failure_data
        return None

    def retry_attempts_for_node(self, node: str) -> int:
        """How many times the node's steps were started again after a failed attempt."""
        return sum(1 for event in self.events_for_node(node) if event.is_step_restarted)

    def get_run_success_event(self) -> DagsterEvent:
        return self._run_event(DagsterEventType.RUN_SUCCESS)

    def get_run_failure_event(self) -> DagsterEvent:
        return self._run_event(DagsterEventType.RUN_FAILURE)

    def _run_event(self, event_type: DagsterEventType) -> DagsterEvent:
        for event in self.all_events:
            if event.event_type == event_type:
                return event
        raise DagvizError(f"No event of type {event_type.__class__.__name__}.{event_type.value} found.")

    # -- outputs ------------------------------------------------------------------------------

    def output_for_node(self, node: str, output_name: str = "result") -> Any:
        """A node's output; for a mapped node ``{mapping_key: value}`` in yield order (nested for nested fan-out).

        ``node`` is an op's handle (``op``, ``graph.op``) or a graph's, for the op output the graph returns.
        Only outputs produced in this run count: in a re-execution, reused steps give nothing.
        """
        graph_outputs = self.job.graph_outputs.get(node)
        if graph_outputs is not None:
            if output_name not in graph_outputs:
                raise DagsterInvariantViolationError(
                    f"{node} has no output named {output_name}. Graph '{node}' has no output '{output_name}' "
                    f"(outputs: {', '.join(graph_outputs)})."
                )
            node, output_name = graph_outputs[output_name]
        spec = self._node(node)
        if output_name not in spec.op.outs:
            raise DagsterInvariantViolationError(
                f"{node} has no output named {output_name}. Op '{node}' has no output '{output_name}' "
                f"(outputs: {', '.join(spec.op.outs)})."
            )
        value = self._value_at(spec.handle, output_name, ())
        if value is _NOT_IN_THIS_RUN:
            raise DagsterInvariantViolationError(
                f"Did not find result {output_name} in op '{node}': run {self.run_id} reused it from run "
                f"{self.parent_run_id} instead of running it."
            )
        if value is _MISSING or (value == {} and (spec.depth or spec.op.outs[output_name].is_dynamic)):
            raise DagsterInvariantViolationError(
                f"No outputs found for output '{output_name}' from node '{node}'. No value was produced for output "
                f"'{output_name}' of '{node}' in run {self.run_id}."
            )
        return value

    def _node(self, node: str) -> Any:
        try:
            return self.job.nodes[node]
        except KeyError:
            raise DagsterInvariantViolationError(
                f"{self.job.name} has no op named {node}. Job '{self.job.name}' has no node '{node}' "
                f"(nodes: {', '.join(self.job.nodes)})."
            ) from None

    def _value_at(self, handle: str, output: str, keys: tuple[str, ...]) -> Any:
        spec = self.job.nodes[handle]
        if len(keys) == spec.depth:
            step_key = format_step_key(handle, keys)
            step = self._plan.steps.get(step_key)
            if step is not None and step.status == StepStatus.REUSED:
                return _NOT_IN_THIS_RUN
            if spec.op.outs[output].is_dynamic:
                items = self._plan.dynamic_items.get((step_key, output), {})
                return {key: self._store.get(ref) for key, ref in items.items()}
            ref = step.outputs.get(output) if step is not None and step.status == StepStatus.SUCCESS else None
            return _MISSING if ref is None else self._store.get(ref)
        emitter, emitter_output = spec.scope[len(keys)]
        items = self._plan.dynamic_items.get((format_step_key(emitter, keys), emitter_output), {})
        values = {}
        reused = 0
        for key in items:
            value = self._value_at(handle, output, keys + (key,))
            if value is _NOT_IN_THIS_RUN:
                reused += 1
            elif value is not _MISSING:
                values[key] = value
        if not values and items and reused == len(items):
            return _NOT_IN_THIS_RUN
        return values

    def __repr__(self) -> str:
        return f"<ExecutionResult run={self.run_id} job={self.job.name} success={self.success}>"
