"""``manage.py launch JOB [--config FILE_OR_JSON] [--executor ...] [--wait] [--json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from dagviz.errors import DagvizError
from dagviz.execution.executors import EXECUTOR_NAMES
from runs.management.commands._base import EXIT_FAILED, DagvizCommand, wait_for_run
from runs.models import RunStatus
from runs.services.launch import launch_run


def read_run_config(value: str | None) -> dict:
    """Run config from inline JSON/YAML or from a file path."""
    if not value:
        return {}
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise DagvizError(f"Run config {value!r} is neither a file nor inline JSON.")
        text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DagvizError(f"Run config is not valid YAML or JSON: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DagvizError(f"Run config must be a mapping, got {type(data).__name__}.")
    return data


class Command(DagvizCommand):
    help = "Launch a run of a job; it runs in its own worker process."

    def add_arguments(self, parser):
        parser.add_argument("job")
        parser.add_argument("--config", help="run config: a YAML/JSON file or inline JSON")
        parser.add_argument("--executor", choices=[name for name in EXECUTOR_NAMES if name != "dask"])
        parser.add_argument("--wait", action="store_true", help="wait for the run to finish")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, job: str, config: str | None, executor: str | None, wait: bool, json: bool, **options):
        run = launch_run(job, read_run_config(config), executor=executor)
        if wait:
            run = wait_for_run(run.id)
        self.emit({"run_id": str(run.id), "status": run.status}, json,
                  f"Run {run.id} of job '{run.job_name}': {run.status}")
        if wait and run.status != RunStatus.SUCCESS:
            sys.exit(EXIT_FAILED)
