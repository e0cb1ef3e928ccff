"""Cross-site request forgery on ``/graphql``, request by request, against a real daphne server.

Each refused request is what another site's page can make a browser send (a foreign ``Origin``,
a form or ``text/plain`` body, no cookies since they are SameSite=Lax), carrying the
``launchRun`` mutation: it must be answered with an error status and no run may be created.
The requests that must keep working are the UI's (JSON, our ``Origin``, cookie and token), GraphiQL's
and a script's (JSON, neither ``Origin`` nor cookies).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from runs.models import Run
from tests import servers
from tests.graphql.conftest import wait_until

LAUNCH = 'mutation{launchRun(jobName:"process_directory"){__typename}}'
FOREIGN_ORIGIN = "http://127.0.0.2:8123"
TRUSTED_ORIGIN = "https://dagviz.example.com"

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]


def send(url: str, method: str = "POST", body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    """One HTTP request with exactly these headers (urllib adds no Origin and no cookies)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode(errors="replace"), dict(error.headers))


def json_body(query: str) -> bytes:
    return json.dumps({"query": query}).encode()


def form_body(query: str, **fields: str) -> bytes:
    return urllib.parse.urlencode({"query": query, **fields}).encode()


def csrf_cookie(base: str) -> str:
    """The csrftoken cookie the server gives a browser that opens GraphiQL."""
    answer = send(f"{base}/graphql", "GET", headers={"Accept": "text/html"})
    assert answer.status == 200, answer.text[:500]
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("csrftoken="), cookie
    return cookie.split(";")[0].split("=", 1)[1]


@pytest.fixture
def graphql_url(ui_server) -> str:
    return f"{ui_server.base}/graphql"


def assert_refused(answer: Answer, status: int, runs_before: int) -> None:
    assert answer.status == status, (answer.status, answer.text[:500])
    assert Run.objects.count() == runs_before, "the refused mutation created a run"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_foreign_origin_is_refused_whatever_the_method(graphql_url, method):
    before = Run.objects.count()
    if method == "POST":
        answer = send(graphql_url, body=json_body(LAUNCH),
                      headers={"Content-Type": "application/json", "Origin": FOREIGN_ORIGIN})
    else:
        answer = send(f"{graphql_url}?{urllib.parse.urlencode({'query': '{__typename}'})}", "GET",
                      headers={"Accept": "application/json", "Origin": FOREIGN_ORIGIN})
    assert_refused(answer, 403, before)
    assert FOREIGN_ORIGIN in answer.text and "DAGVIZ_CSRF_TRUSTED_ORIGINS" in answer.text


def test_the_null_origin_of_a_sandboxed_page_is_refused(graphql_url):
    before = Run.objects.count()
    answer = send(graphql_url, body=form_body(LAUNCH),
                  headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"})
    assert_refused(answer, 403, before)


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", form_body(LAUNCH)),
    ("text/plain", json_body(LAUNCH)),
    ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="query"\r\n\r\n'
                                        + LAUNCH.encode() + b"\r\n--b--\r\n"),
], ids=["form", "text", "multipart"])
def test_a_post_that_is_not_json_and_has_no_csrf_token_is_refused(graphql_url, content_type, body):
    before = Run.objects.count()
    answer = send(f"{graphql_url}?raw", body=body, headers={"Content-Type": content_type})
    assert_refused(answer, 415, before)
    assert "application/json" in answer.text


def test_a_form_post_with_the_csrf_cookie_needs_the_matching_token(ui_server, graphql_url):
    token = csrf_cookie(ui_server.base)
    before = Run.objects.count()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={token}"}
    assert_refused(send(graphql_url, body=form_body(LAUNCH), headers=headers), 403, before)
    assert_refused(send(graphql_url, body=form_body(LAUNCH, csrfmiddlewaretoken="x" * 32), headers=headers),
                   403, before)

    accepted = send(graphql_url, body=form_body("{__typename}", csrfmiddlewaretoken=token),
                    headers={**headers, "Accept": "application/json"})
    assert accepted.status == 200, accepted.text[:500]
    assert json.loads(accepted.text) == {"data": {"__typename": "Query"}}


def test_a_get_never_runs_a_mutation(graphql_url):
    before = Run.objects.count()
    answer = send(f"{graphql_url}?{urllib.parse.urlencode({'query': LAUNCH})}", "GET",
                  headers={"Accept": "application/json"})
    assert_refused(answer, 405, before)
    assert "mutation" in answer.text and "POST" in answer.text


def test_a_script_posting_json_without_origin_or_cookies_is_served(graphql_url):
    answer = send(graphql_url, body=json_body("{__typename}"), headers={"Content-Type": "application/json"})
    assert answer.status == 200, answer.text[:500]
    assert json.loads(answer.text) == {"data": {"__typename": "Query"}}


def test_the_ui_request_from_our_own_origin_with_the_token_launches_a_run(ui_server, graphql_url):
    """The positive control: the very mutation the attacks carry does launch when the UI sends it."""
    token = csrf_cookie(ui_server.base)
    before = Run.objects.count()
    answer = send(graphql_url, body=json_body(LAUNCH), headers={
        "Content-Type": "application/json", "Origin": ui_server.base, "Cookie": f"csrftoken={token}",
        "X-CSRFToken": token})
    assert answer.status == 200, answer.text[:500]
    assert json.loads(answer.text) == {"data": {"launchRun": {"__typename": "LaunchRunSuccess"}}}
    assert Run.objects.count() == before + 1
    wait_until(lambda: not Run.objects.exclude(status__in=("SUCCESS", "FAILURE", "CANCELED")).exists(), 30,
               "the launched run to finish", ui_server.log)


def test_the_ui_request_without_its_token_is_refused(ui_server, graphql_url):
    token = csrf_cookie(ui_server.base)
    before = Run.objects.count()
    answer = send(graphql_url, body=json_body(LAUNCH), headers={
        "Content-Type": "application/json", "Origin": ui_server.base, "Cookie": f"csrftoken={token}"})
    assert_refused(answer, 403, before)


def test_graphiql_is_served_to_a_browser(graphql_url):
    answer = send(graphql_url, "GET", headers={"Accept": "text/html"})
    assert answer.status == 200
    assert "graphiql" in answer.text.lower()


@pytest.fixture
def trusting_server(django_db_blocker):
    """A second server that trusts ``TRUSTED_ORIGIN`` (DAGVIZ_CSRF_TRUSTED_ORIGINS), as behind a proxy."""
    with django_db_blocker.unblock():
        server = servers.DaphneServer(servers.server_environment(
            "dagviz.examples", DAGVIZ_CSRF_TRUSTED_ORIGINS=TRUSTED_ORIGIN), "daphne-trusting")
    yield server
    server.stop()


def test_an_origin_in_csrf_trusted_origins_is_served_and_others_are_not(trusting_server):
    url = f"{trusting_server.base}/graphql"
    headers = {"Content-Type": "application/json"}
    trusted = send(url, body=json_body("{__typename}"), headers={**headers, "Origin": TRUSTED_ORIGIN})
    assert trusted.status == 200, trusted.text[:500]
    other = send(url, body=json_body("{__typename}"), headers={**headers, "Origin": "https://evil.example.com"})
    assert other.status == 403, other.text[:500]
