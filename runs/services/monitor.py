"""The run monitor: no run stays STARTING, STARTED or CANCELING after its worker is gone.

A worker on this host is checked by its pid (a zombie, a vanished process or a reused pid
counts as dead); a worker elsewhere by its heartbeat. A dead worker's run is marked
FAILURE (CANCELED if it was being canceled) with the reason, its running steps FAILURE (CANCELED) and
its pending steps SKIPPED, with events saying so. A worker that ignores a cancel request
for ``CANCEL_GRACE_SECONDS`` is killed with its whole process group.
"""

from __future__ import annotations

import signal
from datetime import timedelta

from django.db import connection, transaction

from dagviz.execution.events import ErrorInfo, RunFinished, StepCanceled, StepFailed, StepSkipped
from dagviz.execution.status import StepStatus
from runs.event_sink import as_datetime, signature_of
from runs.lifecycle import move_run, now
from runs.live import hints
from runs.models import ACTIVE_STATUSES, Event, Run, RunStatus, Step
from runs.services.launch import dispatch_queued_runs
from runs.services.step_counts import freeze_step_counts
from runs.services.terminate import signal_worker
from runs.services.worker_process import ELSEWHERE, OURS, worker_process_state

CHECK_INTERVAL_SECONDS = 2.0
STARTING_TIMEOUT_SECONDS = 120.0
STALE_HEARTBEAT_SECONDS = 30.0
CANCEL_GRACE_SECONDS = 10.0


def check_runs() -> list[str]:
    """Fix every active run whose worker has died; returns the ids of the runs it ended."""
    ended = []
    for run in Run.objects.filter(status__in=ACTIVE_STATUSES):
        reason = dead_worker_reason(run)
        if reason is None and run.status == RunStatus.CANCELING and run.canceling_since is not None \
                and now() - run.canceling_since > timedelta(seconds=CANCEL_GRACE_SECONDS):
            signal_worker(run, signal.SIGKILL)
            reason = f"The worker did not stop within {CANCEL_GRACE_SECONDS:g} s of the cancel request and was killed."
        if reason is not None and end_orphaned_run(run, reason):
            ended.append(str(run.id))
    dispatch_queued_runs()
    return ended


def dead_worker_reason(run: Run) -> str | None:
    """Why the run's worker is known to be gone, or None while it may be alive."""
    state = worker_process_state(run)
    if state == ELSEWHERE:
        if not run.worker_pid:
            if now() - run.created_at > timedelta(seconds=STARTING_TIMEOUT_SECONDS):
                return f"The run worker did not start within {STARTING_TIMEOUT_SECONDS:g} s."
            return None
        beat = run.heartbeat_at or run.started_at or run.created_at
        if now() - beat > timedelta(seconds=STALE_HEARTBEAT_SECONDS):
            return f"The worker on {run.worker_host} sent no heartbeat for {STALE_HEARTBEAT_SECONDS:g} s."
        return None
    if state == OURS:
        return None
    if run.status == RunStatus.CANCELING:
        return f"The run was canceled; its worker (pid {run.worker_pid}) stopped before recording the end."
    return f"The run worker (pid {run.worker_pid}) died without finishing the run (killed, or out of memory)."


def end_orphaned_run(run: Run, reason: str) -> bool:
    """Mark the run and its unfinished steps as ended by ``reason``; False if the run ended meanwhile."""
    target = RunStatus.CANCELED if run.status == RunStatus.CANCELING else RunStatus.FAILURE
    when = now()
    with transaction.atomic():
        if not move_run(run.id, target, failure_reason=reason):
            return False
        events = []
        canceled = target == RunStatus.CANCELED  # its running steps were stopped by the cancel, not failed
        ended_as = StepStatus.CANCELED if canceled else StepStatus.FAILURE
        error = ErrorInfo("WorkerLost", reason)
        error_data = None if canceled else error.to_dict()
        for step in Step.objects.filter(run=run, status=StepStatus.RUNNING.value):
            history = list(step.attempt_history)
            if history:
                history[-1].update(status=ended_as.value, ended_at=when.timestamp(), error=error_data)
            step.status, step.error, step.ended_at, step.attempt_history = (
                ended_as.value, error_data, when, history)
            step.error_signature = "" if canceled else signature_of(error_data)  # its failure group
            step.save(update_fields=["status", "error", "ended_at", "attempt_history", "error_signature"])
            if canceled:
                events.append(StepCanceled(step.key, attempt=step.attempts, reason=reason, op_name=step.node,
                                           timestamp=when.timestamp()))
            else:
                events.append(StepFailed(step.key, attempt=step.attempts, error=error, op_name=step.node,
                                         timestamp=when.timestamp()))
        for key in Step.objects.filter(run=run, status=StepStatus.PENDING.value).values_list("key", flat=True):
            events.append(StepSkipped(key, reason=reason, timestamp=when.timestamp()))
        Step.objects.filter(run=run, status=StepStatus.PENDING.value).update(
            status=StepStatus.SKIPPED.value, skip_reason=reason, ended_at=when)
        events.append(RunFinished(None, success=False, failure_reason=reason, canceled=target == RunStatus.CANCELED,
                                  timestamp=when.timestamp()))
        Event.objects.bulk_create(
            Event(run=run, step_key=e.step_key, kind=e.kind, timestamp=as_datetime(e.timestamp), message=e.message,
                  payload=e.payload()) for e in events
        )
        freeze_step_counts(run.id)
        with connection.cursor() as cursor:
            hints.send_in_transaction(cursor, str(run.id))
    hints.send_after_commit(str(run.id))
    signal_worker(run, signal.SIGKILL)  # leave no step processes behind
    return True
