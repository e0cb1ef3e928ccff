"""Typed errors of the runs app (the engine's own errors live in ``dagviz.errors``)."""

from dagviz.errors import DagvizError


class UnknownRunError(DagvizError):
    """No run has this id."""


class RunNotTerminableError(DagvizError):
    """The run has already finished."""


class RunNotFinishedError(DagvizError):
    """A re-execution was asked of a run that is still going."""
