"""A run's failures grouped by cause (error signature), and the step keys of one group.

Grouping is a ``GROUP BY`` on the step rows' ``error_signature`` column (set by the event sink and
the monitor when a step is stored as FAILURE), so it costs the same with 30 or 30,000 failed keys
and never loads the errors themselves; only a handful of sample rows per group are read. The GraphQL
API, the re-execution mutations and ``manage.py reexecute --failure-group`` all come through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Min, QuerySet, Window
from django.db.models.functions import RowNumber

from dagviz.execution.error_signature import normalise_message
from dagviz.execution.reexecution import ReexecutionError, ReexecutionStrategy, as_strategy
from dagviz.execution.status import StepStatus
from runs.models import Run, Step
from runs.services.runs import get_run

SAMPLE_KEYS = 5
MAX_GROUPS = 200
# Strategies that take step keys: a group stands for keys, so only they can use one.
GROUP_STRATEGIES = (ReexecutionStrategy.SELECTED, ReexecutionStrategy.FROM_SELECTED)


@dataclass(frozen=True)
class FailureGroup:
    """The failed steps of a run that share one cause."""

    signature: str
    error_class: str
    message: str  # the normalised message, the same for every step of the group
    count: int
    sample_keys: list[str]  # the first few keys, in step (yield) order
    first_failed_at: datetime | None
    last_failed_at: datetime | None


def failed_with_signature(steps: QuerySet, signature: str | None = None) -> QuerySet:
    """``steps`` narrowed to the failed ones: of the failure group ``signature`` if given, else of any group."""
    # ``> ""`` (not ``!= ""``, and kept beside an exact signature) makes the lookup a range scan of the
    # partial index of failed rows, (run, error_signature, order).
    steps = steps.filter(error_signature__gt="", status=StepStatus.FAILURE.value)
    return steps.filter(error_signature=signature) if signature else steps


def _failed_steps(run: Run) -> QuerySet:
    return failed_with_signature(Step.objects.filter(run=run))


def failure_groups(run: Run, first: int = 50) -> list[FailureGroup]:
    """The run's failure groups, the largest first (ties: the group whose first key came first)."""
    first = max(0, min(first, MAX_GROUPS))
    if first == 0:
        return []
    groups = list(
        _failed_steps(run).order_by().values("error_signature")
        .annotate(count=Count("id"), first_failed_at=Min("ended_at"), last_failed_at=Max("ended_at"),
                  first_order=Min("order"))
        .order_by("-count", "first_order")[:first]
    )
    samples = _samples(run, [group["error_signature"] for group in groups])
    result = []
    for group in groups:
        keys, error = samples.get(group["error_signature"], ([], {}))
        error = error or {}
        result.append(FailureGroup(
            signature=group["error_signature"], error_class=error.get("class_name", ""),
            message=normalise_message(error.get("message", "")), count=group["count"], sample_keys=keys,
            first_failed_at=group["first_failed_at"], last_failed_at=group["last_failed_at"]))
    return result


def _samples(run: Run, signatures: list[str]) -> dict[str, tuple[list[str], dict]]:
    """Up to SAMPLE_KEYS keys (in step order) and the first one's error, per signature: one query."""
    if not signatures:
        return {}
    rows = (
        _failed_steps(run).filter(error_signature__in=signatures)
        .annotate(rank=Window(RowNumber(), partition_by=[F("error_signature")], order_by=F("order").asc()))
        .filter(rank__lte=SAMPLE_KEYS).order_by("error_signature", "rank")
        .values_list("error_signature", "key", "error")
    )
    samples: dict[str, tuple[list[str], dict]] = {}
    for signature, key, error in rows:
        samples.setdefault(signature, ([], error))[0].append(key)  # the first row's error stands for the group
    return samples


def group_step_keys(run: Run, signature: str) -> list[str]:
    """Every failed step key of the group, in step order; a ReexecutionError if the run has no such group."""
    keys = list(failed_with_signature(Step.objects.filter(run=run), signature).order_by("order")
                .values_list("key", flat=True))
    if not keys:
        known = [group.signature for group in failure_groups(run, 10)]
        raise ReexecutionError(
            f"Run {run.id} has no failure group {signature!r}; "
            + (f"its groups are: {', '.join(known)}." if known else "it has no failed steps."))
    return keys


def keys_for_reexecution(parent_run_id: str, strategy: ReexecutionStrategy | str, step_keys: list[str] | None,
                         failure_group: str | None) -> list[str] | None:
    """The step keys a re-execution selects: ``step_keys``, or the failed keys of ``failure_group``.

    The group is resolved here, on the server, so a client names a group of thousands of keys by its
    signature. It goes with SELECTED or FROM_SELECTED (usually FROM_SELECTED: the group's keys and
    everything downstream), and not together with explicit step keys.
    """
    if failure_group is None:
        return step_keys
    strategy = as_strategy(strategy)
    if strategy not in GROUP_STRATEGIES:
        raise ReexecutionError(f"A failure group selects step keys: use it with FROM_SELECTED or SELECTED, "
                               f"not {strategy.value}.")
    if step_keys:
        raise ReexecutionError("Give either step keys or a failure group, not both.")
    return group_step_keys(get_run(parent_run_id), failure_group)
