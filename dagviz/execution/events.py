"""Typed events of a run, in the order they happen.

Every event has a ``kind`` (a stable string used in the database and the API), a
``timestamp`` (seconds since the epoch), the ``step_key`` it concerns (None for run-level
events) and a human-readable ``message``. ``payload()`` gives the kind-specific fields as
JSON-friendly data.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field, fields
from typing import ClassVar

from dagviz.execution import event_data


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failure as data: exception class, message and the formatted (user) traceback."""

    class_name: str
    message: str
    stack: str = ""
    # The exception itself, only within the process that raised it (never pickled or stored).
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    def __getstate__(self) -> tuple:
        return (self.class_name, self.message, self.stack)

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(("class_name", "message", "stack", "exception"), (*state, None)):
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        return {"class_name": self.class_name, "message": self.message, "stack": self.stack}


def metadata_pairs(metadata: dict) -> list[list]:
    """Metadata as ``[[label, value], ...]``: a stored JSON object may lose its key order (PostgreSQL's
    jsonb sorts keys), and the order the op gave its labels is part of what it said."""
    return [[label, value] for label, value in metadata.items()]


@functools.cache
def _payload_fields(event_type: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(event_type) if item.name not in ("step_key", "timestamp"))


@dataclass(frozen=True, slots=True)
class Event(event_data.DagsterEventAccessors):
    kind: ClassVar[str] = "EVENT"
    step_key: str | None
    timestamp: float = field(default_factory=time.time, kw_only=True)

    @property
    def message(self) -> str:
        return self.kind.replace("_", " ").lower()

    def payload(self) -> dict:
        data = {}
        for name in _payload_fields(type(self)):
            value = getattr(self, name)
            if name == "metadata":
                if value:  # most outputs carry none: keep a big fan-out's event rows small
                    data[name] = metadata_pairs(value)
                continue
            data[name] = value.to_dict() if isinstance(value, ErrorInfo) else value
        return data

    @property
    def event_type(self) -> event_data.DagsterEventType:
        """The Dagster event type telling the same fact (``event_type_value`` and ``is_*`` follow from it)."""
        return event_data.dagster_event_type(self)

    @property
    def dagviz_event(self) -> "Event":
        return self


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    kind: ClassVar[str] = "RUN_STARTED"
    run_id: str = ""
    job_name: str = ""
    executor: str = "in_process"

    @property
    def message(self) -> str:
        return f"Started run {self.run_id} of job '{self.job_name}' with the {self.executor} executor."


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    kind: ClassVar[str] = "RUN_FINISHED"
    success: bool = True
    failure_reason: str | None = None
    canceled: bool = False
    tolerated_failures: int = 0  # failed steps that tolerant collects ran without

    @property
    def message(self) -> str:
        if self.canceled:
            return "Run canceled."
        if not self.success:
            return f"Run failed: {self.failure_reason}"
        if self.tolerated_failures:
            return f"Run succeeded with {self.tolerated_failures} tolerated step failures."
        return "Run succeeded."


@dataclass(frozen=True, slots=True)
class StepStarted(Event):
    kind: ClassVar[str] = "STEP_STARTED"
    attempt: int = 1

    @property
    def message(self) -> str:
        return f"Started step '{self.step_key}' (attempt {self.attempt})."


@dataclass(frozen=True, slots=True)
class StepOutput(Event):
    kind: ClassVar[str] = "STEP_OUTPUT"
    output_name: str = "result"
    ref: str = ""
    metadata: dict = field(default_factory=dict)
    preview: str | None = None  # a bounded repr of the value, made where it was written (None: not recorded)

    @property
    def message(self) -> str:
        return f"Step '{self.step_key}' stored output '{self.output_name}'."


@dataclass(frozen=True, slots=True)
class DynamicOutputYielded(Event):
    kind: ClassVar[str] = "DYNAMIC_OUTPUT"
    output_name: str = "result"
    mapping_key: str = ""
    ref: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return f"Step '{self.step_key}' yielded mapping key '{self.mapping_key}' on '{self.output_name}'."


@dataclass(frozen=True, slots=True)
class StepSucceeded(Event):
    kind: ClassVar[str] = "STEP_SUCCESS"
    attempt: int = 1
    duration_ms: float = 0.0

    @property
    def message(self) -> str:
        return f"Step '{self.step_key}' succeeded in {self.duration_ms:.0f} ms."


@dataclass(frozen=True, slots=True)
class StepFailed(Event):
    kind: ClassVar[str] = "STEP_FAILURE"
    attempt: int = 1
    duration_ms: float = 0.0
    error: ErrorInfo | None = None
    op_name: str = ""
    retry_requested: int = 0  # > 0: the op asked (RetryRequested) for this many retries at most
    retry_wait: float = 0.0
    allow_retries: bool = True
    metadata: dict = field(default_factory=dict)  # from Failure(description, metadata)

    @property
    def message(self) -> str:
        error = self.error.message if self.error else "unknown error"
        return f"Step '{self.step_key}' of op '{self.op_name}' failed (attempt {self.attempt}): {error}"


@dataclass(frozen=True, slots=True)
class StepRetry(Event):
    kind: ClassVar[str] = "STEP_UP_FOR_RETRY"
    next_attempt: int = 2
    delay: float = 0.0
    error: ErrorInfo | None = None

    @property
    def message(self) -> str:
        return f"Step '{self.step_key}' will retry (attempt {self.next_attempt}) in {self.delay:g} s."


@dataclass(frozen=True, slots=True)
class StepSkipped(Event):
    kind: ClassVar[str] = "STEP_SKIPPED"
    reason: str = ""
    upstream_failed: bool = False

    @property
    def message(self) -> str:
        return f"Skipped step '{self.step_key}': {self.reason}"


@dataclass(frozen=True, slots=True)
class StepCanceled(Event):
    """A step that was running when its run was terminated: it neither failed nor finished."""

    kind: ClassVar[str] = "STEP_CANCELED"
    attempt: int = 1
    reason: str = "The run was canceled while this step ran."
    op_name: str = ""

    @property
    def message(self) -> str:
        return f"Step '{self.step_key}' was canceled: {self.reason}"


@dataclass(frozen=True, slots=True)
class StepReused(Event):
    kind: ClassVar[str] = "STEP_REUSED"
    parent_run_id: str = ""
    outputs: dict = field(default_factory=dict)  # output name -> ref, as in the parent run
    previews: dict = field(default_factory=dict)  # output name -> preview, as in the parent run

    @property
    def message(self) -> str:
        return f"Reused the outputs of step '{self.step_key}' from run {self.parent_run_id}."


@dataclass(frozen=True, slots=True)
class LogMessage(Event):
    kind: ClassVar[str] = "LOG"
    level: str = "INFO"
    text: str = ""

    @property
    def message(self) -> str:
        return self.text


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (RunStarted, RunFinished, StepStarted, StepOutput, DynamicOutputYielded, StepSucceeded,
                StepFailed, StepRetry, StepSkipped, StepCanceled, StepReused, LogMessage)
}
