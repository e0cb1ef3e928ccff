"""Run status changes, each one conditional UPDATE that follows ``RUN_TRANSITIONS``.

A change succeeds only from a status that may move to the new one, so two processes racing
(a worker finishing while a user cancels, two dispatchers claiming one queued run) never
both win.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from runs.models import RUN_TRANSITIONS, Run, RunStatus
from runs.services.step_counts import count_steps

if TYPE_CHECKING:
    from dagviz.execution.result import ExecutionResult


def sources_of(status: str) -> list[str]:
    """Every status a run may move to ``status`` from."""
    return [source for source, targets in RUN_TRANSITIONS.items() if status in targets]


def move_run(run_id: Any, status: str, **fields: Any) -> bool:
    """Move the run to ``status`` (setting ``fields`` too) if its current status allows; True if it moved."""
    if status in (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED):
        fields.setdefault("ended_at", now())
    return Run.objects.filter(id=run_id, status__in=sources_of(status)).update(status=status, **fields) == 1


def now() -> datetime:
    return datetime.now(timezone.utc)


def finish_run(run_id: Any, result: "ExecutionResult") -> str:
    """Record how an executed run ended (status, reason, tolerated failures); returns the status it got.

    A run that ended meanwhile (e.g. the monitor gave up on it) is moved to FAILURE if it still can be.
    """
    if result.canceled:
        status, reason = RunStatus.CANCELED, "The run was canceled."
    elif result.success:
        status, reason = RunStatus.SUCCESS, ""
    else:
        status, reason = RunStatus.FAILURE, result.failure_reason or ""
    # Every step row is written by now, so the counts no longer change; they are kept in the same UPDATE as
    # the end, so whoever sees the run finished also sees its counts.
    counts = count_steps(run_id)
    if not move_run(run_id, status, failure_reason=reason, tolerated_failures=result.tolerated_failures,
                    step_counts=counts):
        move_run(run_id, RunStatus.FAILURE, failure_reason=reason, step_counts=counts)
    return status
