"""What a finished run gives back: success, events, every step's status, and outputs by node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagviz.errors import DagvizError
from dagviz.execution.events import Event
from dagviz.execution.orchestrator import RunOutcome
from dagviz.execution.plan import Step
from dagviz.execution.status import StepStatus
from dagviz.step_keys import format_step_key

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore

_MISSING = object()


class ExecutionResult:
    """The result of ``execute_in_process`` or ``execute_job``."""

    def __init__(self, job: "JobDefinition", outcome: RunOutcome, events: list[Event], store: "OutputStore") -> None:
        self.job = job
        self.run_id = outcome.run_id
        self.success = outcome.success
        self.canceled = outcome.canceled
        self.failure_reason = outcome.failure_reason
        self.events = events
        self._plan = outcome.plan
        self._store = store

    @property
    def all_events(self) -> list[Event]:
        return self.events

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

    def is_node_success(self, node: str) -> bool:
        steps = [step for step in self._plan.steps.values() if step.node.handle == self._node(node).handle]
        return bool(steps) and all(step.status == StepStatus.SUCCESS for step in steps)

    def output_for_node(self, node: str, output_name: str = "result") -> Any:
        """A node's output; for a mapped node ``{mapping_key: value}`` in yield order (nested for nested fan-out).

        ``node`` is an op's handle (``op``, ``graph.op``) or a graph's, for the op output the graph returns.
        """
        graph_outputs = self.job.graph_outputs.get(node)
        if graph_outputs is not None:
            if output_name not in graph_outputs:
                raise DagvizError(f"Graph '{node}' has no output '{output_name}' (outputs: {', '.join(graph_outputs)}).")
            node, output_name = graph_outputs[output_name]
        spec = self._node(node)
        if output_name not in spec.op.outs:
            raise DagvizError(f"Op '{node}' has no output '{output_name}' (outputs: {', '.join(spec.op.outs)}).")
        value = self._value_at(spec.handle, output_name, ())
        if value is _MISSING:
            raise DagvizError(f"No value was produced for output '{output_name}' of '{node}' in run {self.run_id}.")
        return value

    def _node(self, node: str) -> Any:
        try:
            return self.job.nodes[node]
        except KeyError:
            raise DagvizError(
                f"Job '{self.job.name}' has no node '{node}' (nodes: {', '.join(self.job.nodes)})."
            ) from None

    def _value_at(self, handle: str, output: str, keys: tuple[str, ...]) -> Any:
        spec = self.job.nodes[handle]
        if len(keys) == spec.depth:
            step_key = format_step_key(handle, keys)
            if spec.op.outs[output].is_dynamic:
                items = self._plan.dynamic_items.get((step_key, output), {})
                return {key: self._store.get(ref) for key, ref in items.items()}
            step = self._plan.steps.get(step_key)
            ref = step.outputs.get(output) if step is not None and step.status == StepStatus.SUCCESS else None
            return _MISSING if ref is None else self._store.get(ref)
        emitter, emitter_output = spec.scope[len(keys)]
        items = self._plan.dynamic_items.get((format_step_key(emitter, keys), emitter_output), {})
        values = {}
        for key in items:
            value = self._value_at(handle, output, keys + (key,))
            if value is not _MISSING:
                values[key] = value
        return values

    def __repr__(self) -> str:
        return f"<ExecutionResult run={self.run_id} job={self.job.name} success={self.success}>"
