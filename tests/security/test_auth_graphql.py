"""The GraphQL API with ``DAGVIZ_AUTH`` on: who gets in (HTTP 401/403, websocket 4401/4403), what a viewer
may read, and who launched or terminated a run, as the API, the run page and ``show-run --json`` tell it.
"""

from __future__ import annotations

import getpass
import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from runs.auth.roles import Role, set_role
from runs.auth.tokens import revoke_token
from runs.graphql.views import AUTHENTICATION_REQUIRED
from runs.live.consumer import FORBIDDEN, UNAUTHORIZED
from runs.models import ApiToken, Event, Run, RunStatus
from tests.run_async import run_async
from tests.security.auth_support import (
    ANONYMOUS,
    JOB,
    auth_server,  # noqa: F401  (a fixture)
    auth_on,  # noqa: F401  (a fixture)
    bearer,
    make_caller,
    post_json,
    post_with_token,
    session_client,
    session_cookie,
    ws_open,
    ws_operation,
    ws_receive,
)

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "{ jobs { name } }"
LAUNCH = "mutation($job: String!) { launchRun(jobName: $job) { __typename ... on LaunchRunSuccess { run { id } } } }"
RUN_WHO = "query($id: ID!) { run(id: $id) { launchedBy terminatedBy } }"
RUN_EVENTS = "subscription($id: ID!) { runEvents(runId: $id) { kind } }"


def finished_run() -> str:
    """A run that has ended: a subscription to its events replays them and completes."""
    run = Run.objects.create(job_name=JOB, status=RunStatus.SUCCESS, output_store="memory://")
    Event.objects.create(run=run, kind="RUN_FINISHED", timestamp=timezone.now(), message="done")
    return str(run.id)


def take_role_away(user: User) -> None:
    """Called from the thread ``run_async`` runs a scenario in, whose database connection must not outlive it."""
    try:
        user.groups.clear()
    finally:
        connections.close_all()


async def close_code_after_init(server, payload: dict | None = None, cookie: str | None = None) -> int | None:
    ws = await ws_open(server, payload, cookie)
    await ws.wait_closed()
    return ws.close_code


async def subscription_messages(ws, query: str, variables: dict) -> list[dict]:
    """Every message of one subscription, up to its ``complete`` or ``error``."""
    await ws.send(json.dumps({"type": "subscribe", "id": "s", "payload": {"query": query, "variables": variables}}))
    messages = []
    while not messages or messages[-1]["type"] == "next":
        messages.append(await ws_receive(ws))
    return messages


# -- HTTP ----------------------------------------------------------------------------------------------


def test_anonymous_http_gets_401_with_how_to_authenticate(auth_on, auth_server):
    response = post_json(session_client(make_caller(ANONYMOUS)), JOBS)
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": AUTHENTICATION_REQUIRED}]}
    assert response["WWW-Authenticate"].startswith("Bearer")
    over_the_network = post_with_token(auth_server, JOBS, None, None)
    assert over_the_network.status == 401 and over_the_network.json()["errors"][0]["message"] == AUTHENTICATION_REQUIRED
    assert over_the_network.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_user_without_a_role_gets_403(auth_on):
    caller = make_caller("", "nobody")
    response = post_json(session_client(caller), JOBS)
    assert response.status_code == 403
    assert "nobody has no role" in response.json()["errors"][0]["message"]


def test_a_revoked_token_is_refused(auth_server):
    caller = make_caller(Role.OPERATOR.value)
    assert post_with_token(auth_server, JOBS, None, caller.token).status == 200
    revoke_token(ApiToken.objects.get(user=caller.user).id)
    before = Run.objects.count()
    assert post_with_token(auth_server, LAUNCH, {"job": JOB}, caller.token).status == 401
    assert run_async(close_code_after_init(auth_server, bearer(caller.token))) == FORBIDDEN
    assert Run.objects.count() == before


def test_a_viewer_reads_over_http(auth_on, auth_server):
    caller = make_caller(Role.VIEWER.value)
    run_id = finished_run()
    answer = post_with_token(auth_server, "query($id: ID!) { run(id: $id) { status } }", {"id": run_id}, caller.token)
    assert answer.json() == {"data": {"run": {"status": "SUCCESS"}}}
    assert JOB in [job["name"] for job in post_json(session_client(caller), JOBS).json()["data"]["jobs"]]


def test_authentication_off_lets_anyone_do_anything_and_records_nobody(settings):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    settings.DAGVIZ_WORKSPACE = ["dagviz.examples"]
    answer = post_json(session_client(make_caller(ANONYMOUS)), LAUNCH, {"job": JOB}).json()
    assert answer["data"]["launchRun"]["__typename"] == "LaunchRunSuccess", answer
    run_id = answer["data"]["launchRun"]["run"]["id"]
    assert post_json(session_client(make_caller(ANONYMOUS)), RUN_WHO, {"id": run_id}).json() == {
        "data": {"run": {"launchedBy": None, "terminatedBy": None}}}


# -- websockets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload, code", [
    ({}, UNAUTHORIZED),  # nobody: no token, no session
    ({"Authorization": "Bearer dgv_not-a-token"}, FORBIDDEN),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, FORBIDDEN),  # not a bearer token at all
    ({"Authorization": 42}, FORBIDDEN),
])
def test_a_websocket_without_valid_credentials_is_closed(auth_server, payload, code):
    assert run_async(close_code_after_init(auth_server, payload)) == code


def test_a_websocket_user_without_a_role_is_forbidden(auth_server):
    caller = make_caller("", "nobody")
    assert run_async(close_code_after_init(auth_server, bearer(caller.token))) == FORBIDDEN
    assert run_async(close_code_after_init(auth_server, cookie=session_cookie(session_client(caller)))) == FORBIDDEN


def test_a_viewer_queries_and_subscribes_over_a_websocket_with_a_lowercase_key(auth_server):
    caller = make_caller(Role.VIEWER.value)
    run_id = finished_run()

    async def scenario() -> tuple[dict, list[dict]]:
        ws = await ws_open(auth_server, {"authorization": f"Bearer {caller.token}"})
        assert await ws_receive(ws) == {"type": "connection_ack"}
        query = await ws_operation(ws, JOBS)
        assert await ws_receive(ws) == {"type": "complete", "id": "1"}
        events = await subscription_messages(ws, RUN_EVENTS, {"id": run_id})
        await ws.close()
        return query, events

    query, events = run_async(scenario())
    assert JOB in [job["name"] for job in query["payload"]["data"]["jobs"]]
    assert [message["type"] for message in events] == ["next", "complete"]
    assert events[0]["payload"]["data"]["runEvents"]["kind"] == "RUN_FINISHED"


def test_a_role_taken_away_stops_the_next_operations_of_an_open_websocket(auth_server):
    caller = make_caller(Role.VIEWER.value, "fading")
    run_id = finished_run()

    async def scenario() -> tuple[dict, list[dict]]:
        ws = await ws_open(auth_server, bearer(caller.token))
        assert await ws_receive(ws) == {"type": "connection_ack"}
        take_role_away(caller.user)
        answers = await ws_operation(ws, JOBS), await subscription_messages(ws, RUN_EVENTS, {"id": run_id})
        await ws.close()
        return answers

    query, subscription = run_async(scenario())
    assert query["type"] == "error" and query["payload"][0]["extensions"]["code"] == "UNAUTHORIZED", query
    assert query["payload"][0]["message"] == "jobs needs the viewer role; fading has no role."
    [error] = subscription
    assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "UNAUTHORIZED", error


def test_the_browser_session_cookie_signs_the_websocket_in(auth_server):
    """The UI's websocket carries the session cookie and no token: it acts as the signed-in user."""
    operator, viewer = make_caller(Role.OPERATOR.value, "olga"), make_caller(Role.VIEWER.value, "vic")

    async def launch_as(cookie: str) -> dict:
        ws = await ws_open(auth_server, cookie=cookie)
        assert await ws_receive(ws) == {"type": "connection_ack"}
        answer = await ws_operation(ws, LAUNCH, {"job": JOB})
        await ws.close()
        return answer["payload"]["data"]["launchRun"]

    viewer_client = session_client(viewer)
    viewer_cookie = session_cookie(viewer_client)
    assert run_async(launch_as(viewer_cookie))["__typename"] == "UnauthorizedError"
    launched = run_async(launch_as(session_cookie(session_client(operator))))
    assert launched["__typename"] == "LaunchRunSuccess"
    assert Run.objects.get(id=launched["run"]["id"]).launched_by == "olga"
    viewer_client.logout()  # the session is gone: its cookie signs nobody in
    assert run_async(close_code_after_init(auth_server, cookie=viewer_cookie)) == UNAUTHORIZED


# -- who launched and terminated -----------------------------------------------------------------------


def test_launched_by_and_terminated_by_are_recorded_and_returned(auth_on, auth_server):
    alice, bob = make_caller(Role.OPERATOR.value, "alice"), make_caller(Role.ADMIN.value, "bob")
    launched = post_with_token(auth_server, LAUNCH, {"job": JOB}, alice.token).json()["data"]["launchRun"]
    run_id = launched["run"]["id"]
    terminate = "mutation($id: ID!) { terminateRun(runId: $id) { __typename } }"
    assert post_json(session_client(bob), terminate, {"id": run_id}).json()["data"]["terminateRun"] == {
        "__typename": "TerminateRunSuccess"}
    assert post_with_token(auth_server, RUN_WHO, {"id": run_id}, alice.token).json() == {
        "data": {"run": {"launchedBy": "alice", "terminatedBy": "bob"}}}
    # A re-execution is launched by whoever re-executes, not by the parent's launcher.
    reexecute = ("mutation($id: ID!) { reexecuteRun(parentRunId: $id, strategy: ALL) "
                 "{ __typename ... on LaunchRunSuccess { run { launchedBy terminatedBy } } } }")
    child = post_with_token(auth_server, reexecute, {"id": run_id}, bob.token).json()["data"]["reexecuteRun"]
    assert child == {"__typename": "LaunchRunSuccess", "run": {"launchedBy": "bob", "terminatedBy": None}}


def test_the_run_page_shows_who_launched_and_terminated(auth_on):
    viewer = session_client(make_caller(Role.VIEWER.value))
    named = Run.objects.create(job_name=JOB, status=RunStatus.CANCELED, output_store="memory://",
                               launched_by="alice", terminated_by="cli:ops")
    page = viewer.get(f"/runs/{named.id}/").content.decode()
    assert 'data-testid="launched-by">alice<' in page and 'data-testid="terminated-by">cli:ops<' in page
    unknown = Run.objects.create(job_name=JOB, status=RunStatus.SUCCESS, output_store="memory://")
    page = viewer.get(f"/runs/{unknown.id}/").content.decode()
    assert "launched-by" not in page and "terminated-by" not in page


def test_the_command_line_records_its_os_user(auth_on):
    def command(*args: str) -> dict:
        out = StringIO()
        call_command(*args, "--json", stdout=out)
        return json.loads(out.getvalue())

    cli = f"cli:{getpass.getuser()}"
    parent = Run.objects.create(job_name=JOB, status=RunStatus.FAILURE, output_store="memory://")
    assert command("show_run", str(parent.id))["launched_by"] is None
    run_id = command("launch", JOB)["run_id"]
    command("terminate", run_id)
    shown = command("show_run", run_id)
    assert (shown["launched_by"], shown["terminated_by"]) == (cli, cli)
    child_id = command("reexecute", str(parent.id), "--all")["run_id"]
    assert Run.objects.get(id=child_id).launched_by == cli


def test_set_role_is_what_the_api_sees(auth_on):
    """The roles given by ``set_role`` (what ``dagviz users`` does) are the ones the API checks, at once."""
    user = User.objects.create_user("riley")
    set_role(user, Role.VIEWER)
    client = session_client(make_caller(ANONYMOUS))
    client.force_login(user)
    refused = post_json(client, LAUNCH, {"job": JOB}).json()["data"]["launchRun"]
    assert refused["__typename"] == "UnauthorizedError"
    set_role(user, Role.OPERATOR)
    assert post_json(client, LAUNCH, {"job": JOB}).json()["data"]["launchRun"]["__typename"] == "LaunchRunSuccess"


# -- the UI, signed in, in Chromium ---------------------------------------------------------------------


def signed_in_page(browser, server, client):
    """A page of a browser holding ``client``'s session cookie, as after signing in; its errors are collected."""
    context = browser.new_context(base_url=server.base)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.base}])
    page = context.new_page()
    page.frames_received = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: page.frames_received.append(frame)))
    return page


def test_the_run_page_works_signed_in_with_authentication_on(auth_server, browser):
    """The UI's HTTP requests (session and CSRF token) and its websocket (session cookie) act as the user."""
    from playwright.sync_api import expect

    run = Run.objects.create(job_name=JOB, status=RunStatus.QUEUED, output_store="memory://", launched_by="alice")
    viewer = signed_in_page(browser, auth_server, session_client(make_caller(Role.VIEWER.value, "vic")))
    operator = signed_in_page(browser, auth_server, session_client(make_caller(Role.OPERATOR.value, "olga")))
    try:
        viewer.goto(f"/runs/{run.id}/")
        expect(viewer.get_by_test_id("launched-by")).to_have_text("alice")
        viewer.get_by_test_id("terminate-button").click()
        viewer.get_by_test_id("terminate-confirm").click()  # Terminate asks first
        expect(viewer.get_by_test_id("failure-reason")).to_have_text(
            "terminateRun needs the operator role; vic is a viewer.")
        assert Run.objects.get(id=run.id).status == RunStatus.QUEUED
        operator.goto(f"/runs/{run.id}/")
        operator.get_by_test_id("terminate-button").click()
        operator.get_by_test_id("terminate-confirm").click()
        expect(operator.get_by_test_id("run-status")).to_have_text("CANCELED")
        operator.reload()
        expect(operator.get_by_test_id("terminated-by")).to_have_text("olga")
        # The page's live updates came over a websocket the session signed in.
        assert any('"connection_ack"' in str(frame) for frame in operator.frames_received), operator.frames_received
    finally:
        viewer.context.close()
        operator.context.close()
