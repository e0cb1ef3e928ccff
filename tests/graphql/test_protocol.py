"""The graphql-transport-ws protocol at ``ws://.../graphql`` of a real daphne server, with the raw ``websockets`` client.

Misuse closes the connection with the protocol's codes; a bad operation gets an ``error``
message for its id and leaves the connection open; browsers from other sites are refused.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from runs.models import Run, RunStatus
from tests.graphql.conftest import (
    RUN_EVENTS,
    WS_PROTOCOL,
    Live,
    gql_subscribe,
    ws_close_code,
    ws_connect,
    ws_init,
    ws_message,
)

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "{ jobs { name } }"


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


def subscribe_message(operation_id: str, query: str, variables: dict | None = None) -> str:
    return json.dumps({"type": "subscribe", "id": operation_id, "payload": {"query": query, "variables": variables or {}}})


@pytest.fixture
def endless_run(live: Live) -> str:
    """A run that has started and will write no event: a subscription to it stays open."""
    return str(Run.objects.create(job_name="gated_fanout", status=RunStatus.STARTED, output_store="memory://").id)


def test_ping_gets_pong_before_and_after_init(live: Live):
    async def scenario() -> None:
        ws = await ws_connect(live.ws_url)
        assert ws.subprotocol == WS_PROTOCOL
        await ws.send(json.dumps({"type": "ping"}))
        assert await ws_message(ws) == {"type": "pong"}
        await ws_init(ws)
        await ws.send(json.dumps({"type": "ping", "payload": {"x": 1}}))
        assert (await ws_message(ws))["type"] == "pong"
        await ws.send(json.dumps({"type": "pong"}))  # an unsolicited pong is allowed and answered by nothing
        await ws.send(json.dumps({"type": "ping"}))
        assert await ws_message(ws) == {"type": "pong"}
        await ws.close()

    run(scenario())


def test_queries_over_the_websocket_get_next_then_complete(live: Live):
    async def scenario() -> list[dict]:
        ws = await ws_connect(live.ws_url)
        await ws_init(ws)
        await ws.send(subscribe_message("q1", JOBS))
        messages = [await ws_message(ws), await ws_message(ws)]
        await ws.close()
        return messages

    data, complete = run(scenario())
    assert data["type"] == "next" and data["id"] == "q1"
    assert "gated_fanout" in [job["name"] for job in data["payload"]["data"]["jobs"]]
    assert complete == {"type": "complete", "id": "q1"}

    async def with_gql() -> list[dict]:
        return [result async for result in gql_subscribe(live.ws_url, JOBS, {})]

    [result] = run(with_gql())
    assert [job["name"] for job in result["jobs"]] == [job["name"] for job in live.api(JOBS)["jobs"]]


@pytest.mark.parametrize("query, expected", [
    ("subscription($id: ID!) { runEvents(runId: $id) { noSuchField } }", "noSuchField"),
    ("subscription { runEvents(runId: ", "Syntax Error"),
    ("subscription { noSuchSubscription }", "noSuchSubscription"),
    ("subscription($id: ID!) { runEvents(runId: $id) { cursor } }", "$id"),  # the variable is missing
])
def test_an_invalid_operation_gets_an_error_message_for_its_id(live: Live, endless_run, query, expected):
    variables = {"id": endless_run} if "noSuchField" in query else {}

    async def scenario() -> dict:
        ws = await ws_connect(live.ws_url)
        await ws_init(ws)
        await ws.send(subscribe_message("bad", query, variables))
        error = await ws_message(ws)
        # The connection stays open and the id is free again.
        await ws.send(subscribe_message("bad", JOBS))
        assert (await ws_message(ws))["type"] == "next"
        assert await ws_message(ws) == {"type": "complete", "id": "bad"}
        await ws.close()
        return error

    error = run(scenario())
    assert error["type"] == "error" and error["id"] == "bad", error
    assert isinstance(error["payload"], list) and error["payload"]
    assert any(expected in item["message"] for item in error["payload"]), error
    assert "Traceback" not in json.dumps(error)


@pytest.mark.parametrize("query, variables", [
    ("query($job: String) { runs(jobName: $job) { totalCount } }", {"job": "a\x00b"}),
    ("subscription($id: ID!) { runEvents(runId: $id) { cursor } }", {"id": "a\x00b"}),
])
def test_a_nul_byte_in_a_websocket_operation_is_a_typed_error(live: Live, query, variables):
    async def scenario() -> dict:
        ws = await ws_connect(live.ws_url)
        await ws_init(ws)
        await ws.send(subscribe_message("nul", query, variables))
        answer = await ws_message(ws)
        await ws.close()
        return answer

    answer = run(scenario())
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert any("NUL byte" in error["message"] for error in errors), answer


@pytest.mark.parametrize("messages, code", [
    (["this is not json"], 4400),
    (["[" * 10_000 + "]" * 10_000], 4400),  # too deep for Python's JSON parser: a bad message, not a crash
    ([json.dumps(["a", "list"])], 4400),
    ([json.dumps({"payload": {}})], 4400),  # no type
    ([json.dumps({"type": "connection_init"}), json.dumps({"type": "no_such_type"})], 4400),
    ([json.dumps({"type": "connection_init"}), json.dumps({"type": "subscribe", "id": "1"})], 4400),  # no payload
    ([json.dumps({"type": "connection_init"}), json.dumps({"type": "subscribe", "payload": {"query": JOBS}})], 4400),
    ([subscribe_message("1", JOBS)], 4401),  # before connection_init
    ([json.dumps({"type": "connection_init"}), json.dumps({"type": "connection_init"})], 4429),
], ids=["not-json", "json-nested-too-deep", "not-an-object", "no-type", "unknown-type", "subscribe-without-payload", "subscribe-without-id",
        "subscribe-before-init", "second-init"])
def test_protocol_misuse_closes_with_its_code(live: Live, messages, code):
    async def scenario() -> int | None:
        ws = await ws_connect(live.ws_url)
        for message in messages:
            await ws.send(message)
        return await ws_close_code(ws)

    assert run(scenario()) == code


@pytest.mark.parametrize("subprotocols", [[], ["graphql-ws"]], ids=["none", "legacy-graphql-ws"])
def test_a_connection_without_the_protocol_is_closed_with_4406(live: Live, subprotocols):
    async def scenario() -> int | None:
        ws = await ws_connect(live.ws_url, subprotocols=subprotocols)
        assert ws.subprotocol is None
        return await ws_close_code(ws)

    assert run(scenario()) == 4406


def test_a_duplicate_operation_id_closes_with_4409(live: Live, endless_run):
    async def scenario() -> int | None:
        ws = await ws_connect(live.ws_url)
        await ws_init(ws)
        await ws.send(subscribe_message("op", RUN_EVENTS, {"runId": endless_run}))
        await ws.send(json.dumps({"type": "ping"}))
        assert await ws_message(ws) == {"type": "pong"}  # the subscription is open and silent
        await ws.send(subscribe_message("op", RUN_EVENTS, {"runId": endless_run}))
        return await ws_close_code(ws)

    assert run(scenario()) == 4409


def test_complete_from_the_client_ends_the_operation_and_frees_its_id(live: Live, endless_run):
    async def scenario() -> list[dict]:
        ws = await ws_connect(live.ws_url)
        await ws_init(ws)
        await ws.send(subscribe_message("op", RUN_EVENTS, {"runId": endless_run}))
        await ws.send(json.dumps({"type": "complete", "id": "op"}))
        await ws.send(json.dumps({"type": "complete", "id": "never-subscribed"}))  # ignored
        await ws.send(subscribe_message("op", JOBS))
        received = [await ws_message(ws), await ws_message(ws)]
        await ws.send(json.dumps({"type": "ping"}))
        received.append(await ws_message(ws))
        await ws.close()
        return received

    data, complete, pong = run(scenario())
    assert data["type"] == "next" and "jobs" in data["payload"]["data"]
    assert complete == {"type": "complete", "id": "op"} and pong == {"type": "pong"}


def test_a_browser_from_another_site_is_refused(live: Live):
    async def scenario() -> int:
        try:
            ws = await ws_connect(live.ws_url, origin="http://evil.example")
        except InvalidStatus as refused:
            return refused.response.status_code
        await ws.close()
        raise AssertionError("a websocket from http://evil.example was accepted")

    assert run(scenario()) == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_browser_from_this_server_is_accepted(live: Live, host):
    origin = f"http://{host}:{live.server.port}"

    async def scenario() -> dict:
        ws = await ws_connect(live.ws_url, origin=origin)
        await ws_init(ws)
        await ws.send(subscribe_message("1", JOBS))
        answer = await ws_message(ws)
        await ws.close()
        return answer

    answer = run(scenario())
    assert answer["type"] == "next" and answer["payload"]["data"]["jobs"]
