"""``manage.py reexecute RUN_ID (--from-failure | --keys K[,K...] | --from-keys K[,K...] | --failure-group SIGNATURE |
--all) [--preview] [--wait] [--json]``."""

from __future__ import annotations

from dagviz.execution.reexecution import ReexecutionPlan, ReexecutionStrategy
from runs.management.commands._base import DagvizCommand, cli_actor, report_launch
from runs.services.failure_groups import keys_for_reexecution
from runs.services.reexecution import plan_reexecution, reexecute


class Command(DagvizCommand):
    help = "Re-execute a finished run: its failed steps, chosen step keys, or everything, reusing other outputs."

    def add_arguments(self, parser):
        parser.add_argument("run_id")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--from-failure", action="store_true", help="failed and never-run steps and downstream")
        which.add_argument("--keys", help="exactly these steps (comma-separated), e.g. process_file[b_txt] or "
                                          "process_file[?]; everything else keeps the parent's outputs")
        which.add_argument("--from-keys", help="these steps (comma-separated) and everything downstream of them")
        which.add_argument("--failure-group", metavar="SIGNATURE",
                           help="the failed steps of this failure group (its error signature, as the run page and "
                                "GraphQL's Run.failureGroups show it) and everything downstream of them")
        which.add_argument("--all", action="store_true", help="every step")
        parser.add_argument("--preview", action="store_true", help="print what would run and be reused; launch nothing")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, run_id: str, from_failure: bool, keys: str | None, from_keys: str | None, all: bool,
               preview: bool, wait: bool, json: bool, failure_group: str | None = None, **options):
        if keys is not None:
            strategy, step_keys = ReexecutionStrategy.SELECTED, _split(keys)
        elif from_keys is not None:
            strategy, step_keys = ReexecutionStrategy.FROM_SELECTED, _split(from_keys)
        elif failure_group is not None:
            strategy = ReexecutionStrategy.FROM_SELECTED
            step_keys = keys_for_reexecution(run_id, strategy, None, failure_group.strip())
        else:
            strategy, step_keys = (ReexecutionStrategy.ALL if all else ReexecutionStrategy.FROM_FAILURE), None
        if preview:
            plan = plan_reexecution(run_id, strategy, step_keys)
            steps = [{"step_key": step.step_key, "reason": step.reason.value} for step in plan.steps]
            self.emit({"to_execute": plan.to_execute, "reused": plan.reused, "steps": steps}, json,
                      f"to execute ({len(plan.to_execute)}): {', '.join(plan.to_execute)}\n"
                      f"reused ({len(plan.reused)}): {', '.join(plan.reused)}\n"
                      f"why:\n{_reasons_text(plan)}")
            return
        report_launch(self, reexecute(run_id, strategy, step_keys, actor=cli_actor()), wait, json)


def _reasons_text(plan: ReexecutionPlan) -> str:
    """One line per reason, with its count and its steps, in the order the reasons first appear."""
    by_reason: dict[str, list[str]] = {}
    for step in plan.steps:
        by_reason.setdefault(step.reason.value, []).append(step.step_key)
    return "\n".join(f"  {reason} ({len(keys)}): {', '.join(keys)}" for reason, keys in by_reason.items())


def _split(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]
