"""The event pump: one per ASGI process (per event loop), reading new events for every watched run.

Subscribers register first, then replay from their own cursor, then take what the pump
hands them, skipping ids they already have: nothing is lost between replay and live, and
nothing is repeated. The pump reads each watched run once per wake-up, however many
subscribers watch it. It wakes up on a hint (PostgreSQL NOTIFY or a channel-layer message)
or on its polling timer: about every 50 ms while events flow, backing off to 250 ms when
quiet (and polling only once a second as a safety net when hints are available).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.db import connection

from runs import event_rows
from runs.live import hints
from runs.models import Event

logger = logging.getLogger(__name__)

FAST_POLL, SLOW_POLL, SAFETY_POLL = 0.05, 0.25, 1.0
FETCH_LIMIT = 5000
EVENT_FIELDS = event_rows.EVENT_FIELDS


def fetch_events(run_id: str, after: int, limit: int = FETCH_LIMIT) -> list[dict]:
    """Events of ``run_id`` with an id above ``after``, oldest first, as plain dicts: at least ``limit`` of them
    when there are that many (fewer means there are no more)."""
    # Up to MAX_FOLD - 1 of the rows read can hold only events at or below ``after``.
    rows = event_rows.rows_after(Event.objects.filter(run_id=run_id), after).values(*EVENT_FIELDS)
    return event_rows.expand(rows[:limit + event_rows.MAX_FOLD - 1], after=after)


def last_event_id(run_id: str) -> int:
    """The id of the run's last visible event (0 when it has none)."""
    last = Event.objects.filter(run_id=run_id).order_by("-id").values_list("id", "kind").first()
    return event_rows.last_visible_id(*last) if last else 0


fetch_events_async = database_sync_to_async(fetch_events)
last_event_id_async = database_sync_to_async(last_event_id)


@dataclass(eq=False)
class Subscriber:
    run_id: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class EventPump:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._cursors: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def subscribe(self, run_id: str) -> Subscriber:
        """Register for live events of ``run_id``; every event committed after this call will be handed over."""
        self._start()
        subscriber = Subscriber(run_id)
        if run_id not in self._subscribers:
            self._cursors[run_id] = await last_event_id_async(run_id)
            self._subscribers.setdefault(run_id, set())
        self._subscribers[run_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        watchers = self._subscribers.get(subscriber.run_id)
        if watchers is None:
            return
        watchers.discard(subscriber)
        if not watchers:
            del self._subscribers[subscriber.run_id]
            self._cursors.pop(subscriber.run_id, None)

    def wake(self, run_id: str | None = None) -> None:
        """A hint: new events may exist (for ``run_id``, or for any watched run)."""
        self._dirty.update([run_id] if run_id else self._subscribers)
        self._wake.set()

    # -- the loops -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._tasks:
            return
        method = hints.wakeup_method()
        self._tasks.append(asyncio.ensure_future(self._pump_loop(poll_always=method == "poll")))
        if method == "notify":
            self._tasks.append(asyncio.ensure_future(self._listen_notify()))
        elif method == "channel_layer":
            self._tasks.append(asyncio.ensure_future(self._listen_channel_layer()))

    async def _pump_loop(self, poll_always: bool) -> None:
        interval = FAST_POLL if poll_always else SAFETY_POLL
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except asyncio.TimeoutError:
                self._dirty.update(self._subscribers)  # the timer: look at every watched run
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            found = False
            for run_id in dirty:
                try:
                    found = await self._pull(run_id) or found
                except Exception:  # a database hiccup must not kill live updates; the next wake retries
                    logger.warning("Reading new events of run %s failed", run_id, exc_info=True)
            if poll_always:
                interval = FAST_POLL if found else min(SLOW_POLL, interval * 1.5)

    async def _pull(self, run_id: str) -> bool:
        found = False
        while run_id in self._subscribers:
            rows = await fetch_events_async(run_id, self._cursors[run_id])
            if not rows:
                return found
            found = True
            if run_id in self._cursors:
                self._cursors[run_id] = rows[-1]["id"]
            for subscriber in list(self._subscribers.get(run_id, ())):
                subscriber.queue.put_nowait(rows)
            if len(rows) < FETCH_LIMIT:
                return found
        return found

    async def _listen_notify(self) -> None:
        import psycopg

        settings_dict = connection.settings_dict
        params = {"dbname": settings_dict["NAME"], "user": settings_dict.get("USER") or None,
                  "password": settings_dict.get("PASSWORD") or None, "host": settings_dict.get("HOST") or None,
                  "port": settings_dict.get("PORT") or None}
        while True:
            try:
                # A connection of its own: queries on a connection that iterates notifies() would hang.
                async with await psycopg.AsyncConnection.connect(
                        autocommit=True, **{k: v for k, v in params.items() if v}) as listener:
                    await listener.execute(f"LISTEN {hints.NOTIFY_CHANNEL}")
                    self.wake()  # anything committed before LISTEN took effect
                    async for notice in listener.notifies():
                        self.wake(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnect; the safety poll keeps subscribers served meanwhile
                logger.warning("LISTEN connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    async def _listen_channel_layer(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        while True:
            try:
                channel = await layer.new_channel()
                await layer.group_add(hints.HINT_GROUP, channel)
                self.wake()
                while True:
                    message = await layer.receive(channel)
                    self.wake(message.get("run_id"))
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnect; the safety poll keeps subscribers served meanwhile
                logger.warning("Channel-layer hint listener failed; restarting", exc_info=True)
                await asyncio.sleep(1)


_pumps: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventPump]" = weakref.WeakKeyDictionary()


def get_pump() -> EventPump:
    """The pump of the running event loop (one per ASGI process; one per test loop in tests)."""
    loop = asyncio.get_running_loop()
    pump = _pumps.get(loop)
    if pump is None:
        pump = _pumps[loop] = EventPump()
    return pump


def event_from_row(row: dict[str, Any]) -> Any:
    """A ``RunEvent`` GraphQL object from a fetched row (no database access)."""
    from runs.graphql.runs import RunEvent

    return RunEvent.from_values(**row)
