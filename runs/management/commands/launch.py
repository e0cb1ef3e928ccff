"""``manage.py launch JOB [--config FILE_OR_JSON] [--executor ...] [--op-selection 'a,*b'] [--wait] [--json]``."""

from __future__ import annotations

from dagviz.config.run_config import load_run_config
from dagviz.execution.executors import EXECUTOR_NAMES
from runs.management.commands._base import DagvizCommand, cli_actor, report_launch
from runs.services.launch import launch_run


class Command(DagvizCommand):
    help = "Launch a run of a job; it runs in its own worker process."

    def add_arguments(self, parser):
        parser.add_argument("job")
        parser.add_argument("--config", help="run config: a YAML/JSON file or inline JSON")
        parser.add_argument("--executor", choices=EXECUTOR_NAMES)
        parser.add_argument("--op-selection", help="ops to execute, comma-separated: op, *op (with upstream), op+ "
                                                   "(one level downstream), graph.op; default: the whole job")
        parser.add_argument("--wait", action="store_true", help="wait for the run to finish")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, job: str, config: str | None, executor: str | None, op_selection: str | None,
               wait: bool, json: bool, **options):
        run = launch_run(job, load_run_config(config), executor=executor, op_selection=op_selection,
                         actor=cli_actor())
        report_launch(self, run, wait, json)
