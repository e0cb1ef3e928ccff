"""Subscriptions: ``runEvents`` (every event from a cursor, then live) and ``runUpdates`` (coalesced changes).

Both end after the run's RUN_FINISHED event. Everything a subscription yields is plain
data, so no resolver touches the database inside the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import AsyncIterator

import graphene
from channels.db import database_sync_to_async
from graphql import GraphQLError

from runs.errors import UnknownRunError
from runs.graphql.enums import RunStatus
from runs.graphql.runs import NodeStats, RunEvent, node_stats, parse_cursor
from runs.graphql.steps import StepSummary
from runs.live.event_pump import fetch_events_async, get_pump
from runs.models import Run, Step
from runs.services.runs import get_run

UPDATE_INTERVAL = 0.25
FINISHED = "RUN_FINISHED"


@database_sync_to_async
def _existing_run(run_id: str) -> Run:
    try:
        return get_run(run_id)
    except UnknownRunError as error:
        raise GraphQLError(str(error)) from None


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
    finished = graphene.Boolean(required=True)


@database_sync_to_async
def _snapshot(run_id: str, step_keys: set[str] | None, cursor: int | None, finished: bool) -> RunUpdate:
    run = Run.objects.get(id=run_id)
    steps = []
    nodes = None
    if step_keys is not None:
        steps = list(Step.objects.filter(run=run, key__in=list(step_keys)).order_by("order"))
        nodes = sorted({step.node for step in steps})
    return RunUpdate(run_id=str(run.id), status=run.status, cursor=str(cursor) if cursor else None,
                     node_stats=node_stats(run, nodes), steps=steps, finished=finished or run.is_finished)


class RunSubscriptions(graphene.ObjectType):
    run_events = graphene.Field(RunEvent, required=True, run_id=graphene.ID(required=True), after=graphene.String())
    run_updates = graphene.Field(RunUpdate, required=True, run_id=graphene.ID(required=True))

    @staticmethod
    async def subscribe_run_events(root, info, run_id, after=None):
        run = await _existing_run(run_id)
        async for rows in event_rows(str(run.id), parse_cursor(after, "event") or 0):
            for row in rows:
                yield RunEvent.from_values(**row)

    @staticmethod
    async def subscribe_run_updates(root, info, run_id):
        run = await _existing_run(run_id)
        run_id = str(run.id)
        first = await _snapshot(run_id, None, None, False)
        yield first
        if first.finished:
            return
        changed: set[str] = set()
        last_sent = time.monotonic()
        cursor = None
        finished = False
        rows_stream = event_rows(run_id, await database_sync_to_async(_last_id)(run_id))
        pending = asyncio.ensure_future(rows_stream.__anext__())
        try:
            while not finished:
                timeout = max(0.0, UPDATE_INTERVAL - (time.monotonic() - last_sent))
                done, _ = await asyncio.wait({pending}, timeout=timeout if changed else None)
                if pending in done:
                    try:
                        rows = pending.result()
                    except StopAsyncIteration:
                        finished = True
                        rows = []
                    for row in rows:
                        if row["step_key"]:
                            changed.add(row["step_key"])
                        cursor = row["id"]
                        finished = finished or row["kind"] == FINISHED
                    if not finished:
                        pending = asyncio.ensure_future(rows_stream.__anext__())
                if finished or (changed and time.monotonic() - last_sent >= UPDATE_INTERVAL):
                    yield await _snapshot(run_id, changed, cursor, finished)
                    changed = set()
                    last_sent = time.monotonic()
        finally:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
            await rows_stream.aclose()


def _last_id(run_id: str) -> int:
    from runs.live.event_pump import last_event_id

    return last_event_id(run_id)
