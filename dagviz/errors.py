"""Typed errors raised by dagviz: every message names what is wrong and what would be valid."""

from __future__ import annotations


class DagvizError(Exception):
    """Base class of every error dagviz raises on purpose."""


class InvalidDefinitionError(DagvizError):
    """An op, graph or job is defined or composed in a way dagviz cannot run."""


class InvalidMappingKeyError(InvalidDefinitionError):
    """A mapping key does not match ``^[A-Za-z0-9_]+$`` or is a reserved word."""


class InvalidStepKeyError(DagvizError):
    """A step key does not follow the grammar ``node[key][key]`` (see ``dagviz.step_keys``)."""


class DagsterExecutionStepNotFoundError(InvalidStepKeyError):
    """A re-execution selects a step the parent run does not have."""


class InvalidConfigError(DagvizError):
    """Run config does not match the job's config schema.

    ``errors`` keeps each problem as ``(path, message)`` so callers (CLI, GraphQL)
    can show them at their path.
    """

    def __init__(self, errors: list[tuple[str, str]], job_name: str | None = None) -> None:
        self.errors = errors
        self.job_name = job_name
        lines = [f"{path}: {message}" if path else message for path, message in errors]
        prefix = f"Invalid run config for job '{job_name}'" if job_name else "Invalid run config"
        super().__init__(f"{prefix}:\n  " + "\n  ".join(lines) if len(lines) > 1 else f"{prefix}: {lines[0]}")


class InvalidOpSelectionError(DagvizError):
    """An op selection names no op of the job (Dagster's ``DagsterInvalidSubsetError``)."""


DagsterInvalidSubsetError = InvalidOpSelectionError


class UnknownJobError(DagvizError):
    """A job name was asked for that no loaded module defines."""


class WorkspaceLoadError(DagvizError):
    """A module or file of the workspace failed to import."""


class UnknownResourceError(DagvizError, AttributeError):
    """An op read ``context.resources.<key>`` for a key it did not declare."""


class ResourceInitError(DagvizError):
    """A resource's function (or its setup) raised; the steps that need the resource fail with this error."""


class DagsterInvariantViolationError(DagvizError):
    """Something was used in a way its contract forbids (Dagster's name for the same class of error)."""


class JobNotInDefinitionsError(UnknownJobError, DagsterInvariantViolationError):
    """``Definitions.get_job_def`` was asked for a job it does not hold (an invariant violation in Dagster)."""


class StepOutputError(DagsterInvariantViolationError):
    """An op produced outputs that do not match its declared outputs."""


class DagsterTypeCheckDidNotPass(StepOutputError):
    """A step input or output value does not have its declared type (``Out(int)``, ``x: int``)."""


class DuplicateMappingKeyError(StepOutputError):
    """One step yielded the same mapping key twice for one dynamic output."""


class MinSuccessRatioError(DagvizError):
    """A tolerant collect (``.collect(min_success_ratio=...)``) saw too few of its keys succeed."""


class DagvizExecutionError(DagvizError):
    """A run failed; raised by ``execute_in_process(raise_on_error=True)``.

    ``step_key`` names the first failed step and ``user_traceback`` keeps the user's traceback text.
    """

    def __init__(self, message: str, step_key: str | None = None, user_traceback: str | None = None) -> None:
        self.step_key = step_key
        self.user_traceback = user_traceback
        super().__init__(message)


class DagsterRunNotFoundError(DagvizError):
    """A run id that the instance has no run for."""


class Failure(Exception):
    """Raise inside an op to fail the step with a clear description (no traceback noise)."""

    def __init__(self, description: str | None = None, metadata: dict | None = None, allow_retries: bool = True) -> None:
        self.description = description
        self.metadata = metadata or {}
        self.allow_retries = allow_retries
        super().__init__(description)


class RetryRequested(Exception):
    """Raise inside an op to ask for another attempt, up to ``max_retries``, after ``seconds_to_wait``."""

    def __init__(self, max_retries: int = 1, seconds_to_wait: float = 0) -> None:
        self.max_retries = max_retries
        self.seconds_to_wait = seconds_to_wait
        super().__init__(f"Retry requested (max_retries={max_retries})")


# Dagster's names for the same errors, so code written against Dagster catches them unchanged.
DagsterError = DagvizError
DagsterInvalidDefinitionError = InvalidDefinitionError
DagsterInvalidConfigError = InvalidConfigError
DagsterExecutionStepExecutionError = DagvizExecutionError


# -- Dagster's sentences for the errors of dynamic mapping (one place each; dagviz adds context after them) --

def invalid_name_message(name: str, reserved: bool) -> str:
    if reserved:
        return f'"{name}" is not a valid name in Dagster. It conflicts with a Dagster or python reserved keyword.'
    return f'"{name}" is not a valid name in Dagster. Names must be in regex ^[A-Za-z0-9_]+$.'


def unmapped_dynamic_message(job_name: str, output: str, node: str) -> str:
    return (f"In @job {job_name}, received the dynamic output {output} from op '{node}' directly. "
            "Dynamic output must be unpacked by invoking map or collect.")


def two_dynamic_outputs_message(op_name: str, first: str, second: str) -> str:
    return (f"op '{op_name}' cannot be downstream of more than one dynamic output. "
            f'It is downstream of both "{first}" and "{second}"')


def dynamic_fan_in_message(item: str, dynamic: str | None = None) -> str:
    """A list item that is a mapped value (``dynamic`` None) or an output downstream of one."""
    problem = f'dynamic output "{item}".' if dynamic is None else f'output "{item}", downstream of "{dynamic}".'
    return f"Currently, items in a fan-in dependency cannot be downstream of dynamic outputs. Problematic dependency on {problem}"


def invalid_fan_in_item_message(job_name: str, index: int, input_name: str, op_name: str) -> str:
    return (f"In @job {job_name}, received a list containing an invalid type at index {index} for input "
            f'"{input_name}" (at position {index}) in op invocation {op_name}. Lists can only contain the output '
            "from previous op invocations or input mappings, received <class 'list'>")


def dynamic_from_plain_out_message(op_name: str) -> str:
    return f'Compute for op "{op_name}" yielded a DynamicOutput, but did not use DynamicOutputDefinition.'


def output_into_dynamic_message(op_name: str, output: str) -> str:
    return f'Compute for op "{op_name}" for output "{output}" defined as dynamic must yield DynamicOutput, got Output.'


def dynamic_not_a_list_message(op_name: str, output: str, value: object) -> str:
    return (f'Error with output for op "{op_name}": dynamic output \'{output}\' expected a list of DynamicOutput '
            f"objects, but instead received instead an object of type {type(value)}.")


def duplicate_mapping_key_message(op_name: str, mapping_key: str) -> str:
    return f'Compute for op "{op_name}" yielded a DynamicOutput with mapping_key "{mapping_key}" multiple times.'


def unknown_steps_message(unknown: list[str]) -> str:
    noun = "step" if len(unknown) == 1 else "steps"
    return f"Step selection refers to unknown {noun}: {', '.join(unknown)}"


# -- dagviz's own sentences ----------------------------------------------------------------------------------

def min_success_ratio_message(collected_node: str, input_name: str, step_key: str, succeeded: int, total: int,
                              ratio: float, failed_keys: list[str], shown: int = 10) -> str:
    """Why a tolerant collect's step failed: how many keys succeeded against the share it needs."""
    more = f" and {len(failed_keys) - shown} more" if len(failed_keys) > shown else ""
    return (f"Only {succeeded} of {total} keys of '{collected_node}' succeeded ({succeeded / total:.1%}), below "
            f"min_success_ratio {ratio:g} of the collect into input '{input_name}' of step '{step_key}'. "
            f"Failed: {', '.join(failed_keys[:shown])}{more}.")
