"""Runs executed in the calling process (``execute_job(..., instance=DagsterInstance.get())``), recorded like launched ones.

The run row goes STARTING -> STARTED -> SUCCESS | FAILURE | CANCELED through ``runs.lifecycle``, and
its events and steps are written by ``DatabaseEventSink``, so the run shows in the web UI while it
runs. The caller's process is no run worker: the row names it by pid with a ``worker_host`` that
is not this host's name, so the monitor judges the run by its heartbeat (the sink beats every few
seconds) and a terminate request never signals the caller; the run sees CANCELING by polling.
"""

from __future__ import annotations

import os
import socket
import traceback
import uuid
from typing import TYPE_CHECKING, Sequence

from dagviz.config.run_config import executor_of, resolve_run_config
from dagviz.execution.api import execute_job
from dagviz.execution.executors import check_executor_available
from dagviz.execution.run_records import DagsterRun, DagsterRunStatus, run_tags
from dagviz.execution.sinks import FanOutSink
from dagviz.execution.status import StepStatus
from dagviz.home import default_output_store_url
from runs.event_sink import DatabaseEventSink
from runs.lifecycle import finish_run, move_run, now
from runs.models import Run, RunStatus, Step
from runs.services.worker import _cancel_check

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.execution.plan import ParentRun
    from dagviz.execution.sinks import EventSink
    from dagviz.execution.result import ExecutionResult
    from dagviz.workspace import JobPointer


def in_process_host() -> str:
    """The ``worker_host`` of runs executed by their caller: never equal to a host name."""
    return f"{socket.gethostname()} (in the calling process)"


def execute_local_run(job: "JobDefinition", run_config: dict | None, tags: dict | None, *,
                      pointer: "JobPointer | None" = None, op_selection: Sequence[str] | None = None,
                      parent: "ParentRun | None" = None, parent_run_id: str | None = None,
                      step_selection: dict | None = None, executor: str | None = None,
                      sink: "EventSink | None" = None) -> "ExecutionResult":
    """Record a run of ``job`` and execute it here; returns its result once the run has ended.

    The run config (and the executor it names) is checked before anything is written. ``sink``
    also receives every event (the terminal's progress line).
    """
    run_config = dict(run_config or {})
    config = resolve_run_config(job.name, job.get_subset(op_selection).nodes, run_config,
                                resource_defs=job.resource_defs)
    executor = executor or executor_of(job, config).name
    check_executor_available(executor)
    parent_row = Run.objects.get(id=parent_run_id) if parent_run_id else None
    run = Run.objects.create(
        job_name=job.name, run_config=run_config, tags={**job.tags, **(tags or {})},
        executor=executor, output_store=default_output_store_url(), status=RunStatus.STARTING,
        parent_run=parent_row, root_run_id=(parent_row.root_run_id or parent_row.id) if parent_row else None,
        step_selection=step_selection, op_selection=list(op_selection) if op_selection else None,
        worker_pid=os.getpid(), worker_host=in_process_host(),
    )
    move_run(run.id, RunStatus.STARTED, started_at=now(), heartbeat_at=now())
    database_sink = DatabaseEventSink(run.id)
    try:
        result = execute_job(job, run_config, executor=executor, output_store=run.output_store, run_id=str(run.id),
                             pointer=pointer, sink=FanOutSink(database_sink, sink) if sink else database_sink,
                             cancel_requested=_cancel_check(run.id), parent=parent,
                             op_selection=op_selection, tags=tags)
    except BaseException:
        database_sink.close()
        move_run(run.id, RunStatus.FAILURE, failure_reason=f"The run crashed:\n{traceback.format_exc()}")
        raise
    database_sink.close()
    finish_run(run.id, result)
    result.tags = dict(tags or {})
    result.run_config = run_config
    result.root_run_id = str(run.root_run_id) if run.root_run_id else None
    return result


def find_run(run_id: str) -> Run | None:
    """The run with this id, or None (also for ids that are not UUIDs)."""
    try:
        return Run.objects.filter(id=uuid.UUID(str(run_id))).first()
    except ValueError:
        return None


def dagster_run_of(run: Run) -> DagsterRun:
    """A run row as Dagster's ``DagsterRun`` record."""
    status = DagsterRunStatus(run.status)
    failed = status == DagsterRunStatus.FAILURE and Step.objects.filter(
        run=run, status=StepStatus.FAILURE.value).exists()
    return DagsterRun(
        run_id=str(run.id), job_name=run.job_name, status=status, tags=run_tags(None, run.tags, status, failed),
        run_config=dict(run.run_config or {}), parent_run_id=str(run.parent_run_id) if run.parent_run_id else None,
        root_run_id=str(run.root_run_id) if run.root_run_id else None, op_selection=run.op_selection,
    )


def dagster_runs(limit: int | None = None) -> list[DagsterRun]:
    """Every run, newest first, as Dagster's records."""
    runs = Run.objects.order_by("-created_at")
    return [dagster_run_of(run) for run in (runs[:limit] if limit is not None else runs)]
