"""Step statuses and the only transitions allowed between them."""

from __future__ import annotations

from enum import Enum


class StepStatus(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    SKIPPED = "SKIPPED"
    REUSED = "REUSED"
    CANCELED = "CANCELED"  # was running when its run was terminated

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.SKIPPED, StepStatus.REUSED,
                    StepStatus.CANCELED})

# RUNNING -> PENDING is a retry; FAILURE -> FAILURE keeps a step failed when its run dies.
ALLOWED_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset({StepStatus.RUNNING, StepStatus.SKIPPED, StepStatus.REUSED, StepStatus.FAILURE}),
    StepStatus.RUNNING: frozenset({StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.PENDING, StepStatus.CANCELED}),
    StepStatus.SUCCESS: frozenset(),
    StepStatus.FAILURE: frozenset(),
    StepStatus.SKIPPED: frozenset(),
    StepStatus.REUSED: frozenset(),
    StepStatus.CANCELED: frozenset(),
}


class InvalidTransitionError(RuntimeError):
    """An internal bug: a step was moved between statuses in an order the engine never allows."""


def check_transition(step_key: str, current: StepStatus, new: StepStatus) -> StepStatus:
    """Return ``new`` if a step may go from ``current`` to it, else raise."""
    if new not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransitionError(f"Step '{step_key}' cannot go from {current.value} to {new.value}.")
    return new

# The status a step has after each kind of event about it (the database mirror applies these).
STATUS_AFTER_EVENT: dict[str, StepStatus] = {
    "STEP_STARTED": StepStatus.RUNNING,
    "STEP_SUCCESS": StepStatus.SUCCESS,
    "STEP_FAILURE": StepStatus.FAILURE,
    "STEP_UP_FOR_RETRY": StepStatus.PENDING,
    "STEP_SKIPPED": StepStatus.SKIPPED,
    "STEP_REUSED": StepStatus.REUSED,
    "STEP_CANCELED": StepStatus.CANCELED,
}
