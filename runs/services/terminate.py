"""Terminating a run: a queued run is canceled at once; a running one is asked to stop, then stopped."""

from __future__ import annotations

import os
import signal
import socket

from runs.errors import RunNotTerminableError
from runs.lifecycle import move_run, now
from runs.models import Run, RunStatus
from runs.services.runs import get_run


def terminate_run(run_id: str) -> Run:
    """Cancel a queued run, or move a running one to CANCELING and signal its worker (SIGTERM).

    The worker stops its steps and ends the run as CANCELED; the monitor kills its process
    group if it has not stopped within a grace period.
    """
    run = get_run(run_id)
    if run.status == RunStatus.QUEUED and move_run(run.id, RunStatus.CANCELED, failure_reason="Canceled before it started."):
        return get_run(run_id)
    if run.status in (RunStatus.STARTING, RunStatus.STARTED):
        move_run(run.id, RunStatus.CANCELING, canceling_since=now())
        run = get_run(run_id)
    if run.status == RunStatus.CANCELING:
        signal_worker(run, signal.SIGTERM)
        return run
    raise RunNotTerminableError(f"Run {run_id} has already finished ({run.status}); there is nothing to terminate.")


def signal_worker(run: Run, signum: int) -> bool:
    """Send ``signum`` to the run's worker process group, if it runs on this host; True if sent."""
    if not run.worker_pid or (run.worker_host and run.worker_host != socket.gethostname()):
        return False
    try:
        if signum == signal.SIGKILL:
            os.killpg(run.worker_pid, signum)  # the worker and its step processes (same session)
        else:
            os.kill(run.worker_pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True
