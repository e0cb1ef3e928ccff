"""Signing in to the UI with ``DAGVIZ_AUTH`` on: pages need a user, ``next`` stays on this site, logout is a POST.

Requests go through Django's test client (the whole middleware stack, CSRF checks on), with
``DAGVIZ_AUTH`` switched on per test: the middleware reads the setting on each request.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from runs.auth.accounts import add_user
from runs.auth.roles import Role

PASSWORD = "a long enough passphrase"
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def auth_on():
    with override_settings(DAGVIZ_AUTH=True):
        yield


@pytest.fixture
def alice():
    return add_user("alice", Role.OPERATOR, PASSWORD).user


@pytest.fixture
def browser_client() -> Client:
    """A client that checks CSRF tokens, as a real browser session is checked."""
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT=HTML)


def sign_in(client: Client, username: str, password: str, next_url: str | None = None):
    page = client.get("/login" + (f"?next={next_url}" if next_url else ""))
    assert page.status_code == 200
    data = {"username": username, "password": password, "csrfmiddlewaretoken": page.cookies["csrftoken"].value}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data)


@pytest.mark.parametrize("path", ["/", "/runs/", "/jobs/process_directory/", "/runs/?status=SUCCESS", "/graphql"])
def test_a_browser_is_sent_to_the_login_page_with_next(browser_client, path):
    answer = browser_client.get(path)
    assert answer.status_code == 302
    assert answer["Location"] == f"/login?next={path.replace('?', '%3F').replace('=', '%3D')}"


def test_scripts_get_401_json_not_a_redirect(client):
    answer = client.get("/runs/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["message"].startswith("Sign in first")


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/dagviz/css/app.css"])
def test_login_health_check_and_static_files_need_no_user(browser_client, path):
    assert browser_client.get(path).status_code == 200


def test_anonymous_graphql_posts_are_left_to_the_api_view(client):
    # The GraphQL view answers them (with a 401 of its own); the page middleware must not redirect them.
    answer = client.post("/graphql", {"query": "{ __typename }"}, content_type="application/json")
    assert answer.status_code != 302


def test_signing_in_follows_next_and_shows_the_user_in_the_header(browser_client, alice):
    answer = sign_in(browser_client, "alice", PASSWORD, "/runs/")
    assert answer.status_code == 302 and answer["Location"] == "/runs/"
    page = browser_client.get("/runs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="current-user">alice · operator<' in html
    assert 'data-testid="logout"' in html
    assert get_user_model().objects.get(username="alice").last_login is not None


def test_a_wrong_password_shows_the_login_error(browser_client, alice):
    answer = sign_in(browser_client, "alice", "not the password")
    assert answer.status_code == 200
    assert b'data-testid="login-error"' in answer.content
    assert browser_client.get("/").status_code == 302  # still signed out


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/", "https://evil.example/runs/"])
def test_next_never_leaves_this_site(browser_client, alice, evil):
    answer = sign_in(browser_client, "alice", PASSWORD, evil)
    assert answer.status_code == 302
    assert answer["Location"] == "/"


def test_logout_is_a_post_with_the_csrf_token(browser_client, alice):
    sign_in(browser_client, "alice", PASSWORD)
    assert browser_client.get("/logout").status_code == 405  # a link of another site cannot sign anyone out
    token = browser_client.cookies["csrftoken"].value
    assert browser_client.post("/logout").status_code == 403  # no token: refused
    answer = browser_client.post("/logout", {"csrfmiddlewaretoken": token})
    assert answer.status_code == 302 and answer["Location"] == "/login"
    assert browser_client.get("/").status_code == 302


def test_a_user_without_a_role_is_refused_not_redirected(browser_client):
    get_user_model().objects.create_user("nobody", password=PASSWORD)
    sign_in(browser_client, "nobody", PASSWORD)
    answer = browser_client.get("/")
    assert answer.status_code == 403
    assert b"dagviz users add nobody --role viewer" in answer.content


def test_the_header_is_unchanged_with_auth_off(alice):
    client = Client(HTTP_ACCEPT=HTML)
    client.force_login(alice)
    with override_settings(DAGVIZ_AUTH=False):
        html = client.get("/").content.decode()
    assert "current-user" not in html and 'data-testid="logout"' not in html


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_bad_passwords_lock_the_username_out(browser_client, alice):
    for _ in range(3):
        sign_in(browser_client, "alice", "wrong password")
    locked = sign_in(browser_client, "alice", PASSWORD)  # even the right password, now
    assert locked.status_code == 429
    assert b"too many login attempts" in locked.content
    assert b'data-testid="login-error"' in locked.content
    assert browser_client.get("/").status_code == 302
