"""``manage.py terminate RUN_ID``: cancel a queued run or stop a running one."""

from runs.management.commands._base import DagvizCommand, cli_actor
from runs.services.terminate import terminate_run


class Command(DagvizCommand):
    help = "Terminate a run (queued: canceled at once; running: its steps are stopped, then CANCELED)."

    def add_arguments(self, parser):
        parser.add_argument("run_id")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_id: str, json: bool, **options):
        run = terminate_run(run_id, actor=cli_actor())
        self.emit({"run_id": str(run.id), "status": run.status}, json, f"Run {run.id}: {run.status}")
