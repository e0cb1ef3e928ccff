"""Signing in and out in Chromium, against a daphne server started with ``DAGVIZ_AUTH=on``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.auth.accounts import add_user
from runs.auth.roles import Role
from tests.security.auth_server import FAILURE_LIMIT, auth_server  # noqa: F401  (auth_server is a fixture)

PASSWORD = "a long enough passphrase"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_sign_in_lands_on_next_shows_the_user_and_signs_out(auth_server, page):
    add_user("alice", Role.OPERATOR, PASSWORD)
    page.goto(f"{auth_server.base}/runs/")
    expect(page).to_have_url(f"{auth_server.base}/login?next=/runs/")

    page.get_by_test_id("login-username").fill("alice")
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()

    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{auth_server.base}/runs/")
    expect(page.get_by_test_id("current-user")).to_contain_text("alice")
    expect(page.get_by_test_id("current-user")).to_contain_text("operator")

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{auth_server.base}/login")
    page.goto(f"{auth_server.base}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))


def test_an_open_redirect_is_refused(auth_server, page):
    add_user("bob", Role.VIEWER, PASSWORD)
    page.goto(f"{auth_server.base}/login?next=https://evil.example/")
    page.get_by_test_id("login-username").fill("bob")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{auth_server.base}/")
    expect(page.get_by_test_id("current-user")).to_contain_text("bob")


def test_repeated_failures_lock_the_account_out(auth_server, page):
    add_user("carol", Role.VIEWER, PASSWORD)
    page.goto(f"{auth_server.base}/login")
    for _ in range(FAILURE_LIMIT):
        page.get_by_test_id("login-username").fill("carol")
        page.get_by_test_id("login-password").fill("not the password")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_be_visible()
    page.get_by_test_id("login-username").fill("carol")
    page.get_by_test_id("login-password").fill(PASSWORD)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_test_id("login-submit").click()
    assert answer.value.status == 429
    expect(page.get_by_test_id("login-error")).to_contain_text("too many login attempts")
    page.goto(f"{auth_server.base}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
