"""``POST /graphql`` of a real daphne server: bad requests get GraphQL errors (never HTTP 500, never a stack
trace), and a request that carries the browser's cookies must carry the CSRF token too.
"""

from __future__ import annotations

import json

import pytest

from tests.graphql.conftest import UNKNOWN_RUN_ID, GraphQLHttp, unknown_run_id

# The server reads the test database (committed, so nothing here holds a lock on it).
pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "a" * 32  # a well-formed CSRF secret


def assert_no_stack_trace(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text and "site-packages" not in text, text


@pytest.mark.parametrize("body", [
    {"query": "{ run(id: "},
    {"query": "{ noSuchField }"},
    {"query": "{ run { status } }"},  # a required argument is missing
    {"query": "query($id: ID!) { run(id: $id) { status } }", "variables": {}},
    {"query": "query($id: ID!) { run(id: $id) { status } }", "variables": {"id": {"an": "object"}}},
    {"query": 'mutation { terminateRun(runId: "x") { nope } }'},
    {"query": 'query { runs(status: [NOT_A_STATUS]) { totalCount } }'},
    {"query": "subscription { runEvents(runId: \"x\") { cursor } }"},  # subscriptions need the websocket
    {"variables": {}},  # no query at all
], ids=["syntax", "unknown-field", "missing-argument", "missing-variable", "bad-variable", "unknown-union-field",
        "bad-enum", "subscription-over-http", "no-query"])
def test_malformed_requests_get_graphql_errors(api: GraphQLHttp, body):
    response = api.post(body)
    assert response.status in (200, 400), (response.status, response.text)
    assert_no_stack_trace(response.text)
    errors = response.json()["errors"]
    assert errors and all(isinstance(error["message"], str) and error["message"] for error in errors)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2", b"\xff\xfe"], ids=["broken", "truncated", "not-utf8"])
def test_a_body_that_is_not_json_is_a_client_error(api: GraphQLHttp, body):
    response = api.post(body)
    assert 400 <= response.status < 500, (response.status, response.text)
    assert_no_stack_trace(response.text)


@pytest.mark.parametrize("run_id", [UNKNOWN_RUN_ID, "not-a-run-id", ""], ids=["unknown-id", "malformed-id", "empty"])
def test_an_unknown_run_id_is_a_graphql_error_naming_it(api: GraphQLHttp, run_id):
    response = api.post({"query": "query($id: ID!) { run(id: $id) { status } }", "variables": {"id": run_id}})
    assert response.status == 200, response.text
    answer = response.json()
    assert answer["data"] == {"run": None}
    assert answer["errors"][0]["message"] == f"Unknown run '{run_id}'."
    assert answer["errors"][0]["path"] == ["run"]
    assert_no_stack_trace(response.text)


def test_an_unknown_run_in_a_mutation_is_a_typed_result_not_an_error(api: GraphQLHttp):
    missing = unknown_run_id()
    answer = api.request('mutation($id: ID!) { terminateRun(runId: $id) { __typename ... on RunNotFoundError '
                         '{ message } } }', {"id": missing})
    assert "errors" not in answer
    assert answer["data"]["terminateRun"] == {"__typename": "RunNotFoundError", "message": f"Unknown run '{missing}'."}


QUERY = {"query": "{ jobs { name } }"}


def test_a_script_without_cookies_needs_no_csrf_token(api: GraphQLHttp):
    response = api.post(QUERY)
    assert response.status == 200
    assert "gated_fanout" in [job["name"] for job in response.json()["data"]["jobs"]]


@pytest.mark.parametrize("cookie", [f"csrftoken={TOKEN}", "sessionid=abc123", f"csrftoken={TOKEN}; sessionid=abc"])
def test_a_request_with_browser_cookies_but_no_csrf_token_is_rejected(api: GraphQLHttp, cookie):
    response = api.post(QUERY, headers={"Cookie": cookie})
    assert response.status == 403, (response.status, response.text)
    assert "jobs" not in response.text
    mutation = {"query": 'mutation { launchRun(jobName: "gated_fanout") { __typename } }'}
    assert api.post(mutation, headers={"Cookie": cookie}).status == 403


def test_a_request_with_the_csrf_cookie_and_a_wrong_token_is_rejected(api: GraphQLHttp):
    response = api.post(QUERY, headers={"Cookie": f"csrftoken={TOKEN}", "X-CSRFToken": "b" * 32})
    assert response.status == 403


def test_a_request_with_the_csrf_cookie_and_its_token_is_accepted(api: GraphQLHttp):
    response = api.post(QUERY, headers={"Cookie": f"csrftoken={TOKEN}", "X-CSRFToken": TOKEN})
    assert response.status == 200, response.text
    assert json.loads(response.text)["data"]["jobs"]
