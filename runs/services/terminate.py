"""Terminating a run: a queued run is canceled at once; a running one is asked to stop, then stopped."""

from __future__ import annotations

import os
import signal

from runs.errors import RunNotTerminableError
from runs.lifecycle import move_run, now
from runs.models import Run, RunStatus
from runs.services.runs import get_run
from runs.services.worker_process import ELSEWHERE, GONE, OTHER, worker_process_state

CANCELED_BEFORE_START = "Canceled before it started."


def terminate_run(run_id: str, actor: str = "") -> Run:
    """Cancel a queued run, or move a running one to CANCELING and signal its worker (SIGTERM).

    A worker that has not claimed its run yet finds it CANCELING and ends it CANCELED without
    running anything; a running worker cancels its steps. The monitor kills the worker's
    process group if it has not stopped within a grace period. ``actor`` is recorded as who terminated
    it, by the call that moves it (a run already CANCELING keeps its first terminator).
    """
    run = get_run(run_id)
    if run.status == RunStatus.QUEUED and move_run(run.id, RunStatus.CANCELED, terminated_by=actor,
                                                   failure_reason=CANCELED_BEFORE_START):
        return get_run(run_id)
    if run.status in (RunStatus.STARTING, RunStatus.STARTED) and move_run(run.id, RunStatus.CANCELING,
                                                                          canceling_since=now(), terminated_by=actor):
        run = get_run(run_id)
        if run.started_at is not None:  # the worker has claimed the run, so its SIGTERM handler is set
            signal_worker(run, signal.SIGTERM)
        return run
    run = get_run(run_id)
    if run.status == RunStatus.CANCELING:
        return run
    if run.status in (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.STARTED):
        return terminate_run(run_id, actor)  # it moved on between our reads; decide again
    raise RunNotTerminableError(f"Run {run_id} has already finished ({run.status}); there is nothing to terminate.")


def signal_worker(run: Run, signum: int) -> bool:
    """Send ``signum`` to the run's worker (SIGKILL: to its whole process group); True if sent.

    Nothing is sent to a pid that now belongs to another process. SIGKILL also reaches step
    processes left behind by a worker that is gone: while they live, their group id cannot
    be given to a new process.
    """
    state = worker_process_state(run)
    if state in (OTHER, ELSEWHERE) or (state == GONE and signum != signal.SIGKILL):
        return False
    try:
        if signum == signal.SIGKILL:
            os.killpg(run.worker_pid, signum)
        else:
            os.kill(run.worker_pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True
