"""A run as Dagster's API shows it: ``DagsterRunStatus`` and the ``DagsterRun`` record of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

FAILURE_REASON_TAG = "dagster/failure_reason"


class DagsterRunStatus(Enum):
    """The status of a run, with Dagster's names and values."""

    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    MANAGED = "MANAGED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


FINISHED_RUN_STATUSES = frozenset({DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED})


@dataclass(frozen=True)
class DagsterRun:
    """One run's record: id, job, status, tags, config and the run it re-executes (if any)."""

    run_id: str
    job_name: str
    status: DagsterRunStatus
    tags: dict[str, str] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    root_run_id: str | None = None
    op_selection: list[str] | None = None
    step_keys_to_execute: list[str] | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES

    @property
    def is_success(self) -> bool:
        return self.status == DagsterRunStatus.SUCCESS

    @property
    def is_failure(self) -> bool:
        return self.status == DagsterRunStatus.FAILURE

    @property
    def is_failure_or_canceled(self) -> bool:
        return self.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)

    @property
    def is_cancelable(self) -> bool:
        return self.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                               DagsterRunStatus.STARTED)

    @property
    def previous_run_id(self) -> str | None:
        return self.parent_run_id


def run_tags(job_tags: dict | None, tags: dict | None, status: DagsterRunStatus, failed_steps: bool) -> dict[str, str]:
    """A run's tags as Dagster reports them: the job's, then the run's, then why a failed run failed."""
    merged = {**(job_tags or {}), **(tags or {})}
    if status == DagsterRunStatus.FAILURE:
        merged[FAILURE_REASON_TAG] = "STEP_FAILURE" if failed_steps else "RUN_EXCEPTION"
    return merged
