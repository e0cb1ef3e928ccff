"""What the runs commands share: typed errors become one line on stderr and exit status 2."""

from __future__ import annotations

import getpass
import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from dagviz.errors import DagvizError
from runs.models import Run, RunStatus
from runs.services.monitor import CHECK_INTERVAL_SECONDS, check_runs

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


class DagvizCommand(BaseCommand):
    """A command whose bad input (unknown job or run, invalid config or step key) exits 2 with one line."""

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except DagvizError as error:
            first_line = " ".join(str(error).split())
            sys.stderr.write(f"error: {first_line}\n")
            sys.exit(EXIT_BAD_INPUT)

    def emit(self, data: dict, as_json: bool, text: str) -> None:
        self.stdout.write(json.dumps(data) if as_json else text)


def cli_actor() -> str:
    """Who a command acts as, recorded on the runs it launches or terminates: "cli:" and the OS user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment and none for this uid in the password database
        return "cli"


def wait_for_run(run_id: Any, poll_seconds: float = 0.2) -> Run:
    """Block until the run finishes, checking meanwhile that its worker is alive (so a dead one cannot hang us)."""
    last_check = 0.0
    while True:
        run = Run.objects.get(id=run_id)
        if run.is_finished:
            return run
        if time.monotonic() - last_check >= CHECK_INTERVAL_SECONDS:
            check_runs()
            last_check = time.monotonic()
        time.sleep(poll_seconds)


def report_launch(command: DagvizCommand, run: Run, wait: bool, as_json: bool) -> None:
    """Print a launched run (after waiting for it, with ``--wait``); exit 1 if it waited and the run failed."""
    if wait:
        run = wait_for_run(run.id)
    parent = f" (re-executes {run.parent_run_id})" if run.parent_run_id else ""
    command.emit({"run_id": str(run.id), "status": run.status}, as_json,
                 f"Run {run.id} of job '{run.job_name}'{parent}: {run.status}")
    if wait and run.status != RunStatus.SUCCESS:
        sys.exit(EXIT_FAILED)
