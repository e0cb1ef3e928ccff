"""``manage.py runs [--status S] [--json]``: recent runs, newest first; ``runs delete`` and ``runs prune`` remove runs.

``runs delete RUN_ID... [--json]`` deletes finished runs; ``runs prune --older-than 30d [--status S]... [--dry-run]
[--json]`` deletes finished runs older than that. Both print each run removed and the bytes freed; a run still going
(or whose family has a run going) is refused with exit status 2.
"""

from runs.management.commands._base import DagvizCommand
from runs.models import FINISHED_STATUSES, Run, RunStatus
from runs.services.retention import DeletionReport, delete_runs, parse_duration, prune_runs


class Command(DagvizCommand):
    help = "List runs, newest first; 'runs delete RUN_ID...' deletes runs; 'runs prune --older-than 30d' old ones."

    def add_arguments(self, parser):
        parser.add_argument("--status", choices=RunStatus.values, action="append")
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--json", action="store_true")
        actions = parser.add_subparsers(dest="action", metavar="{delete,prune}")
        delete = actions.add_parser("delete", help="delete finished runs, their events, logs and stored outputs")
        delete.add_argument("run_ids", nargs="+", metavar="RUN_ID")
        delete.add_argument("--json", action="store_true")
        prune = actions.add_parser("prune", help="delete finished runs that ended longer ago than --older-than")
        prune.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m, 45s or 2w")
        prune.add_argument("--status", choices=FINISHED_STATUSES, action="append",
                           help="only runs that finished so (repeatable); default: every finished run")
        prune.add_argument("--dry-run", action="store_true", help="print what would be removed; remove nothing")
        prune.add_argument("--json", action="store_true")

    def handle(self, *args, action: str | None = None, json: bool, **options):
        if action == "delete":
            self.report(delete_runs(options["run_ids"]), json)
        elif action == "prune":
            older_than = parse_duration(options["older_than"])
            self.report(prune_runs(older_than, options["status"], dry_run=options["dry_run"]), json)
        else:
            self.list_runs(options["status"], options["limit"], json)

    def report(self, report: DeletionReport, as_json: bool) -> None:
        self.emit(report.as_dict(), as_json, "\n".join(report.lines()))

    def list_runs(self, status: list[str] | None, limit: int, as_json: bool) -> None:
        runs = Run.objects.all()
        if status:
            runs = runs.filter(status__in=status)
        rows = [
            {"run_id": str(run.id), "job": run.job_name, "status": run.status,
             "created_at": run.created_at.isoformat(), "parent_run_id": str(run.parent_run_id) if run.parent_run_id else None,
             "tolerated_failures": run.tolerated_failures}
            for run in runs[:limit]
        ]
        text = "\n".join(f"{r['run_id']}  {r['status']:<9}  {r['job']}  {r['created_at']}"
                         + (f"  ({r['tolerated_failures']} tolerated failures)" if r["tolerated_failures"] else "")
                         for r in rows) or "No runs."
        self.emit({"runs": rows}, as_json, text)
