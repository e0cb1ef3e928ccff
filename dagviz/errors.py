"""Typed errors raised by dagviz: every message names what is wrong and what would be valid."""

from __future__ import annotations


class DagvizError(Exception):
    """Base class of every error dagviz raises on purpose."""


class InvalidDefinitionError(DagvizError):
    """An op, graph or job is defined or composed in a way dagviz cannot run."""


class InvalidMappingKeyError(DagvizError):
    """A mapping key does not match ``^[A-Za-z0-9_]+$`` or is a reserved word."""


class InvalidStepKeyError(DagvizError):
    """A step key does not follow the grammar ``node[key][key]`` (see ``dagviz.step_keys``)."""


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


class StepOutputError(DagvizError):
    """An op produced outputs that do not match its declared outputs."""


class DagsterTypeCheckDidNotPass(StepOutputError):
    """A step input or output value does not have its declared type (``Out(int)``, ``x: int``)."""


class DuplicateMappingKeyError(StepOutputError):
    """One step yielded the same mapping key twice for one dynamic output."""


class DagvizExecutionError(DagvizError):
    """A run failed; raised by ``execute_in_process(raise_on_error=True)``.

    ``step_key`` names the first failed step and ``user_traceback`` keeps the user's traceback text.
    """

    def __init__(self, message: str, step_key: str | None = None, user_traceback: str | None = None) -> None:
        self.step_key = step_key
        self.user_traceback = user_traceback
        super().__init__(message)


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
