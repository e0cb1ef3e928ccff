"""Steps: status, attempts, error, logs, metadata and a preview of the output of every step (mapped keys included)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import graphene

from dagviz.execution.events import DynamicOutputYielded, StepFailed, StepOutput
from runs import event_rows
from runs.graphql.enums import MetadataSource, StepStatus
from runs.graphql.limits import heavy_field
from runs.graphql.pagination import build_connection, connection_type, page_size, parse_cursor
from runs.models import Event, Step

PREVIEW_NOT_RECORDED = "<preview not recorded>"  # an output written before dagviz stored previews
MAX_DYNAMIC_METADATA = 1000  # keys of one emitter whose output metadata a step lists (the first yielded)


def epoch_to_datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


class StepError(graphene.ObjectType):
    message = graphene.String(required=True)
    class_name = graphene.String()
    stack = graphene.String(description="Up to 256 KiB of text: resolved for a limited number of steps per request.")

    @staticmethod
    @heavy_field
    def resolve_stack(error, info):
        return error.stack

    @staticmethod
    def from_dict(error: dict | None) -> "StepError | None":
        if not error:
            return None
        return StepError(message=error.get("message", ""), class_name=error.get("class_name"), stack=error.get("stack"))


class StepAttempt(graphene.ObjectType):
    number = graphene.Int(required=True)
    status = graphene.String(required=True)
    started_at = graphene.DateTime()
    ended_at = graphene.DateTime()
    error = graphene.Field(StepError)


class LogEntry(graphene.ObjectType):
    cursor = graphene.String(required=True)
    timestamp = graphene.DateTime(required=True)
    level = graphene.String(required=True)
    message = graphene.String(required=True)

    @staticmethod
    def from_event(event: Event) -> "LogEntry":
        return LogEntry(cursor=str(event.id), timestamp=event.timestamp, level=event.payload.get("level", "INFO"),
                        message=event.message)


LogConnection = connection_type(LogEntry, "Log")


class MetadataEntry(graphene.ObjectType):
    """One label of the metadata a step attached to an output or to its failure.

    Outputs get metadata from ``Output(value, metadata=...)``, ``DynamicOutput(value, key, metadata=...)``
    and ``context.add_output_metadata``; a failure from ``Failure(description, metadata=...)``.
    """

    label = graphene.String(required=True)
    value = graphene.String(required=True, description="The value as JSON text (a string, number, boolean, null, "
                                                        "list or object).")
    source = graphene.Field(MetadataSource, required=True)
    output_name = graphene.String(description="The output the entry describes (null for failure metadata).")
    mapping_key = graphene.String(description="The key a dynamic output was yielded with (null otherwise).")


def step_metadata(step: Step) -> list[MetadataEntry]:
    """The metadata of the step's outputs and of its failure, read from the step's own events only.

    Entries follow the order the outputs were produced in; an output produced again (by a retry)
    keeps the metadata of its latest production. For an emitter, the first ``MAX_DYNAMIC_METADATA``
    keys it yielded are listed.
    """
    events = Event.objects.filter(run_id=step.run_id, step_key=step.key).order_by("id")
    columns = event_rows.EVENT_FIELDS
    keys = event_rows.expand(events.filter(kind__in=event_rows.stored_kinds([DynamicOutputYielded.kind]))
                             .values(*columns)[:MAX_DYNAMIC_METADATA])[:MAX_DYNAMIC_METADATA]
    others = event_rows.expand(events.filter(kind__in=event_rows.stored_kinds([StepOutput.kind, StepFailed.kind]))
                               .values(*columns))
    visible = sorted([*keys, *(event for event in others if event["kind"] in (StepOutput.kind, StepFailed.kind))],
                     key=lambda event: event["id"])
    groups: dict[tuple[str, str | None, str | None], list[MetadataEntry]] = {}
    for kind, payload in ((event["kind"], event["payload"]) for event in visible):
        metadata = payload.get("metadata") or []  # [[label, value], ...] in the op's order
        if kind == StepFailed.kind:
            where = ("FAILURE", None, None)
        else:
            where = ("OUTPUT", payload.get("output_name"), payload.get("mapping_key"))
        groups[where] = [MetadataEntry(label=label, value=json.dumps(value), source=where[0], output_name=where[1],
                                       mapping_key=where[2]) for label, value in metadata]
    return [entry for entries in groups.values() for entry in entries]


class StepFields:
    """The fields a step has everywhere (queries and live updates), read from a ``Step`` row."""

    key = graphene.String(required=True)
    node = graphene.String(required=True)
    mapping_key = graphene.String(description="The innermost mapping key (null for a static step).")
    mapping_keys = graphene.List(graphene.NonNull(graphene.String), required=True)
    status = graphene.Field(StepStatus, required=True)
    started_at = graphene.DateTime()
    ended_at = graphene.DateTime()
    duration_ms = graphene.Float()
    attempt_count = graphene.Int(required=True)
    error = graphene.Field(StepError)
    skip_reason = graphene.String()

    @staticmethod
    def resolve_mapping_key(step, info):
        return step.mapping_keys[-1] if step.mapping_keys else None

    @staticmethod
    def resolve_attempt_count(step, info):
        return step.attempts

    @staticmethod
    def resolve_error(step, info):
        return StepError.from_dict(step.error)

    @staticmethod
    def resolve_skip_reason(step, info):
        return step.skip_reason or None


class StepSummary(StepFields, graphene.ObjectType):
    """A step as live updates carry it (no fields that need another query)."""


class StepType(StepFields, graphene.ObjectType):
    class Meta:
        name = "Step"

    attempts = graphene.List(graphene.NonNull(StepAttempt), required=True)
    logs = graphene.Field(LogConnection, required=True, after=graphene.String(), first=graphene.Int())
    output_preview = graphene.String(description="A short text preview of the step's first output, made when it "
                                                 "was written (DAGVIZ_OUTPUT_PREVIEW_CHARS long at most).")
    metadata = graphene.List(graphene.NonNull(MetadataEntry), required=True,
                             description="Metadata of the step's outputs (by output and mapping key) and of its "
                                         "failure, one entry per label.")

    @staticmethod
    def resolve_attempts(step, info):
        return [
            StepAttempt(number=item.get("number", index + 1), status=item.get("status", "RUNNING"),
                        started_at=epoch_to_datetime(item.get("started_at")),
                        ended_at=epoch_to_datetime(item.get("ended_at")), error=StepError.from_dict(item.get("error")))
            for index, item in enumerate(step.attempt_list())
        ]

    @staticmethod
    def resolve_logs(step, info, after=None, first=None):
        size = page_size(first)
        logs = Event.objects.filter(run_id=step.run_id, step_key=step.key, kind="LOG").order_by("id")
        cursor = parse_cursor(after, "log")
        if cursor is not None:
            logs = logs.filter(id__gt=cursor)
        rows = [LogEntry.from_event(event) for event in logs[: size + 1]]
        return build_connection(LogConnection, rows, size, lambda entry: entry.cursor)

    @staticmethod
    @heavy_field  # text of every step's output: bounded per request, since one query can name thousands of steps
    def resolve_output_preview(step, info):
        return output_preview(step)

    @staticmethod
    def resolve_metadata(step, info):
        return step_metadata(step)


def output_preview(step: Step) -> str | None:
    """The preview stored for the step's first output (None when it produced none).

    Previews are made when outputs are written; the output itself is never read here, whatever its
    size. Runs recorded before previews were stored say so instead.
    """
    if not step.outputs:
        return None
    return step.output_previews.get(next(iter(step.outputs)), PREVIEW_NOT_RECORDED)


StepConnection = connection_type(StepType, "Step")
