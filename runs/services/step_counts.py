"""Step counts per node and status: a GROUP BY while a run goes, kept on the run once it has finished.

Counting a million step rows takes 100-250 ms; a finished run's steps never change again, so the
counts are taken once, when its end is recorded (``freeze_step_counts``), and read from the run row
from then on.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from runs.models import Run, Step


def count_steps(run_id: Any, nodes: list[str] | None = None) -> dict[str, dict[str, int]]:
    """``{node: {status: count}}`` from the step rows (only ``nodes`` when given)."""
    rows = Step.objects.filter(run_id=run_id)
    if nodes is not None:
        rows = rows.filter(node__in=nodes)
    counts: dict[str, dict[str, int]] = {}
    # COUNT(*), not COUNT(id): PostgreSQL can then count from the (run, node, status, order) index alone.
    for node, status, count in rows.values_list("node", "status").annotate(count=Count("*")).order_by():
        counts.setdefault(node, {})[status] = count
    return counts


def kept_counts(run: Run) -> dict[str, dict[str, int]] | None:
    """The counts a finished run kept when it ended; None while it runs (or if it ended without them)."""
    return run.step_counts if run.is_finished else None


def step_counts(run: Run, nodes: list[str] | None = None) -> dict[str, dict[str, int]]:
    """The run's counts: kept ones for a finished run that has them, else counted now."""
    kept = kept_counts(run)
    if kept is None:
        return count_steps(run.id, nodes)
    return kept if nodes is None else {node: kept[node] for node in nodes if node in kept}


def freeze_step_counts(run_id: Any) -> None:
    """Keep the counts of a run that has just finished (after the last write to its steps)."""
    Run.objects.filter(id=run_id).update(step_counts=count_steps(run_id))


def frozen_total(run: Run, node: str | None, statuses: list[str] | None) -> int | None:
    """How many steps of ``node`` (any node if None) have one of ``statuses`` (any if None), from a finished
    run's kept counts; None when the run has none (count the rows instead)."""
    kept = kept_counts(run)
    if kept is None:
        return None
    by_node = [kept.get(node, {})] if node else list(kept.values())
    return sum(count for counts in by_node for status, count in counts.items() if not statuses or status in statuses)
