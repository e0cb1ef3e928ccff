"""A run's events as Dagster records them, derived from dagviz's events (``ExecutionResult.all_events``).

Dagster's event log has events dagviz does not store (``LOADED_INPUT`` and ``STEP_INPUT`` after a
step starts, ``HANDLED_OUTPUT`` after each output) and none for what dagviz adds (log lines,
reused steps, steps skipped because something upstream failed). Each view carries Dagster's event
type and message and reads everything else from the dagviz event behind it (``kind``,
``output_name``, ``metadata``...), so code written for either API works on ``all_events``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from dagviz.definitions.composition import COLLECT, NOTHING, InputSource
from dagviz.execution.event_data import DagsterEventAccessors, DagsterEventType
from dagviz.execution.events import (
    DynamicOutputYielded,
    Event,
    RunFinished,
    RunStarted,
    StepFailed,
    StepOutput,
    StepRetry,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from dagviz.execution.status import StepStatus
from dagviz.step_keys import format_step_key, parse_step_key

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.execution.plan import ExecutionPlan, Step

IO_MANAGER = "io_manager"
# dagviz events Dagster has no counterpart for: log lines are log records there, and reused steps are not run.
_NOT_RECORDED_BY_DAGSTER = frozenset({"LOG", "STEP_REUSED"})


class DagsterEvent(DagsterEventAccessors):
    """One event of Dagster's event log: its type and message, over the dagviz event it comes from."""

    __slots__ = ("event", "_event_type", "message", "job_name", "_kind")

    def __init__(self, event: Event, event_type: DagsterEventType, message: str, job_name: str,
                 kind: str | None = None) -> None:
        self.event = event
        self._event_type = event_type
        self.message = message
        self.job_name = job_name
        self._kind = kind

    @property
    def event_type(self) -> DagsterEventType:
        return self._event_type

    @property
    def dagviz_event(self) -> Event:
        return self.event

    @property
    def kind(self) -> str:
        """dagviz's kind of the event behind it; Dagster's type for the events dagviz does not store."""
        return self._kind or self.event.kind

    @property
    def step_key(self) -> str | None:  # type: ignore[override]
        return self.event.step_key

    @property
    def timestamp(self) -> float:
        return self.event.timestamp

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.event, name)

    def __repr__(self) -> str:
        return f"DagsterEvent({self.event_type_value}, step_key={self.step_key!r}, message={self.message!r})"


def dagster_events(job: "JobDefinition", plan: "ExecutionPlan", events: list[Event]) -> list[DagsterEvent]:
    """``events`` as Dagster's event log of the same run."""
    failed = [event.step_key for event in events if isinstance(event, StepFailed) and event.step_key]
    log: list[DagsterEvent] = []
    for event in events:
        if _recorded_by_dagster(plan, event):
            log.extend(_views(job, plan, event, failed))
    return log


def _recorded_by_dagster(plan: "ExecutionPlan", event: Event) -> bool:
    if event.kind in _NOT_RECORDED_BY_DAGSTER:
        return False
    if isinstance(event, StepSkipped):
        return not event.upstream_failed  # Dagster records nothing for steps downstream of a failure
    if isinstance(event, DynamicOutputYielded):  # the keys a reused emitter replays are its parent's events
        step = plan.steps.get(event.step_key or "")
        return step is None or step.status != StepStatus.REUSED
    return True


def _views(job: "JobDefinition", plan: "ExecutionPlan", event: Event, failed: list[str]) -> Iterator[DagsterEvent]:
    event_type = event.event_type
    yield DagsterEvent(event, event_type, _message(job, event, failed), job.name)
    if isinstance(event, (StepOutput, DynamicOutputYielded)):
        yield DagsterEvent(event, DagsterEventType.HANDLED_OUTPUT,
                           f'Handled output "{event.output_name}" using IO manager "{IO_MANAGER}"', job.name,
                           kind=DagsterEventType.HANDLED_OUTPUT.value)
    elif isinstance(event, StepStarted) and event.step_key in plan.steps:
        yield from _input_events(job, plan, plan.steps[event.step_key], event)


def _message(job: "JobDefinition", event: Event, failed: list[str]) -> str:
    key = event.step_key
    if isinstance(event, RunStarted):
        return f'Started execution of run for "{job.name}".'
    if isinstance(event, RunFinished):
        if event.canceled:
            return f'Execution of run for "{job.name}" canceled.'
        if event.success:
            return f'Finished execution of run for "{job.name}".'
        detail = f"Steps failed: {failed}." if failed else "An exception was thrown during execution."
        return f'Execution of run for "{job.name}" failed. {detail}'
    if isinstance(event, StepStarted):
        if event.attempt > 1:
            return f'Started re-execution (attempt # {event.attempt}) of step "{key}".'
        return f'Started execution of step "{key}".'
    if isinstance(event, (StepOutput, DynamicOutputYielded)):
        mapping = f' mapping key "{event.mapping_key}"' if isinstance(event, DynamicOutputYielded) else ""
        type_name = _type_name(job, key, event.output_name, output=True)
        return f'Yielded output "{event.output_name}"{mapping} of type "{type_name}". (Type check passed).'
    if isinstance(event, StepSucceeded):
        return f'Finished execution of step "{key}" in {format_duration(event.duration_ms)}.'
    if isinstance(event, StepFailed):
        return f'Execution of step "{key}" failed.'
    if isinstance(event, StepRetry):
        return f'Execution of step "{key}" failed and has requested a retry.'
    if isinstance(event, StepSkipped):
        return f'Skipped execution of step "{key}".'
    return event.message


def _input_events(job: "JobDefinition", plan: "ExecutionPlan", step: "Step", started: Event) -> Iterator[DagsterEvent]:
    """LOADED_INPUT for every upstream output a step reads, then STEP_INPUT for each of its inputs."""
    loaded, received = [], []
    for name, source in step.node.inputs.items():
        if source.kind == NOTHING:
            continue
        for producer, output in (pair for item in source.producers() for pair in _producers(plan, step, item)):
            loaded.append(f'Loaded input "{name}" using input manager "{IO_MANAGER}", from output "{output}" '
                          f'of step "{producer}"')
        received.append(f'Got input "{name}" of type "{_type_name(job, step.key, name, output=False)}". '
                        "(Type check passed).")
    for message in loaded:
        yield DagsterEvent(started, DagsterEventType.LOADED_INPUT, message, job.name,
                           kind=DagsterEventType.LOADED_INPUT.value)
    for message in received:
        yield DagsterEvent(started, DagsterEventType.STEP_INPUT, message, job.name,
                           kind=DagsterEventType.STEP_INPUT.value)


def _producers(plan: "ExecutionPlan", step: "Step", source: InputSource) -> list[tuple[str, str]]:
    """The (step key, output) pairs one connected source is read from: several for a collect."""
    producer = plan.index.nodes.get(source.node or "")
    if producer is None:
        return []
    output = source.output or "result"
    if source.kind == COLLECT and not producer.op.outs[output].is_dynamic:  # every collected key, in yield order
        outer = step.mapping_keys
        return [(other.key, output) for other in plan.steps.values()
                if other.node.handle == producer.handle and other.mapping_keys[: len(outer)] == outer
                and output in other.outputs]
    return [(format_step_key(producer.handle, step.mapping_keys[: producer.depth]), output)]


def _type_name(job: "JobDefinition", step_key: str | None, name: str, output: bool) -> str:
    if not step_key:
        return "Any"
    node = job.nodes.get(parse_step_key(step_key).node)
    if node is None:
        return "Any"
    types = node.op.output_types if output else node.op.input_types
    checked = types.get(name)
    return checked.name if checked is not None else "Any"


def format_duration(milliseconds: float) -> str:
    """Dagster's way of writing a duration: ``0.41ms``, ``17ms``, ``2.1s``, ``4m52s``, ``1h4m``."""
    if milliseconds < 10:
        return f"{round(milliseconds, 2)}ms"
    if milliseconds < 1000:
        return f"{int(milliseconds)}ms"
    if milliseconds < 60_000:
        return f"{round(milliseconds / 1000, 2)}s"
    if milliseconds < 3_600_000:
        return f"{int(milliseconds // 60_000)}m{int(milliseconds % 60_000 // 1000)}s"
    return f"{int(milliseconds // 3_600_000)}h{int(milliseconds % 3_600_000 // 60_000)}m"
