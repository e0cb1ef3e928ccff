"""How a server learns of new events: PostgreSQL LISTEN/NOTIFY, and a Redis channel layer between two servers.

Each test starts its own daphne processes with the wake-up under test, launches a run held at a
gate, subscribes, checks that the server really listens the way it was told to, opens the gate
and receives every event to the end (compared with the ``events`` query).
"""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
from django.db import connection

from runs.services.launch import database_url_for_workers
from tests.graphql.conftest import RUN_EVENTS, DaphneServer, Gates, Live, gql_subscribe, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = ["k2", "k0", "k1"]
HINT_GROUP = "dagviz.events"


def comparable(events: list[dict]) -> list[tuple]:
    return [(e["cursor"], e["kind"], e["stepKey"], e["mappingKey"]) for e in events]


async def watch_with_gate(server: DaphneServer, run_id: str, gates: Gates, on_first_event) -> list[dict]:
    """``runEvents`` to the end; after the first event, ``on_first_event()`` runs, then the gate opens."""
    events = []
    async for data in gql_subscribe(server.ws_url, RUN_EVENTS, {"runId": run_id, "after": None}):
        events.append(data["runEvents"])
        if len(events) == 1:
            await on_first_event()
            gates.open(0)
    return events


def assert_every_event(events: list[dict], live: Live, run_id: str) -> None:
    assert events[-1]["kind"] == "RUN_FINISHED"
    assert [e["mappingKey"] for e in events if e["kind"] == "DYNAMIC_OUTPUT"] == KEYS
    assert comparable(events) == comparable(live.events(run_id))
    assert live.status(run_id) == "SUCCESS"


# -- PostgreSQL LISTEN/NOTIFY ---------------------------------------------------------------------------


@pytest.fixture
def notify_server(committed):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    application = f"dagviz-notify-{uuid.uuid4().hex[:12]}"  # libpq names the server's connections with it
    server = DaphneServer({"DAGVIZ_EVENT_WAKEUP": "notify", "PGAPPNAME": application}, name="daphne-notify")
    server.application_name = application
    yield server
    server.stop()


def listening_connections(application: str) -> int:
    import psycopg

    with psycopg.connect(database_url_for_workers(), autocommit=True) as admin:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                             "AND query ILIKE 'LISTEN dagviz_events%%'", [application]).fetchone()[0]


def test_postgresql_notify_wakes_the_server(notify_server: DaphneServer, gates: Gates):
    live = Live(notify_server)
    run_id = live.launch("gated_fanout", gates.config(KEYS, before=[0]))
    assert listening_connections(notify_server.application_name) == 0  # no subscriber yet, no pump

    async def server_listens() -> None:
        await asyncio.to_thread(wait_until, lambda: listening_connections(notify_server.application_name) == 1,
                                10, "the server's pump to LISTEN dagviz_events", notify_server.log)

    events = asyncio.run(watch_with_gate(notify_server, run_id, gates, server_listens))
    assert_every_event(events, live, run_id)


# -- Redis channel layer, two servers -------------------------------------------------------------------


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url():
    if not redis_answers():
        pytest.skip("needs Redis: nothing answers on 127.0.0.1:6379")
    import redis

    database = next((n for n in range(15, 0, -1) if redis.Redis(host="127.0.0.1", port=6379, db=n).dbsize() == 0), 15)
    client = redis.Redis(host="127.0.0.1", port=6379, db=database)
    yield f"redis://127.0.0.1:6379/{database}"
    for key in client.scan_iter("asgi*"):
        client.delete(key)


@pytest.fixture
def redis_servers(redis_url, committed):
    env = {"DAGVIZ_CHANNEL_LAYER": "redis", "REDIS_URL": redis_url, "DAGVIZ_EVENT_WAKEUP": "channel_layer"}
    first = DaphneServer(env, name="daphne-redis-a")
    try:
        second = DaphneServer(env, name="daphne-redis-b")
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


def test_redis_hints_reach_another_server(redis_url, redis_servers, gates: Gates):
    import redis
    from channels_redis.core import RedisChannelLayer

    launcher, watcher = redis_servers
    live = Live(launcher)
    group_key = f"asgi:group:{HINT_GROUP}"
    client = redis.Redis.from_url(redis_url)

    async def scenario() -> tuple[str, list[dict], list[dict]]:
        layer = RedisChannelLayer(hosts=[redis_url])
        ours = await layer.new_channel()
        await layer.group_add(HINT_GROUP, ours)  # the test listens to the hints too
        run_id = live.launch("gated_fanout", gates.config(KEYS, before=[0]))

        async def watcher_joined() -> None:
            await asyncio.to_thread(wait_until, lambda: client.zcard(group_key) >= 2, 10,
                                    "the watching server to join the hint group", watcher.log)

        events = await watch_with_gate(watcher, run_id, gates, watcher_joined)
        hints = []
        async with asyncio.timeout(10):
            while not any(hint.get("run_id") == run_id for hint in hints):
                hints.append(await layer.receive(ours))
        await layer.close_pools()
        return run_id, events, hints

    run_id, events, hints = asyncio.run(scenario())
    assert_every_event(events, live, run_id)
    assert {"type": "events.new", "run_id": run_id} in hints
