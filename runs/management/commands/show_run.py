"""``manage.py show_run RUN_ID [--json]``: a run and every one of its steps."""

from runs.management.commands._base import DagvizCommand
from runs.models import Step
from runs.services.runs import get_run


def step_summary(step: Step) -> dict:
    return {
        "key": step.key, "node": step.node, "mapping_keys": step.mapping_keys, "status": step.status,
        "attempts": step.attempts, "duration_ms": step.duration_ms,
        "error": step.error["message"] if step.error else None,
    }


class Command(DagvizCommand):
    help = "Show a run and its steps (in yield order)."

    def add_arguments(self, parser):
        parser.add_argument("run_id")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_id: str, json: bool, **options):
        run = get_run(run_id)
        steps = [step_summary(step) for step in run.steps.order_by("order")]
        data = {
            "run_id": str(run.id), "job": run.job_name, "status": run.status,
            "parent_run_id": str(run.parent_run_id) if run.parent_run_id else None,
            "root_run_id": str(run.root_run_id) if run.root_run_id else None,
            "failure_reason": run.failure_reason or None, "tolerated_failures": run.tolerated_failures,
            "launched_by": run.launched_by or None, "terminated_by": run.terminated_by or None, "steps": steps,
        }
        lines = [f"Run {run.id} of job '{run.job_name}': {run.status}"]
        if run.failure_reason:
            lines.append(f"Reason: {run.failure_reason}")
        if run.tolerated_failures:
            lines.append(f"Tolerated failures: {run.tolerated_failures} (tolerant collects ran without them)")
        if run.launched_by:
            lines.append(f"Launched by: {run.launched_by}")
        if run.terminated_by:
            lines.append(f"Terminated by: {run.terminated_by}")
        lines += [f"  {s['key']:<40} {s['status']:<8} attempts={s['attempts']}"
                  + (f"  {s['error']}" if s["error"] else "") for s in steps]
        self.emit(data, json, "\n".join(lines))
