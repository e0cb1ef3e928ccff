"""``manage.py runs [--status S] [--json]``: recent runs, newest first."""

from runs.management.commands._base import DagvizCommand
from runs.models import Run, RunStatus


class Command(DagvizCommand):
    help = "List runs, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--status", choices=RunStatus.values, action="append")
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, status, limit: int, json: bool, **options):
        runs = Run.objects.all()
        if status:
            runs = runs.filter(status__in=status)
        rows = [
            {"run_id": str(run.id), "job": run.job_name, "status": run.status,
             "created_at": run.created_at.isoformat(), "parent_run_id": str(run.parent_run_id) if run.parent_run_id else None}
            for run in runs[:limit]
        ]
        text = "\n".join(f"{r['run_id']}  {r['status']:<9}  {r['job']}  {r['created_at']}" for r in rows) or "No runs."
        self.emit({"runs": rows}, json, text)
