"""What the authentication tests share: a daphne server with ``DAGVIZ_AUTH`` on, users, and the mutations' cases.

The server runs on the test database, so users, tokens and sessions the tests create (committed:
these tests are transactional) are the server's. It keeps every run queued
(``DAGVIZ_MAX_CONCURRENT_RUNS=0``), so a launch writes a row and starts no worker.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from runs.auth.roles import Role, set_role
from runs.auth.tokens import create_token
from runs.models import Run, RunStatus
from tests import servers
from tests.graphql.conftest import WS_PROTOCOL, GraphQLHttp, HttpResponse

JOB = "nested_fanout"  # in the workspace of the server and of this process, and needs no config
ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, Role.VIEWER.value, Role.OPERATOR.value, Role.ADMIN.value)
MUTATIONS = ("launchRun", "reexecuteRun", "previewReexecution", "terminateRun", "deleteRun", "reloadWorkspace")
OPERATOR_ROLES = (Role.OPERATOR.value, Role.ADMIN.value)


class AuthServer(servers.DaphneServer):
    """daphne with authentication on, serving the example jobs, starting no run worker."""

    def __init__(self) -> None:
        # This process's key, which signs the sessions the tests create (its settings were loaded before
        # the tests' home was chosen, so the server would otherwise generate another one there).
        environment = servers.server_environment("dagviz.examples", DAGVIZ_AUTH="on", DAGVIZ_MAX_CONCURRENT_RUNS="0",
                                                 DAGVIZ_SECRET_KEY=settings.SECRET_KEY)
        for name in ("DAGVIZ_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            environment.pop(name, None)
        super().__init__(environment, "auth-daphne")
        self.api = GraphQLHttp(self)


@pytest.fixture(scope="module")
def auth_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = AuthServer()
    yield server
    server.stop()


@pytest.fixture
def auth_on(settings):
    """Authentication on in this process too (for the Django test client), and no run worker started."""
    settings.DAGVIZ_AUTH = True
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    settings.DAGVIZ_WORKSPACE = ["dagviz.examples"]


# -- users -------------------------------------------------------------------------------------------


@dataclass
class Caller:
    """Who calls: ``user`` is None for anonymous; ``token`` is an API token of the user."""

    role: str
    user: User | None
    token: str | None

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user else ""

    @property
    def may_operate(self) -> bool:
        return self.role in OPERATOR_ROLES


def make_caller(role: str, username: str | None = None) -> Caller:
    """A user with ``role`` (ANONYMOUS: nobody; "" a user without a role) and a token of theirs."""
    if role == ANONYMOUS:
        return Caller(role, None, None)
    user = User.objects.create_user(username or f"{role or 'norole'}-user")
    if role:
        set_role(user, Role(role))
    _, raw = create_token(user, "tests")
    return Caller(role, user, raw)


def session_client(caller: Caller) -> Client:
    """A Django test client signed in as ``caller`` (its session is in the database the server reads too)."""
    client = Client()
    if caller.user is not None:
        client.force_login(caller.user)
    return client


def session_cookie(client: Client) -> str:
    """The ``Cookie`` header a browser signed in with ``client``'s session would send."""
    return f"sessionid={client.cookies['sessionid'].value}"


def post_json(client: Client, query: str, variables: dict | None = None, **headers: str) -> Any:
    return client.post("/graphql", {"query": query, "variables": variables or {}}, content_type="application/json",
                       **headers)


def post_with_token(server: AuthServer, query: str, variables: dict | None, token: str | None) -> HttpResponse:
    """A script's request: JSON, no cookies, ``Authorization: Bearer`` when it has a token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return server.api.post({"query": query, "variables": variables or {}}, headers)


# -- the mutations -----------------------------------------------------------------------------------


def _run(status: str, **fields: Any) -> Run:
    return Run.objects.create(job_name=JOB, status=status, output_store="memory://", **fields)


@dataclass
class MutationCase:
    """A mutation, the rows it needs, and how to tell whether it did something."""

    query: str
    success: str  # the __typename of the normal answer
    prepare: Callable[[], dict]  # creates the rows it acts on; its variables
    state: Callable[[dict], Any]  # what the mutation would change
    done: Callable[[dict, str], bool]  # whether it did, as this user

    @property
    def field(self) -> str:
        return self.query.split("{", 2)[1].split("(")[0].strip()


UNAUTHORIZED = "... on UnauthorizedError { message }"


def _parent() -> dict:
    return {"id": str(_run(RunStatus.FAILURE).id)}


def _children(variables: dict) -> list[tuple[str, str]]:
    return list(Run.objects.filter(parent_run_id=variables["id"]).values_list("id", "launched_by"))


CASES: dict[str, MutationCase] = {
    "launchRun": MutationCase(
        f"mutation($job: String!) {{ launchRun(jobName: $job) {{ __typename {UNAUTHORIZED} "
        "... on LaunchRunSuccess { run { id launchedBy } } } }",
        "LaunchRunSuccess", lambda: {"job": JOB},
        lambda v: sorted(map(str, Run.objects.values_list("id", flat=True))),
        lambda v, name: Run.objects.filter(launched_by=name).count() == 1),
    "reexecuteRun": MutationCase(
        f"mutation($id: ID!) {{ reexecuteRun(parentRunId: $id, strategy: ALL) {{ __typename {UNAUTHORIZED} "
        "... on LaunchRunSuccess { run { id launchedBy } } } }",
        "LaunchRunSuccess", _parent, _children,
        lambda v, name: [by for _, by in _children(v)] == [name]),
    "previewReexecution": MutationCase(
        f"mutation($id: ID!) {{ previewReexecution(parentRunId: $id, strategy: ALL) {{ __typename {UNAUTHORIZED} "
        "... on ReexecutionPlan { toExecute } } }",
        "ReexecutionPlan", _parent, lambda v: Run.objects.count(), lambda v, name: True),
    "terminateRun": MutationCase(
        f"mutation($id: ID!) {{ terminateRun(runId: $id) {{ __typename {UNAUTHORIZED} "
        "... on TerminateRunSuccess { run { status terminatedBy } } } }",
        "TerminateRunSuccess", lambda: {"id": str(_run(RunStatus.QUEUED).id)},
        lambda v: Run.objects.values_list("status", "terminated_by").get(id=v["id"]),
        lambda v, name: Run.objects.values_list("status", "terminated_by").get(id=v["id"]) == (
            RunStatus.CANCELED, name)),
    "deleteRun": MutationCase(
        f"mutation($id: ID!) {{ deleteRun(runId: $id) {{ __typename {UNAUTHORIZED} "
        "... on DeleteRunSuccess { runId } } }",
        "DeleteRunSuccess", lambda: {"id": str(_run(RunStatus.SUCCESS).id)},
        lambda v: Run.objects.filter(id=v["id"]).exists(),
        lambda v, name: not Run.objects.filter(id=v["id"]).exists()),
    "reloadWorkspace": MutationCase(
        "mutation { reloadWorkspace { __typename jobs { name } } }",
        "ReloadWorkspaceSuccess", dict, lambda v: None, lambda v, name: True),
}


def check_answer(case: MutationCase, caller: Caller, answer: dict, before: Any, variables: dict) -> None:
    """Allowed: the normal result and its effect, recorded as the caller; refused: UnauthorizedError, no effect."""
    result = (answer.get("data") or {}).get(case.field)
    if caller.may_operate:
        assert not answer.get("errors"), answer
        assert result["__typename"] == case.success, answer
        assert case.done(variables, caller.name), (case.field, caller.role)
        return
    assert case.state(variables) == before, f"{case.field} refused to a {caller.role} changed something"
    needed = f"{case.field} needs the operator role; {caller.name} is a viewer."
    if case.field == "reloadWorkspace":  # an object type, not a union: a top-level error
        assert result is None, answer
        [error] = answer["errors"]
        assert error["message"] == needed and error["extensions"]["code"] == "UNAUTHORIZED", error
    else:
        assert result == {"__typename": "UnauthorizedError", "message": needed}, answer


# -- websockets --------------------------------------------------------------------------------------


async def ws_open(server: AuthServer, payload: dict | None = None, cookie: str | None = None):
    """A websocket to the server, after ``connection_init`` with ``payload`` (the ack is not awaited)."""
    from websockets.asyncio.client import connect

    ws = await connect(server.ws_url, subprotocols=[WS_PROTOCOL], open_timeout=10, close_timeout=5,
                       additional_headers={"Cookie": cookie} if cookie else None)
    await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    return ws


async def ws_receive(ws, timeout: float = 10.0) -> dict:
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def ws_operation(ws, query: str, variables: dict | None = None, operation_id: str = "1") -> dict:
    """The first message answering a query or mutation: ``next`` (with the result) or ``error``."""
    await ws.send(json.dumps({"type": "subscribe", "id": operation_id,
                              "payload": {"query": query, "variables": variables or {}}}))
    return await ws_receive(ws)


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}
