"""Typed errors of the runs app (the engine's own errors live in ``dagviz.errors``)."""

from dagviz.errors import DagvizError


class UnknownRunError(DagvizError):
    """No run has this id."""


class RunNotTerminableError(DagvizError):
    """The run has already finished."""


class RunNotFinishedError(DagvizError):
    """A re-execution was asked of a run that is still going."""


class RunNotDeletableError(DagvizError):
    """The run is still going, or a run of its family is and may read its outputs."""


class InvalidRetentionError(DagvizError):
    """A prune was asked with an age or statuses it cannot use."""


class InvalidRunTagsError(DagvizError):
    """Run tags with an empty, too long or multi-line key, or a value that is not a short string."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems  # (key, message), one per bad tag
        super().__init__("Invalid run tags: " + "; ".join(message for _, message in problems))


class ArgumentOutOfBoundsError(ValueError):
    """An argument of a query is out of bounds; ``argument`` names it as the API spells it."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument
