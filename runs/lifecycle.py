"""Run status changes, each one conditional UPDATE that follows ``RUN_TRANSITIONS``.

A change succeeds only from a status that may move to the new one, so two processes racing
(a worker finishing while a user cancels, two dispatchers claiming one queued run) never
both win.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django.db import connection

from runs.models import RUN_TRANSITIONS, Run, RunStatus, Step
from runs.services.step_counts import count_steps

ANALYZE_AFTER_STEPS = 100_000  # a run this big changes the step table's statistics

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
    if sum(sum(by_status.values()) for by_status in counts.values()) >= ANALYZE_AFTER_STEPS:
        analyze_steps()
    return status


def analyze_steps() -> None:
    """Refresh PostgreSQL's statistics of the step table, which a big run has just grown.

    Until autovacuum gets to it, the planner takes the run's steps for a few and reads a million of
    them for a key search the trigram index answers in milliseconds (0.7 s instead of 15 ms). ANALYZE
    reads a fixed sample, so it costs the same at any size. SQLite keeps no statistics unless asked,
    and its queries are written not to need them.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Step._meta.db_table}")
