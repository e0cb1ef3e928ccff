"""The run worker: one process per run, started by the launcher, that executes it and records everything."""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable

from dagviz.execution.api import execute_job
from dagviz.execution.interrupts import cancel_on_sigterm
from runs.event_sink import DatabaseEventSink
from runs.lifecycle import finish_run, move_run, now
from runs.models import Run, RunStatus
from runs.services.launch import dispatch_queued_runs
from runs.services.terminate import CANCELED_BEFORE_START
from runs.workspace import get_workspace

if TYPE_CHECKING:
    from dagviz.execution.result import ExecutionResult

logger = logging.getLogger(__name__)
CANCEL_CHECK_SECONDS = 0.5


def run_worker(run_id: str) -> str:
    """Execute one claimed (STARTING) run to its end; returns the final status."""
    cancel_on_sigterm()  # from here on, SIGTERM cancels the run instead of killing this process
    if not move_run(run_id, RunStatus.STARTED, started_at=now(), worker_pid=os.getpid(),
                    worker_host=socket.gethostname(), heartbeat_at=now()):
        if move_run(run_id, RunStatus.CANCELED, failure_reason=CANCELED_BEFORE_START):
            return RunStatus.CANCELED  # terminated while this worker was starting
        status = Run.objects.filter(id=run_id).values_list("status", flat=True).first()
        logger.warning("Run %s is %s, not STARTING: nothing to do.", run_id, status)
        return str(status)
    run = Run.objects.get(id=run_id)
    try:
        result = _execute(run)
    except Exception:  # loading the job or the parent failed: the run fails with the traceback
        status = RunStatus.FAILURE
        move_run(run_id, status, failure_reason=f"The run worker failed before the run could start:\n"
                                                f"{traceback.format_exc()}")
    else:
        status = finish_run(run_id, result)
    dispatch_queued_runs()
    return status


def _execute(run: Run) -> "ExecutionResult":
    from runs.services.reexecution import parent_run_of

    workspace = get_workspace()
    job = workspace.get(run.job_name)
    parent = parent_run_of(run, job) if run.parent_run_id else None
    sink = DatabaseEventSink(run.id)
    try:
        result = execute_job(
            job, run.run_config, executor=run.executor, output_store=run.output_store, run_id=str(run.id),
            pointer=workspace.pointers[job.name], sink=sink, cancel_requested=_cancel_check(run.id), parent=parent,
            op_selection=run.op_selection, tags=run.tags, keep_events=False,
        )
    finally:
        sink.close()
    return result


def _cancel_check(run_id: Any) -> Callable[[], bool]:
    """A cheap check the coordinator calls often: reads the run's status at most every half second."""
    state = {"checked": 0.0, "canceling": False}

    def canceling() -> bool:
        if not state["canceling"] and time.monotonic() - state["checked"] >= CANCEL_CHECK_SECONDS:
            state["checked"] = time.monotonic()
            state["canceling"] = Run.objects.filter(id=run_id, status=RunStatus.CANCELING).exists()
        return state["canceling"]

    return canceling
