"""Real servers for the GraphQL tests: daphne subprocesses on the test database, and clients for them.

Every query, mutation and subscription here goes through a real daphne process started on a
free 127.0.0.1 port (``DaphneServer``), over HTTP (``GraphQLHttp``, urllib) or websockets (gql,
or the raw ``websockets`` library for protocol details). Runs are launched through the API, so
their workers are started by daphne, on the test database (``database_url_for_workers``); tests
that launch runs use ``live`` (a committed, flushed-after-each-test database), whose teardown
waits for every worker to finish so none writes into the next test's database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest

from tests import servers
from tests.runs.support import kill_group, live_group_members, worker_log

WORKSPACE = "dagviz.examples,tests.graphql.jobs"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
RUN_SECONDS = 40.0
WS_PROTOCOL = "graphql-transport-ws"
MAX_CONCURRENT_RUNS = 4  # DAGVIZ_MAX_CONCURRENT_RUNS of every server started here

# The process environment that decides how a server wakes its subscribers: a server gets only what a test sets.
_WAKEUP_VARIABLES = ("DAGVIZ_EVENT_WAKEUP", "DAGVIZ_CHANNEL_LAYER", "REDIS_URL", "DAGVIZ_DEBUG")


class DaphneServer(servers.DaphneServer):
    """A server for these tests: their workspace, and only the wake-up settings a test gives it."""

    def __init__(self, env: dict[str, str] | None = None, name: str = "daphne") -> None:
        environment = {key: value for key, value in servers.server_environment(
            WORKSPACE, DAGVIZ_MAX_CONCURRENT_RUNS=str(MAX_CONCURRENT_RUNS)).items() if key not in _WAKEUP_VARIABLES}
        super().__init__({**environment, **(env or {})}, name)


@dataclass
class HttpResponse:
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.text)


class GraphQLHttp:
    """``POST /graphql`` with a JSON body, as a script would (no cookies unless a test adds them)."""

    def __init__(self, server: DaphneServer) -> None:
        self.server = server
        self.url = f"{server.base}/graphql"

    def post(self, body: bytes | str | dict, headers: dict[str, str] | None = None) -> HttpResponse:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        request = urllib.request.Request(self.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return HttpResponse(response.status, response.read().decode(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, error.read().decode(errors="replace"), dict(error.headers))

    def request(self, query: str, variables: dict | None = None, headers: dict[str, str] | None = None) -> dict:
        """The whole JSON answer (``data`` and ``errors``); fails on anything but HTTP 200 or 400."""
        response = self.post({"query": query, "variables": variables or {}}, headers)
        assert response.status in (200, 400), f"HTTP {response.status}: {response.text}\n{self.server.log()}"
        return response.json()

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        """The ``data`` of a query that must succeed without errors."""
        answer = self.request(query, variables)
        assert not answer.get("errors"), f"{answer['errors']}\n{self.server.log()}"
        return answer["data"]

    def errors(self, query: str, variables: dict | None = None) -> list[dict]:
        """The errors of a query that must fail; never HTTP 500, never a stack trace."""
        response = self.post({"query": query, "variables": variables or {}})
        assert response.status in (200, 400), f"HTTP {response.status}: {response.text}"
        assert "Traceback" not in response.text and 'File "' not in response.text, response.text
        errors = response.json().get("errors")
        assert errors, response.text
        return errors


LAUNCH = """
mutation Launch($job: String!, $config: JSONString, $tags: JSONString) {
  launchRun(jobName: $job, runConfig: $config, tags: $tags) {
    __typename
    ... on LaunchRunSuccess { run { id status } }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on JobNotFoundError { message }
    ... on PythonError { message className }
  }
}"""


class Live:
    """A test's handle on the shared server: the HTTP client, launching runs and waiting for them."""

    def __init__(self, server: DaphneServer) -> None:
        self.server = server
        self.api = GraphQLHttp(server)
        self.ws_url = server.ws_url
        self.launched: list[str] = []

    def launch(self, job: str, config: dict | None = None, tags: dict | None = None) -> str:
        result = self.api(LAUNCH, {"job": job, "config": json.dumps(config or {}),
                                   "tags": json.dumps(tags or {})})["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        self.launched.append(result["run"]["id"])
        return result["run"]["id"]

    def status(self, run_id: str) -> str:
        return self.api("query($id: ID!) { run(id: $id) { status } }", {"id": run_id})["run"]["status"]

    def wait(self, run_id: str, statuses: tuple[str, ...] = FINISHED, timeout: float = RUN_SECONDS) -> str:
        """Poll the run's status through the API until it is one of ``statuses``; that status."""

        def reached() -> str | None:
            status = self.status(run_id)
            return status if status in statuses else None

        return wait_until(reached, timeout, f"run {run_id} to be one of {statuses}",
                          lambda: f"{worker_log(run_id)}\n--- daphne log ---\n{self.server.log()[-5000:]}")

    def run_to_end(self, job: str, config: dict | None = None, expect: str = "SUCCESS") -> str:
        run_id = self.launch(job, config)
        status = self.wait(run_id)
        assert status == expect, f"run {run_id}: {status}\n{worker_log(run_id)}"
        return run_id

    def events(self, run_id: str) -> list[dict]:
        """Every event of the run, read page by page with the ``events`` connection."""
        return all_events(self.api, run_id)


def all_events(api: GraphQLHttp, run_id: str, page: int = 1000) -> list[dict]:
    query = """query($id: ID!, $after: String, $first: Int) { run(id: $id) { events(after: $after, first: $first) {
        edges { node { cursor timestamp kind stepKey mappingKey message } } pageInfo { hasNextPage endCursor } } } }"""
    events, after = [], None
    while True:
        connection = api(query, {"id": run_id, "after": after, "first": page})["run"]["events"]
        events += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return events
        after = connection["pageInfo"]["endCursor"]


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               story: Callable[[], str] = lambda: "", interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` with ``story()``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}\n{story()}")
        time.sleep(interval)


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(django_db_setup, django_db_blocker) -> DaphneServer:
    """One daphne process for the session, on the test database, with the default wake-up (auto)."""
    with django_db_blocker.unblock():
        started = DaphneServer(name="daphne-session")
    yield started
    started.stop()


@pytest.fixture
def api(server) -> GraphQLHttp:
    return GraphQLHttp(server)


def _stop_leftover_workers() -> dict[int, list[int]]:
    """Wait for the workers of active runs to end; the process groups that had to be killed."""
    from runs.models import ACTIVE_STATUSES, Run

    def active() -> list[Run]:
        return list(Run.objects.filter(status__in=ACTIVE_STATUSES).exclude(worker_pid=None))

    try:
        wait_until(lambda: not active(), 20, "runs still going at the end of the test")
    except AssertionError:
        for run in active():
            try:
                os.kill(run.worker_pid, signal.SIGTERM)  # a cancel request: the worker ends the run itself
            except ProcessLookupError:
                pass
    left: dict[int, list[int]] = {}
    for pid in set(Run.objects.exclude(worker_pid=None).values_list("worker_pid", flat=True)):
        if pid <= 1 or pid in (os.getpid(), os.getpgrp()):
            continue  # a made-up pid of a test, never a worker
        try:
            wait_until(lambda: not live_group_members(pid), 10, f"worker {pid} to exit")
        except AssertionError:
            left[pid] = live_group_members(pid)
            kill_group(pid)
    return left


@pytest.fixture
def committed(transactional_db) -> None:
    """A committed database (servers and workers are other processes); afterwards every worker must have ended."""
    yield
    left = _stop_leftover_workers()
    assert not left, f"the test left worker process groups running (killed now): {left}"


@pytest.fixture
def live(server, committed) -> Live:
    """The shared server, for a test that launches runs or writes rows the server must see."""
    return Live(server)


class Gates:
    """Gate files for ``gated_fanout``: its emitter waits before key ``i`` until gate ``i`` is open."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.used: set[int] = set()

    def config(self, keys: list[str], before: tuple[int, ...] | list[int] = ()) -> dict:
        self.used.update(before)
        return {"ops": {"emit_gated": {"config": {"keys": keys, "gate_dir": str(self.directory),
                                                    "gate_before": list(before)}}}}

    def open(self, index: int) -> None:
        (self.directory / str(index)).touch()

    def open_all(self) -> None:
        for index in self.used:
            self.open(index)


@pytest.fixture
def gates(tmp_path, committed) -> Gates:
    """Gates that are all opened after the test (before its workers are awaited), whatever happened."""
    handle = Gates(tmp_path / "gates")
    yield handle
    handle.open_all()


# -- websockets -------------------------------------------------------------------------------------


RUN_EVENTS = """subscription($runId: ID!, $after: String) {
  runEvents(runId: $runId, after: $after) { cursor timestamp kind stepKey mappingKey message }
}"""


async def gql_subscribe(ws_url: str, query: str, variables: dict, stop: Callable[[dict], bool] = lambda d: False,
                        timeout: float = RUN_SECONDS) -> AsyncIterator[dict]:
    """Results of a subscription through the ``gql`` client; ends when the server completes or ``stop`` says so."""
    from gql import Client, GraphQLRequest
    from gql.transport.websockets import WebsocketsTransport

    transport = WebsocketsTransport(url=ws_url, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with asyncio.timeout(timeout):
        async with Client(transport=transport) as session:
            async for data in session.subscribe(GraphQLRequest(query, variable_values=variables)):
                yield data
                if stop(data):
                    return


async def collect_events(ws_url: str, run_id: str, after: str | None = None,
                         stop: Callable[[dict], bool] = lambda event: False, timeout: float = RUN_SECONDS) -> list[dict]:
    """``runEvents`` until the server completes the subscription (after RUN_FINISHED) or ``stop(event)``."""
    events = []
    async for data in gql_subscribe(ws_url, RUN_EVENTS, {"runId": run_id, "after": after},
                                    lambda d: stop(d["runEvents"]), timeout):
        events.append(data["runEvents"])
    return events


async def ws_connect(ws_url: str, subprotocols: list[str] | None = None, origin: str | None = None):
    from websockets.asyncio.client import connect

    offered = [WS_PROTOCOL] if subprotocols is None else subprotocols
    return await connect(ws_url, subprotocols=offered or None, origin=origin, open_timeout=10, close_timeout=5)


async def ws_init(ws) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert await ws_message(ws) == {"type": "connection_ack"}


async def ws_message(ws, timeout: float = 10.0) -> dict:
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def ws_close_code(ws, timeout: float = 10.0) -> int | None:
    """The code the server closed with (messages before the close are discarded)."""
    from websockets.exceptions import ConnectionClosed

    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed:
            pass
    return ws.close_code


UNKNOWN_RUN_ID = "00000000-0000-4000-8000-000000000000"  # a well-formed id no run has (runs get uuid4s)


def unknown_run_id() -> str:
    """A fresh well-formed id that no run has."""
    return str(uuid.uuid4())
