"""What a run leaves behind: the run, its steps, its events (the source of truth) and its dynamic keys."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from dagviz.execution.status import StepStatus
from runs.fields import CompactUUIDField


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


ACTIVE_STATUSES = (RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING)
FINISHED_STATUSES = (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED)

# The only moves a run's status makes; runs.lifecycle applies them with conditional UPDATEs.
RUN_TRANSITIONS: dict[str, tuple[str, ...]] = {
    RunStatus.QUEUED: (RunStatus.STARTING, RunStatus.CANCELED),
    RunStatus.STARTING: (RunStatus.STARTED, RunStatus.CANCELING, RunStatus.FAILURE),
    RunStatus.STARTED: (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELING),
    RunStatus.CANCELING: (RunStatus.CANCELED, RunStatus.FAILURE),
    RunStatus.SUCCESS: (),
    RunStatus.FAILURE: (),
    RunStatus.CANCELED: (),
}

StepStatusChoices = models.TextChoices("StepStatusChoices", [(s.value, s.value) for s in StepStatus])


class Run(models.Model):
    """One execution of a job, from queued to finished; re-executions point to their parent and root."""

    id = CompactUUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # 16 bytes in every row that refers to it
    job_name = models.CharField(max_length=200, db_index=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    run_config = models.JSONField(default=dict)
    tags = models.JSONField(default=dict)
    executor = models.CharField(max_length=32, default="in_process")
    output_store = models.CharField(max_length=1000)
    parent_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    root_run_id = models.UUIDField(null=True, blank=True, db_index=True)
    # For a re-execution: {"strategy": "FROM_FAILURE" | "SELECTED" | "ALL", "step_keys": [...]}
    step_selection = models.JSONField(null=True, blank=True)
    # The ops this run executes, in Dagster's syntax (["op", "*op", "op+", "graph.op"]); null: the whole job.
    op_selection = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    canceling_since = models.DateTimeField(null=True, blank=True)
    worker_pid = models.IntegerField(null=True, blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    failure_reason = models.TextField(blank=True)
    # Failed steps that tolerant collects (min_success_ratio) ran without; the run may still be SUCCESS.
    tolerated_failures = models.IntegerField(default=0)
    # {node: {step status: count}}, taken when the run finished (its steps no longer change); null before.
    step_counts = models.JSONField(null=True, blank=True)
    # Usernames (or "" when nobody signed in: authentication off, or the CLI without a user).
    launched_by = models.CharField(max_length=150, blank=True)
    terminated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.job_name} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class Step(models.Model):
    """One step of a run (``op``, ``op[key]``, ``op[k1][k2]``) with its attempts, error and output references."""

    # No index of its own: every index below starts with run (it serves the foreign key and cascades).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps", db_index=False)
    key = models.CharField(max_length=1000)
    node = models.CharField(max_length=500)
    mapping_keys = models.JSONField(default=list)
    order = models.IntegerField(default=0)  # creation order: yield order within a mapped node
    status = models.CharField(max_length=16, choices=StepStatusChoices.choices, default=StepStatus.PENDING.value)
    attempts = models.IntegerField(default=0)
    # [{"number", "status", "started_at", "ended_at", "error"}] with times as epoch seconds
    attempt_history = models.JSONField(default=list)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {"message", "class_name", "stack"}
    outputs = models.JSONField(default=dict)  # output name -> reference in the output store
    skip_reason = models.TextField(blank=True)
    # output name -> short text preview, made where the output was written (the UI never loads outputs)
    output_previews = models.JSONField(default=dict)
    # For a failed step: a short digest of its error's class and normalised message, so failures of one
    # cause are one GROUP BY away (see dagviz.execution.error_signature).
    error_signature = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="unique_step_key_per_run")]
        indexes = [
            # nodeStats (covering, in group order), pages of one node and status, status tiles by order range
            models.Index(fields=["run", "node", "status", "order"], name="runs_step_node_status_order"),
            models.Index(fields=["run", "node", "order"], name="runs_step_node_order"),  # pages of one node
            models.Index(fields=["run", "order"]),  # pages of every step
            # Failure groups: only failed rows have a signature, so the index holds only them.
            models.Index(fields=["run", "error_signature", "order"], name="runs_step_failed_signature",
                         condition=models.Q(error_signature__gt="")),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"

    def attempt_list(self) -> list[dict]:
        """Every attempt (``number``, ``status``, ``started_at``, ``ended_at`` as epoch seconds, ``error``).

        A step that succeeded at its first attempt, as almost every key of a big fan-out does, stores
        no history: its one attempt is the step's own times (a million copies are not kept).
        """
        if self.attempt_history or self.attempts != 1 or self.status != StepStatus.SUCCESS.value:
            return list(self.attempt_history)
        return [{"number": 1, "status": StepStatus.SUCCESS.value, "error": None,
                 "started_at": self.started_at.timestamp() if self.started_at else None,
                 "ended_at": self.ended_at.timestamp() if self.ended_at else None}]

    @property
    def duration_ms(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds() * 1000, 3)


class Event(models.Model):
    """Everything that happened in a run, in order; the id is the cursor subscribers resume from."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events", db_index=False)
    step_key = models.CharField(max_length=1000, null=True, blank=True)
    kind = models.CharField(max_length=32)
    timestamp = models.DateTimeField()
    message = models.TextField(blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["run", "id"]),
            models.Index(fields=["run", "step_key", "kind"]),  # a step's logs and events
            models.Index(fields=["run", "kind", "id"]),  # the run log filtered by kind
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.kind} {self.step_key or ''}"


class ApiToken(models.Model):
    """A secret that lets a script act as its user; only its SHA-256 digest is kept (the token is shown once)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.id} of {self.user_id}"
