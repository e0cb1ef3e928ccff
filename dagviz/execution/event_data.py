"""Dagster-shaped, read-only views of dagviz events: event types, node handles, output and failure data.

dagviz's events keep their own ``kind`` (stored in the database, shown in the UI); code written
for Dagster reads ``event.event_type_value``, ``event.step_output_data.mapping_key`` or
``event.step_failure_data.error.cause.cls_name``. This module computes those views from an
event's fields, so both vocabularies describe the same facts.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from dagviz import errors as dagviz_errors
from dagviz.definitions.metadata import MetadataValue
from dagviz.step_keys import parse_step_key

if TYPE_CHECKING:
    from dagviz.execution.events import ErrorInfo, Event


class DagsterEventType(str, Enum):
    """Event types with Dagster's names and values (run events keep Dagster's ``PIPELINE_*`` values)."""

    STEP_OUTPUT = "STEP_OUTPUT"
    STEP_INPUT = "STEP_INPUT"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_START = "STEP_START"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    STEP_RESTARTED = "STEP_RESTARTED"
    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    ASSET_OBSERVATION = "ASSET_OBSERVATION"
    STEP_EXPECTATION_RESULT = "STEP_EXPECTATION_RESULT"
    RUN_ENQUEUED = "PIPELINE_ENQUEUED"
    RUN_DEQUEUED = "PIPELINE_DEQUEUED"
    RUN_STARTING = "PIPELINE_STARTING"
    RUN_START = "PIPELINE_START"
    RUN_SUCCESS = "PIPELINE_SUCCESS"
    RUN_FAILURE = "PIPELINE_FAILURE"
    RUN_CANCELING = "PIPELINE_CANCELING"
    RUN_CANCELED = "PIPELINE_CANCELED"
    RESOURCE_INIT_STARTED = "RESOURCE_INIT_STARTED"
    RESOURCE_INIT_SUCCESS = "RESOURCE_INIT_SUCCESS"
    RESOURCE_INIT_FAILURE = "RESOURCE_INIT_FAILURE"
    LOADED_INPUT = "LOADED_INPUT"
    HANDLED_OUTPUT = "HANDLED_OUTPUT"
    ENGINE_EVENT = "ENGINE_EVENT"
    LOGS_CAPTURED = "LOGS_CAPTURED"


STEP_EVENT_TYPES = frozenset({
    DagsterEventType.STEP_INPUT, DagsterEventType.STEP_START, DagsterEventType.STEP_OUTPUT,
    DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_SKIPPED,
    DagsterEventType.STEP_RESTARTED, DagsterEventType.STEP_UP_FOR_RETRY, DagsterEventType.HANDLED_OUTPUT,
    DagsterEventType.LOADED_INPUT, DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.STEP_EXPECTATION_RESULT,
})
RUN_EVENT_TYPES = frozenset({
    DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_DEQUEUED, DagsterEventType.RUN_STARTING,
    DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELING, DagsterEventType.RUN_CANCELED,
})
FAILURE_EVENT_TYPES = frozenset({DagsterEventType.RUN_FAILURE, DagsterEventType.STEP_FAILURE,
                                 DagsterEventType.RUN_CANCELED})

# dagviz event kinds -> Dagster event types; RUN_FINISHED and a restarted STEP_STARTED are decided per event.
_TYPE_OF_KIND: dict[str, DagsterEventType] = {
    "RUN_STARTED": DagsterEventType.RUN_START,
    "STEP_STARTED": DagsterEventType.STEP_START,
    "STEP_OUTPUT": DagsterEventType.STEP_OUTPUT,
    "DYNAMIC_OUTPUT": DagsterEventType.STEP_OUTPUT,
    "STEP_SUCCESS": DagsterEventType.STEP_SUCCESS,
    "STEP_FAILURE": DagsterEventType.STEP_FAILURE,
    "STEP_UP_FOR_RETRY": DagsterEventType.STEP_UP_FOR_RETRY,
    "STEP_SKIPPED": DagsterEventType.STEP_SKIPPED,
}


def dagster_event_type(event: "Event") -> DagsterEventType:
    """The Dagster event type that tells the same fact as ``event`` (ENGINE_EVENT for dagviz-only kinds)."""
    if event.kind == "RUN_FINISHED":
        if getattr(event, "canceled", False):
            return DagsterEventType.RUN_CANCELED
        return DagsterEventType.RUN_SUCCESS if getattr(event, "success", False) else DagsterEventType.RUN_FAILURE
    if event.kind == "STEP_STARTED" and getattr(event, "attempt", 1) > 1:
        return DagsterEventType.STEP_RESTARTED
    return _TYPE_OF_KIND.get(event.kind, DagsterEventType.ENGINE_EVENT)


class NodeHandle(NamedTuple):
    """A node's place in the job: its own name and the handle of the graph around it (None at the top)."""

    name: str
    parent: "NodeHandle | None"

    @classmethod
    def from_string(cls, handle: str) -> "NodeHandle":
        """``graph.op`` -> NodeHandle("op", NodeHandle("graph", None))."""
        node: NodeHandle | None = None
        for part in handle.split("."):
            node = cls(part, node)
        assert node is not None
        return node

    @property
    def path(self) -> list[str]:
        return [*(self.parent.path if self.parent else []), self.name]

    def to_string(self) -> str:
        return ".".join(self.path)

    def is_or_descends_from(self, handle: "NodeHandle") -> bool:
        """True for ``handle`` itself and for every node inside it."""
        return self.path[: len(handle.path)] == handle.path

    def __str__(self) -> str:
        return self.to_string()


class StepOutputHandle(NamedTuple):
    step_key: str
    output_name: str = "result"
    mapping_key: str | None = None


class StepOutputData(NamedTuple):
    """One output a step produced (for a dynamic output: one key); ``metadata`` as given to ``Output``."""

    step_output_handle: StepOutputHandle
    metadata: dict[str, Any]
    type_check_data: Any = None
    version: str | None = None

    @property
    def output_name(self) -> str:
        return self.step_output_handle.output_name

    @property
    def mapping_key(self) -> str | None:
        return self.step_output_handle.mapping_key


class ErrorSource(Enum):
    FRAMEWORK_ERROR = "FRAMEWORK_ERROR"
    USER_CODE_ERROR = "USER_CODE_ERROR"
    UNEXPECTED_ERROR = "UNEXPECTED_ERROR"
    INTERRUPT = "INTERRUPT"


class SerializableErrorInfo(NamedTuple):
    """An error as Dagster reports it: ``"Class: message\\n"``, the stack lines and the exception it wraps."""

    message: str
    stack: list[str]
    cls_name: str | None
    cause: "SerializableErrorInfo | None" = None
    context: "SerializableErrorInfo | None" = None

    def to_string(self) -> str:
        stack = "\nStack Trace:\n" + "".join(self.stack) if self.stack else ""
        cause = ("\nThe above exception was caused by the following exception:\n" + self.cause.to_string()
                 if self.cause else "")
        return f"{self.message}{stack}{cause}"

    def __str__(self) -> str:
        return self.to_string()


class UserFailureData(NamedTuple):
    """What an op's ``raise Failure(description, metadata)`` said."""

    label: str
    description: str | None
    metadata: dict[str, Any]


class StepFailureData(NamedTuple):
    error: SerializableErrorInfo | None
    user_failure_data: UserFailureData | None
    error_source: ErrorSource = ErrorSource.FRAMEWORK_ERROR


class StepSuccessData(NamedTuple):
    duration_ms: float


class StepRetryData(NamedTuple):
    error: SerializableErrorInfo | None
    seconds_to_wait: float | None = None


# Errors dagviz (not the op) raised while running a step: reported as they are, like Dagster's own errors.
_FRAMEWORK_ERRORS = frozenset(
    {name for name, value in vars(dagviz_errors).items()
     if isinstance(value, type) and issubclass(value, dagviz_errors.DagvizError)}
    | {"WorkerLost", "RunCanceled"}
)
_UNWRAPPED = frozenset({"Failure", "RetryRequested"})
STEP_EXECUTION_ERROR = "DagsterExecutionStepExecutionError"


def _error_only(error: "ErrorInfo", message: str | None = None) -> SerializableErrorInfo:
    text = error.message if message is None else message
    return SerializableErrorInfo(f"{error.class_name}: {text}\n" if text else f"{error.class_name}\n",
                                 error.stack.splitlines(keepends=True), error.class_name)


def error_data(error: "ErrorInfo | None", op_name: str, retry_requested: int = 0) -> SerializableErrorInfo | None:
    """An error as Dagster shows it: an exception raised by the op is the cause of a step execution error."""
    if error is None:
        return None
    if error.class_name == "RetryRequested" and retry_requested:
        return _error_only(error, f"Exceeded max_retries of {retry_requested}")
    if error.class_name in _UNWRAPPED or error.class_name in _FRAMEWORK_ERRORS:
        return _error_only(error)
    return SerializableErrorInfo(f'{STEP_EXECUTION_ERROR}: Error occurred while executing op "{op_name}":\n',
                                 [], STEP_EXECUTION_ERROR, cause=_error_only(error))


def error_source(error: "ErrorInfo | None") -> ErrorSource:
    """USER_CODE_ERROR for an exception the op raised; Dagster counts ``Failure`` as a framework error."""
    if error is not None and error.class_name == "RunCanceled":
        return ErrorSource.INTERRUPT
    if error is None or error.class_name in _UNWRAPPED or error.class_name in _FRAMEWORK_ERRORS:
        return ErrorSource.FRAMEWORK_ERROR
    return ErrorSource.USER_CODE_ERROR


def user_failure_data(error: "ErrorInfo | None", metadata: dict | None) -> UserFailureData | None:
    """For a step that raised ``Failure``: its description and metadata."""
    if error is None or error.class_name != "Failure":
        return None
    return UserFailureData("intentional-failure", error.message or None, dict(metadata or {}))


def metadata_values(metadata: dict | None) -> dict[str, MetadataValue]:
    """Plain metadata (as events carry it) with each value wrapped, as Dagster's event data shows it."""
    return {label: MetadataValue.wrap(value) for label, value in (metadata or {}).items()}


class DagsterEventAccessors:
    """Dagster's read-only accessors, computed from ``event_type`` and the dagviz event behind it.

    Mixed into dagviz's ``Event`` (where the event is itself) and into the views ``all_events`` gives.
    """

    __slots__ = ()
    step_key: str | None

    @property
    def event_type(self) -> DagsterEventType:
        raise NotImplementedError

    @property
    def dagviz_event(self) -> "Event":
        raise NotImplementedError

    @property
    def event_type_value(self) -> str:
        return self.event_type.value

    @property
    def is_dagster_event(self) -> bool:
        """False for a log line (Dagster keeps those as log records, not events)."""
        return self.dagviz_event.kind != "LOG"

    @property
    def dagster_event(self) -> Any:
        """The event itself, for code that reads ``event_log_entry.dagster_event``."""
        return self if self.is_dagster_event else None

    @property
    def node_handle(self) -> NodeHandle | None:
        return NodeHandle.from_string(parse_step_key(self.step_key).node) if self.step_key else None

    @property
    def node_name(self) -> str:
        handle = self.node_handle
        if handle is None:
            raise AttributeError(f"A {self.event_type_value} event is about the run, not a node.")
        return handle.name

    @property
    def step_kind_value(self) -> str | None:
        return "COMPUTE" if self.step_key else None

    @property
    def is_step_event(self) -> bool:
        return self.event_type in STEP_EVENT_TYPES

    @property
    def is_job_event(self) -> bool:
        return self.event_type in RUN_EVENT_TYPES

    @property
    def is_step_start(self) -> bool:
        return self.event_type == DagsterEventType.STEP_START

    @property
    def is_step_success(self) -> bool:
        return self.event_type == DagsterEventType.STEP_SUCCESS

    @property
    def is_step_failure(self) -> bool:
        return self.event_type == DagsterEventType.STEP_FAILURE

    @property
    def is_step_skipped(self) -> bool:
        return self.event_type == DagsterEventType.STEP_SKIPPED

    @property
    def is_step_up_for_retry(self) -> bool:
        return self.event_type == DagsterEventType.STEP_UP_FOR_RETRY

    @property
    def is_step_restarted(self) -> bool:
        return self.event_type == DagsterEventType.STEP_RESTARTED

    @property
    def is_successful_output(self) -> bool:
        return self.event_type == DagsterEventType.STEP_OUTPUT

    @property
    def is_handled_output(self) -> bool:
        return self.event_type == DagsterEventType.HANDLED_OUTPUT

    @property
    def is_loaded_input(self) -> bool:
        return self.event_type == DagsterEventType.LOADED_INPUT

    @property
    def is_job_success(self) -> bool:
        return self.event_type == DagsterEventType.RUN_SUCCESS

    @property
    def is_job_failure(self) -> bool:
        return self.event_type == DagsterEventType.RUN_FAILURE

    @property
    def is_run_failure(self) -> bool:
        return self.event_type == DagsterEventType.RUN_FAILURE

    @property
    def is_failure(self) -> bool:
        return self.event_type in FAILURE_EVENT_TYPES

    @property
    def is_engine_event(self) -> bool:
        return self.event_type == DagsterEventType.ENGINE_EVENT

    @property
    def is_step_materialization(self) -> bool:
        return self.event_type == DagsterEventType.ASSET_MATERIALIZATION

    @property
    def is_asset_observation(self) -> bool:
        return self.event_type == DagsterEventType.ASSET_OBSERVATION

    @property
    def is_expectation_result(self) -> bool:
        return self.event_type == DagsterEventType.STEP_EXPECTATION_RESULT

    @property
    def is_hook_event(self) -> bool:
        return False

    @property
    def step_output_data(self) -> StepOutputData:
        """For a STEP_OUTPUT: the output's name, its mapping key (a dynamic output) and its metadata."""
        event = self.dagviz_event
        output_name = getattr(event, "output_name", None)
        if self.event_type != DagsterEventType.STEP_OUTPUT or output_name is None or event.step_key is None:
            raise AttributeError(f"A {self.event_type_value} event has no step output data.")
        handle = StepOutputHandle(event.step_key, output_name, getattr(event, "mapping_key", None) or None)
        return StepOutputData(handle, metadata_values(getattr(event, "metadata", None)))

    @property
    def step_failure_data(self) -> StepFailureData:
        """For a STEP_FAILURE: the error (the op's exception as its cause) and a ``Failure``'s description and metadata."""
        event = self.dagviz_event
        if self.event_type != DagsterEventType.STEP_FAILURE:
            raise AttributeError(f"A {self.event_type_value} event has no step failure data.")
        error = getattr(event, "error", None)
        metadata = metadata_values(getattr(event, "metadata", None))
        return StepFailureData(error_data(error, _op_name(event), getattr(event, "retry_requested", 0)),
                               user_failure_data(error, metadata), error_source(error))

    @property
    def step_retry_data(self) -> StepRetryData:
        event = self.dagviz_event
        if self.event_type != DagsterEventType.STEP_UP_FOR_RETRY:
            raise AttributeError(f"A {self.event_type_value} event has no step retry data.")
        return StepRetryData(error_data(getattr(event, "error", None), _op_name(event)),
                             getattr(event, "delay", 0.0) or None)

    @property
    def step_success_data(self) -> StepSuccessData:
        event = self.dagviz_event
        if self.event_type != DagsterEventType.STEP_SUCCESS:
            raise AttributeError(f"A {self.event_type_value} event has no step success data.")
        return StepSuccessData(float(getattr(event, "duration_ms", 0.0)))


def _op_name(event: "Event") -> str:
    """The op a step event is about: its ``op_name`` field, else the last part of its node handle."""
    name = getattr(event, "op_name", "") or ""
    if not name and event.step_key:
        name = parse_step_key(event.step_key).node.rsplit(".", 1)[-1]
    return name
