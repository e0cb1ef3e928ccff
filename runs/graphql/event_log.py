"""``Run.eventLog``: the run's events a page at a time, filtered by kind, step key and text (the run page's log).

The reading itself (which index answers which filter, the bounded text scan) is
``runs.services.event_log``; this module declares the types, checks the arguments and turns an
argument out of bounds into a GraphQL error with ``extensions.code = "BAD_USER_INPUT"`` and
``extensions.argument`` naming it.
"""

from __future__ import annotations

import re

import graphene
from graphql import FieldNode

from runs.errors import ArgumentOutOfBoundsError
from runs.graphql.errors import out_of_bounds
from runs.graphql.pagination import PageInfo
from runs.models import Run
from runs.services.event_log import (
    COUNT_CAP,
    MAX_KINDS,
    MAX_PAGE,
    MAX_TEXT,
    read_event_log,
    validated_filter,
    validated_first,
)

CURSOR = re.compile(r"[0-9]{1,19}")
MAX_CURSOR = 2**63 - 1  # the largest id a BigAutoField holds


class RunLogEvent(graphene.ObjectType):
    """One line of the run log."""

    id = graphene.ID(required=True, description="The event's id; ids grow in the order events were written.")
    cursor = graphene.String(required=True, description="The id as a cursor, for `after`.")
    timestamp = graphene.DateTime(required=True)
    kind = graphene.String(required=True, description="STEP_STARTED, STEP_OUTPUT, DYNAMIC_OUTPUT, STEP_SUCCESS, "
                                                      "STEP_FAILURE, STEP_SKIPPED, LOG, RUN_STARTED, ...")
    level = graphene.String(required=True, description="A LOG's own level; ERROR for failures (of a step, or of the "
                                                       "run), WARNING for retries and cancels, INFO otherwise.")
    step_key = graphene.String(description="The step the event is about; null for run-level events.")
    message = graphene.String(required=True)

    @staticmethod
    def from_row(row: dict) -> "RunLogEvent":
        return RunLogEvent(id=str(row["id"]), cursor=str(row["id"]), timestamp=row["timestamp"], kind=row["kind"],
                           level=row["level"], step_key=row["step_key"], message=row["message"])


class RunLogEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(RunLogEvent, required=True)


class RunEventLog(graphene.ObjectType):
    """One page of the run log; `pageInfo.endCursor` is where the next page starts (`after`)."""

    edges = graphene.List(graphene.NonNull(RunLogEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True, description=(
        "hasNextPage: more matching events may follow endCursor. endCursor: resume after it; every matching "
        "event up to it was returned (the last event's id, or where a text scan stopped)."))
    scan_limited = graphene.Boolean(required=True, description=(
        "The page is shorter than `first` because the scan for `text` or `stepKeyPrefix` reached its time budget; "
        "request again from endCursor to go on."))
    total_count = graphene.Int(description=(
        f"Events matching the filters after `after`, counted from the indexes up to {COUNT_CAP:,} (see "
        "totalCountCapped); null with a `text` or `stepKeyPrefix` filter, which no index can count."))
    total_count_capped = graphene.Boolean(required=True, description=(
        f"More than {COUNT_CAP:,} events match: totalCount is a lower bound."))

    @staticmethod
    def resolve_edges(page, info):
        return [RunLogEdge(cursor=str(row["id"]), node=RunLogEvent.from_row(row)) for row in page.rows]

    @staticmethod
    def resolve_page_info(page, info):
        end = page.end_cursor
        return PageInfo(has_next_page=page.has_next_page, end_cursor=None if end is None else str(end))

    @staticmethod
    def resolve_total_count(page, info):
        return page.total_count

    @staticmethod
    def resolve_total_count_capped(page, info):
        return page.count_capped


EVENT_LOG_DESCRIPTION = (
    "The run's events in the order they were written, a page at a time, with filters (all optional, combined "
    f"with AND): `kinds` (up to {MAX_KINDS} event kinds), `stepKey` (exactly this step), `stepKeyPrefix` (steps "
    "whose key starts with it: `work[` for every key of op work, `work[k1]` for that step and the keys nested under "
    f"it), `text` (the message contains it, ignoring case; up to {MAX_TEXT} characters). `first`: 0 to {MAX_PAGE} "
    "(default 100); `after`: an endCursor or event cursor. Pages are exact and stable: each holds the first "
    "matching events after `after`. Arguments out of bounds are refused with extensions.code BAD_USER_INPUT.")


def event_log_field() -> graphene.Field:
    """The ``eventLog`` field for ``Run``."""
    return graphene.Field(
        RunEventLog, required=True, description=EVENT_LOG_DESCRIPTION, first=graphene.Int(), after=graphene.String(),
        kinds=graphene.List(graphene.NonNull(graphene.String)), step_key=graphene.String(),
        step_key_prefix=graphene.String(), text=graphene.String(), resolver=resolve_event_log,
    )


def resolve_event_log(run: Run, info, first=None, after=None, kinds=None, step_key=None, step_key_prefix=None,
                      text=None):
    try:
        size = validated_first(first)
        log_filter = validated_filter(kinds, step_key, step_key_prefix, text)
        cursor = parse_after(after)
    except ArgumentOutOfBoundsError as error:
        raise out_of_bounds(error) from None
    return read_event_log(run, log_filter, cursor, size, with_count=wants_total_count(info))


def parse_after(after: str | None) -> int | None:
    if after in (None, ""):
        return None
    if not CURSOR.fullmatch(after) or int(after) > MAX_CURSOR:
        raise ArgumentOutOfBoundsError("after", f"Invalid event log cursor {after[:40]!r}: use one this API returned.")
    return int(after)


def wants_total_count(info) -> bool:
    """Whether the query selects totalCount (counting is the one part a page does not need)."""
    for node in info.field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode):  # a fragment: count, to be safe
                return True
            if selection.name.value in ("totalCount", "totalCountCapped"):
                return True
    return False
