"""Launching runs: validate, record as QUEUED, and start a worker process when a slot is free."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction

from dagviz.config.run_config import executor_of, resolve_run_config
from dagviz.errors import DagvizError
from dagviz.execution.executors import EXECUTOR_NAMES, check_executor_available
from dagviz.home import default_output_store_url
from runs.lifecycle import move_run
from runs.models import ACTIVE_STATUSES, Run, RunStatus
from runs.services.allowlists import check_launch_reach
from runs.services.op_selection import parse_op_selection
from runs.workspace import get_workspace


def launch_run(job_name: str, run_config: dict | None = None, tags: dict | None = None,
               executor: str | None = None, *, parent: Run | None = None,
               step_selection: dict | None = None, output_store: str | None = None,
               op_selection: str | Sequence[str] | None = None, actor: str = "") -> Run:
    """Create a QUEUED run (after validating everything) and start it if fewer than the limit are running.

    With ``op_selection`` (``["op", "*op", "op+", "graph.op"]``) the run executes only those ops,
    and the run config is checked against that subset of the job. ``actor`` is recorded as who launched
    it (a username, "cli:USER", or "" when unknown). Raises ``UnknownJobError``,
    ``InvalidOpSelectionError`` or ``InvalidConfigError`` before anything is written, the latter also for a
    Dask address or output store outside the allowlists (``runs/services/allowlists.py``).
    """
    job = get_workspace().get(job_name)
    selection = parse_op_selection(op_selection)
    target = job.get_subset(selection)
    run_config = dict(run_config or {})
    config = resolve_run_config(job.name, target.nodes, run_config, resource_defs=target.resource_defs)
    executor = executor or executor_of(job, config).name
    if executor not in EXECUTOR_NAMES:
        raise DagvizError(f"Unknown executor '{executor}'; valid executors: {', '.join(EXECUTOR_NAMES)}.")
    check_executor_available(executor)  # e.g. dask without the dask extra: refused here, not in the worker
    output_store = output_store or default_output_store_url()
    check_launch_reach(job.name, run_config, config, output_store)
    run = Run.objects.create(
        job_name=job.name, run_config=run_config, tags=dict(tags or {}), executor=executor,
        output_store=output_store, parent_run=parent,
        root_run_id=(parent.root_run_id or parent.id) if parent else None, step_selection=step_selection,
        op_selection=selection, launched_by=actor,
    )
    dispatch_queued_runs()
    run.refresh_from_db()
    return run


# Key of the PostgreSQL advisory lock that serializes dispatching (any constant unique to dagviz).
DISPATCH_LOCK_KEY = 0x64616776697A  # "dagviz"


def dispatch_queued_runs() -> list[str]:
    """Start the oldest queued runs while fewer than ``DAGVIZ_MAX_CONCURRENT_RUNS`` are active."""
    started = []
    with transaction.atomic():
        serialize_dispatch()
        free = settings.DAGVIZ_MAX_CONCURRENT_RUNS - Run.objects.filter(status__in=ACTIVE_STATUSES).count()
        candidates = list(Run.objects.filter(status=RunStatus.QUEUED).order_by("created_at")
                          .values_list("id", flat=True)[: max(0, free)])
        claimed = [run_id for run_id in candidates if move_run(run_id, RunStatus.STARTING)]
    for run_id in claimed:
        pid = start_worker_process(str(run_id))
        Run.objects.filter(id=run_id, worker_pid__isnull=True).update(worker_pid=pid)
        started.append(str(run_id))
    return started


def serialize_dispatch() -> None:
    """Make concurrent dispatchers count and claim one after another, until the transaction ends.

    Counting the active runs and claiming queued ones is a check-then-act: under PostgreSQL's
    READ COMMITTED, two dispatchers would both see the same free slots and both claim, exceeding
    the limit. A transaction-level advisory lock makes the second wait for the first's commit.
    SQLite needs nothing: its IMMEDIATE transactions already take the write lock at BEGIN.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DISPATCH_LOCK_KEY])


def worker_log_path(run_id: str) -> Path:
    """Where the worker of ``run_id`` logs (the directory is not created: readers and deleters only look)."""
    return Path(settings.DAGVIZ_HOME) / "logs" / f"run-{run_id}.log"


def start_worker_process(run_id: str) -> int:
    """Start ``manage.py run_worker RUN_ID`` detached, in its own session, logging to DAGVIZ_HOME/logs."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dagviz.server.settings",
        "DATABASE_URL": database_url_for_workers(),
        "DAGVIZ_HOME": str(settings.DAGVIZ_HOME),
        "DAGVIZ_WORKSPACE": ",".join(settings.DAGVIZ_WORKSPACE),
    }
    log_path = worker_log_path(run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "run_worker", run_id], env=env, cwd=os.getcwd(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return process.pid


def database_url_for_workers() -> str:
    """A URL for the database this process uses right now (the test database during tests)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


def launch_summary(run: Run) -> dict[str, Any]:
    return {"run_id": str(run.id), "status": run.status}
