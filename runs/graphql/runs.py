"""Runs: their status, per-node counts, steps (paginated, filterable, in yield order) and events."""

from __future__ import annotations

import graphene
from django.db.models import Q, QuerySet
from graphql import GraphQLError

from dagviz.execution.status import StepStatus as EngineStepStatus
from dagviz.step_keys import parse_step_key
from runs import event_rows
from runs.errors import UnknownRunError
from runs.graphql.enums import RunStatus, StepStatus, enum_value
from runs.graphql.event_log import event_log_field
from runs.graphql.failure_groups import failure_groups_field
from runs.services.failure_groups import failed_with_signature
from runs.graphql.pagination import build_connection, connection_type, page_size, parse_cursor
from runs.graphql.status_tiles import status_tiles_field
from runs.graphql.steps import StepConnection, StepType
from runs.models import Event, Run, Step
from runs.services.key_search import steps_with_key
from runs.services.runs import get_run
from runs.services.step_counts import frozen_total, step_counts
from runs.workspace import get_workspace

STAT_FIELDS = {
    EngineStepStatus.PENDING: "pending", EngineStepStatus.RUNNING: "running", EngineStepStatus.SUCCESS: "succeeded",
    EngineStepStatus.FAILURE: "failed", EngineStepStatus.SKIPPED: "skipped", EngineStepStatus.REUSED: "reused",
    EngineStepStatus.CANCELED: "canceled",
}


class NodeStats(graphene.ObjectType):
    node = graphene.String(required=True)
    total = graphene.Int(required=True)
    pending = graphene.Int(required=True)
    running = graphene.Int(required=True)
    succeeded = graphene.Int(required=True)
    failed = graphene.Int(required=True)
    skipped = graphene.Int(required=True)
    reused = graphene.Int(required=True)
    canceled = graphene.Int(required=True, description="Steps that were running when the run was terminated.")


def node_stats(run: Run, nodes: list[str] | None = None) -> list[NodeStats]:
    """Step counts per node and status; every node the run executes is listed, even without steps."""
    counts: dict[str, dict[str, int]] = {}
    try:
        for node in get_workspace().get(run.job_name).get_subset(run.op_selection).nodes:
            counts[node] = {}
    except Exception:  # the job may have left the workspace; the recorded steps still count
        pass
    for node, by_status in step_counts(run, nodes).items():
        counts[node] = {STAT_FIELDS[EngineStepStatus(status)]: count for status, count in by_status.items()}
    return [
        NodeStats(node=node, total=sum(by_status.values()),
                  **{field: by_status.get(field, 0) for field in STAT_FIELDS.values()})
        for node, by_status in counts.items() if nodes is None or node in nodes
    ]


class RunEvent(graphene.ObjectType):
    """One event of a run; ``cursor`` is its id, to resume from."""

    cursor = graphene.String(required=True)
    timestamp = graphene.DateTime(required=True)
    kind = graphene.String(required=True)
    step_key = graphene.String()
    mapping_key = graphene.String()
    message = graphene.String(required=True)
    payload = graphene.JSONString()

    @staticmethod
    def from_row(event: Event) -> "RunEvent":
        return RunEvent.from_values(event.id, event.timestamp, event.kind, event.step_key, event.message, event.payload)

    @staticmethod
    def from_values(id: int, timestamp: object, kind: str, step_key: str | None, message: str,
                    payload: dict) -> "RunEvent":
        """From plain values, so live subscriptions build events without touching the database."""
        mapping_key = payload.get("mapping_key") if kind == "DYNAMIC_OUTPUT" else None
        if mapping_key is None and step_key:
            keys = parse_step_key(step_key).mapping_keys
            mapping_key = keys[-1] if keys else None
        return RunEvent(cursor=str(id), timestamp=timestamp, kind=kind, step_key=step_key, mapping_key=mapping_key,
                        message=message, payload=payload)


EventConnection = connection_type(RunEvent, "RunEvent")


class RunType(graphene.ObjectType):
    class Meta:
        name = "Run"

    id = graphene.ID(required=True)
    job_name = graphene.String(required=True)
    status = graphene.Field(RunStatus, required=True)
    run_config = graphene.JSONString(required=True)
    tags = graphene.JSONString(required=True)
    executor = graphene.String(required=True)
    op_selection = graphene.List(graphene.NonNull(graphene.String),
                                 description="The ops this run executes, as launched; null: the whole job.")
    created_at = graphene.DateTime(required=True)
    started_at = graphene.DateTime()
    ended_at = graphene.DateTime()
    duration_ms = graphene.Float()
    parent_run_id = graphene.ID()
    root_run_id = graphene.ID()
    failure_reason = graphene.String()
    launched_by = graphene.String(description='Who launched (or re-executed into) this run: a username, "cli:USER" '
                                              'for the command line; null when unknown.')
    terminated_by = graphene.String(description="Who terminated this run, like launchedBy; null if nobody did.")
    tolerated_failures = graphene.Int(
        required=True, description="Failed steps that tolerant collects (.collect(min_success_ratio=...)) ran "
                                   "without: a SUCCESS run may have some; re-execute from failure to repair them.")
    child_run_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
    node_stats = graphene.List(graphene.NonNull(NodeStats), required=True, node=graphene.String())
    steps = graphene.Field(
        StepConnection, required=True, node=graphene.String(), status=graphene.List(graphene.NonNull(StepStatus)),
        key_contains=graphene.String(), error_contains=graphene.String(), first=graphene.Int(), after=graphene.String(),
        error_signature=graphene.String(description="Only failed steps of this failure group (FailureGroup.signature)."),
        description="Steps in yield order (the order they were created).",
    )
    step = graphene.Field(StepType, key=graphene.String(required=True))
    events = graphene.Field(EventConnection, required=True, after=graphene.String(), first=graphene.Int())
    event_log = event_log_field()
    failure_groups = failure_groups_field
    status_tiles = status_tiles_field

    @staticmethod
    def resolve_id(run, info):
        return str(run.id)

    @staticmethod
    def resolve_parent_run_id(run, info):
        return str(run.parent_run_id) if run.parent_run_id else None

    @staticmethod
    def resolve_root_run_id(run, info):
        return str(run.root_run_id) if run.root_run_id else None

    @staticmethod
    def resolve_failure_reason(run, info):
        return run.failure_reason or None

    @staticmethod
    def resolve_launched_by(run, info):
        return run.launched_by or None

    @staticmethod
    def resolve_terminated_by(run, info):
        return run.terminated_by or None

    @staticmethod
    def resolve_duration_ms(run, info):
        if run.started_at is None:
            return None
        from runs.lifecycle import now

        return round(((run.ended_at or now()) - run.started_at).total_seconds() * 1000, 1)

    @staticmethod
    def resolve_child_run_ids(run, info):
        return [str(child) for child in run.children.order_by("created_at").values_list("id", flat=True)]

    @staticmethod
    def resolve_node_stats(run, info, node=None):
        return node_stats(run, [node] if node else None)

    @staticmethod
    def resolve_steps(run, info, node=None, status=None, key_contains=None, error_contains=None, first=None,
                      after=None, error_signature=None):
        size = page_size(first)

        def matching(counting: bool) -> QuerySet:
            if key_contains:
                steps = steps_with_key(run.id, key_contains, node, counting)
            else:
                steps = Step.objects.filter(run=run, **({"node": node} if node else {}))
            if status:
                steps = steps.filter(status__in=[enum_value(s) for s in status])
            if error_contains:
                steps = steps.filter(Q(error__message__icontains=error_contains))
            if error_signature:
                steps = failed_with_signature(steps, error_signature)
            return steps

        steps = matching(counting=False)
        position = parse_cursor(after, "step")
        page = steps.order_by("order")
        if position is not None:
            page = page.filter(order__gt=position)
        total = None
        if not (key_contains or error_contains or error_signature):  # a finished run knows these totals
            total = frozen_total(run, node, [enum_value(s) for s in status] if status else None)
        return build_connection(StepConnection, page[: size + 1], size, lambda step: str(step.order),
                                matching(counting=True).count if total is None else lambda: total)

    @staticmethod
    def resolve_step(run, info, key):
        return Step.objects.filter(run=run, key=key).first()

    @staticmethod
    def resolve_events(run, info, after=None, first=None):
        size = page_size(first)
        cursor = parse_cursor(after, "event")
        stored = event_rows.rows_after(Event.objects.filter(run=run), cursor).values(*event_rows.EVENT_FIELDS)
        visible = event_rows.expand(stored[: size + event_rows.MAX_FOLD], after=cursor)  # enough rows for size + 1
        rows = [RunEvent.from_values(**event) for event in visible[: size + 1]]
        return build_connection(EventConnection, rows, size, lambda event: event.cursor,
                                lambda: event_rows.visible_count(Event.objects.filter(run=run)))


RunConnection = connection_type(RunType, "Run")


class RunQueries(graphene.ObjectType):
    runs = graphene.Field(RunConnection, required=True, status=graphene.List(graphene.NonNull(RunStatus)),
                          job_name=graphene.String(), first=graphene.Int(), after=graphene.String(),
                          description="Runs, newest first.")
    run = graphene.Field(RunType, id=graphene.ID(required=True))

    @staticmethod
    def resolve_runs(root, info, status=None, job_name=None, first=None, after=None):
        size = page_size(first)
        runs = Run.objects.all()
        if status:
            runs = runs.filter(status__in=[enum_value(s) for s in status])
        if job_name:
            runs = runs.filter(job_name=job_name)
        page = runs.order_by("-created_at", "-id")
        if after:
            anchor = _run_or_error(after)
            page = page.filter(Q(created_at__lt=anchor.created_at) | Q(created_at=anchor.created_at, id__lt=anchor.id))
        return build_connection(RunConnection, page[: size + 1], size, lambda run: str(run.id), runs.count)

    @staticmethod
    def resolve_run(root, info, id):
        return _run_or_error(id)


def _run_or_error(run_id: str) -> Run:
    try:
        return get_run(run_id)
    except UnknownRunError as error:
        raise GraphQLError(str(error)) from None

