"""Subscriptions: ``runEvents`` (every event from a cursor, then live) and ``runUpdates`` (coalesced changes).

Both end after the run's RUN_FINISHED event (at once if the cursor is already past it). The
subscribe resolvers check the run before streaming, so an unknown run is a GraphQL error.
Everything a subscription yields is plain data, so no resolver touches the database inside
the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import AsyncIterator

import graphene
from channels.db import database_sync_to_async
from graphql import GraphQLError

from runs.errors import UnknownRunError
from runs.graphql.enums import RunStatus
from runs.graphql.errors import bad_argument
from runs.graphql.pagination import parse_cursor
from runs.graphql.runs import NodeStats, RunEvent, node_stats
from runs.graphql.steps import StepSummary
from runs.live.event_pump import fetch_events_async, get_pump, last_event_id
from runs.models import Event, Run, RunStatus as Status, Step
from runs.services.runs import get_run

UPDATE_INTERVAL = 0.25
MAX_UPDATE_STEPS = 10_000
MAX_SLOW_INTERVAL = 1.0
MAX_UPDATE_BYTES = 512 * 1024  # half the 1 MiB websocket message limit: room for the estimate
STEP_FIELDS_BYTES = 400  # a step's short fields as JSON (status, times, counts, field names)
FINISHED = "RUN_FINISHED"


@database_sync_to_async
def _existing_run(run_id: str) -> Run:
    try:
        return get_run(run_id)
    except UnknownRunError as error:
        raise GraphQLError(str(error)) from None


@database_sync_to_async
def _finished_by(run_id: str, cursor: int) -> bool:
    """Whether the run's RUN_FINISHED event is at or before ``cursor`` (nothing more will come)."""
    return Event.objects.filter(run_id=run_id, kind=FINISHED, id__lte=cursor).exists()


async def event_rows(run_id: str, after: int) -> AsyncIterator[list[dict]]:
    """Batches of event rows after ``after``: the stored ones, then live ones; ends after RUN_FINISHED."""
    pump = get_pump()
    subscriber = await pump.subscribe(run_id)  # before the replay, so nothing falls in between
    cursor = after
    try:
        while True:
            rows = await fetch_events_async(run_id, cursor)
            if not rows:
                break
            cursor = rows[-1]["id"]
            yield rows
            if any(row["kind"] == FINISHED for row in rows):
                return
        if await _finished_by(run_id, cursor):
            return
        while True:
            rows = [row for row in await subscriber.queue.get() if row["id"] > cursor]
            if not rows:
                continue
            cursor = rows[-1]["id"]
            yield rows
            if any(row["kind"] == FINISHED for row in rows):
                return
    finally:
        pump.unsubscribe(subscriber)


class RunUpdate(graphene.ObjectType):
    """What changed in a run since the previous update (the first update carries every node)."""

    run_id = graphene.ID(required=True)
    status = graphene.Field(RunStatus, required=True)
    cursor = graphene.String(description="Id of the last event this update accounts for.")
    node_stats = graphene.List(graphene.NonNull(NodeStats), required=True)
    steps = graphene.List(graphene.NonNull(StepSummary), required=True)
    finished = graphene.Boolean(required=True, description="True on the last update only.")


def _final_status(payload: dict) -> str:
    """The run's final status as its RUN_FINISHED event states it (the run row is updated a moment later)."""
    if payload.get("canceled"):
        return Status.CANCELED.value
    return (Status.SUCCESS if payload.get("success") else Status.FAILURE).value


@database_sync_to_async
def _snapshot(run_id: str, step_keys: set[str] | None, cursor: int | None,
              finished_payload: dict | None, max_steps: int | None = None) -> list[RunUpdate]:
    """The update(s) for the steps in ``step_keys`` (None: the first update, counts only).

    With ``max_steps`` at most that many steps are sent, without it every changed step, in as many updates
    as keep each message under ``MAX_UPDATE_BYTES`` (daphne sends, and websocket clients take, at most 1 MiB
    a message); only the last one is ``finished``.
    """
    run = Run.objects.get(id=run_id)
    steps: list[Step] = []
    nodes = None
    if step_keys is not None and max_steps is not None and len(step_keys) > max_steps:
        # A big run's burst: a few of its steps, and the counts of every node (one GROUP BY either way).
        keys = sorted(step_keys)[:max_steps]
        steps = list(Step.objects.filter(run=run, key__in=keys).order_by("order"))
    elif step_keys is not None:
        steps = list(Step.objects.filter(run=run, key__in=list(step_keys)).order_by("order"))
        nodes = sorted({step.node for step in steps})
    status = _final_status(finished_payload) if finished_payload is not None else run.status
    stats = node_stats(run, nodes)
    parts = _by_size(steps)
    return [RunUpdate(run_id=str(run.id), status=status, cursor=str(cursor) if cursor else None, node_stats=stats,
                      steps=part, finished=finished_payload is not None and index == len(parts) - 1)
            for index, part in enumerate(parts)]


def _by_size(steps: list[Step]) -> list[list[Step]]:
    """``steps`` in consecutive parts whose serialized size stays under ``MAX_UPDATE_BYTES`` (an estimate from
    the fields that can be long: key, mapping keys, error, skip reason); always at least one part."""
    parts: list[list[Step]] = [[]]
    size = 0
    for step in steps:
        estimate = STEP_FIELDS_BYTES + 3 * len(step.key) + len(json.dumps(step.error or "")) + len(step.skip_reason)
        if parts[-1] and size + estimate > MAX_UPDATE_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(step)
        size += estimate
    return parts


async def _run_updates(run_id: str, max_steps: int | None = None) -> AsyncIterator[RunUpdate]:
    start = await database_sync_to_async(last_event_id)(run_id)
    finished_event = await database_sync_to_async(
        lambda: Event.objects.filter(run_id=run_id, kind=FINISHED).values_list("payload", flat=True).first())()
    if finished_event is not None:
        yield (await _snapshot(run_id, None, start, finished_event))[0]
        return
    yield (await _snapshot(run_id, None, start or None, None))[0]
    changed: set[str] = set()
    last_sent = time.monotonic()
    interval = UPDATE_INTERVAL
    cursor: int | None = None
    finished_payload: dict | None = None
    stream = event_rows(run_id, start)
    pending = asyncio.ensure_future(stream.__anext__())
    try:
        while finished_payload is None:
            timeout = max(0.0, interval - (time.monotonic() - last_sent))
            done, _ = await asyncio.wait({pending}, timeout=timeout if changed else None)
            if pending in done:
                for row in pending.result():
                    if row["step_key"]:
                        changed.add(row["step_key"])
                    cursor = row["id"]
                    if row["kind"] == FINISHED:
                        finished_payload = row["payload"]
                if finished_payload is None:
                    pending = asyncio.ensure_future(stream.__anext__())
            if finished_payload is not None or (changed and time.monotonic() - last_sent >= interval):
                began = time.monotonic()
                updates = await _snapshot(run_id, changed, cursor, finished_payload, max_steps)
                if max_steps is not None:
                    # Slow snapshots (a big run's counts) come further apart, so that reading the events between
                    # them keeps up with the run: at most half the time goes to snapshots; updates lag <= ~1 s.
                    interval = min(MAX_SLOW_INTERVAL, max(UPDATE_INTERVAL, 2 * (time.monotonic() - began)))
                for update in updates:
                    yield update
                changed = set()
                last_sent = time.monotonic()
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
        await stream.aclose()


async def _run_events(run_id: str, after: int) -> AsyncIterator[RunEvent]:
    async for rows in event_rows(run_id, after):
        for row in rows:
            yield RunEvent.from_values(**row)


class RunSubscriptions(graphene.ObjectType):
    run_events = graphene.Field(RunEvent, required=True, run_id=graphene.ID(required=True), after=graphene.String())
    run_updates = graphene.Field(
        RunUpdate, required=True, run_id=graphene.ID(required=True),
        max_steps=graphene.Int(description=(
            f"At most this many changed steps per burst (0 to {MAX_UPDATE_STEPS:,}; absent: every one). A burst comes "
            f"in as many updates as keep each message under {MAX_UPDATE_BYTES // 1024} KiB. A burst "
            "with more carries that many of them and the counts of every node: for pages of big runs, which read "
            f"steps in pages. With it, updates come every {UPDATE_INTERVAL:g} s, further apart (up to "
            f"{MAX_SLOW_INTERVAL:g} s) when reading them takes long.")))

    @staticmethod
    async def subscribe_run_events(root, info, run_id, after=None):
        cursor = parse_cursor(after, "event") or 0
        run = await _existing_run(run_id)
        return _run_events(str(run.id), cursor)

    @staticmethod
    async def subscribe_run_updates(root, info, run_id, max_steps=None):
        if max_steps is not None and not 0 <= max_steps <= MAX_UPDATE_STEPS:
            raise bad_argument("maxSteps", f"maxSteps must be between 0 and {MAX_UPDATE_STEPS:,}, got {max_steps}.")
        run = await _existing_run(run_id)
        return _run_updates(str(run.id), max_steps)
