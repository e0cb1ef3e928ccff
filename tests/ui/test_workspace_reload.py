"""The jobs page's Reload button, in Chromium against a server whose workspace is a file the test edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import UIServer, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = """
import time
from dagviz import job, op

time.sleep({import_seconds})  # a slow import, so that the page can be seen reloading

@op
def report():
    return 1
"""
JOB = """
@job
def {name}():
    report()
"""


def source(*names: str, import_seconds: float = 0.0) -> str:
    return JOBS.format(import_seconds=import_seconds) + "".join(JOB.format(name=name) for name in names)


@pytest.fixture(scope="module")
def jobs_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ui-reload") / "jobs.py"
    path.write_text(source("alpha"))
    return path


@pytest.fixture(scope="module")
def ui_server(django_db_setup, django_db_blocker, jobs_file):
    """This module's own server (the ``page`` fixture uses it): reloading changes what it serves."""
    with django_db_blocker.unblock():
        server = UIServer(str(jobs_file))
    yield server
    server.stop()


def test_reload_lists_a_new_job_and_shows_a_broken_files_traceback_while_keeping_its_jobs(page, jobs_file):
    page.goto("/")
    expect(page.get_by_test_id("job-link-alpha")).to_be_visible()
    expect(page.get_by_test_id("workspace-errors")).to_have_count(0)

    jobs_file.write_text(source("alpha", "beta", import_seconds=1.0))
    button = page.get_by_test_id("reload-workspace")
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_text("Reloading…")
    expect(page.get_by_test_id("job-link-beta")).to_be_visible()
    expect(button).to_be_enabled()
    expect(button).to_have_text("Reload")

    jobs_file.write_text(source("alpha", "beta", "gamma") + "\ndef broken(:\n")
    page.get_by_test_id("reload-workspace").click()
    errors = page.get_by_test_id("workspace-errors")
    expect(errors).to_contain_text("SyntaxError")
    expect(errors).to_contain_text("Traceback (most recent call last)")
    expect(errors).to_contain_text(str(jobs_file))
    expect(page.get_by_test_id("job-link-alpha")).to_be_visible()
    expect(page.get_by_test_id("job-link-beta")).to_be_visible()
    expect(page.get_by_test_id("job-link-gamma")).to_have_count(0)
    screenshot(page, "home-reload-broken")

    jobs_file.write_text(source("alpha", "gamma"))
    page.get_by_test_id("reload-workspace").click()
    expect(page.get_by_test_id("job-link-gamma")).to_be_visible()
    expect(page.get_by_test_id("workspace-errors")).to_have_count(0)
    expect(page.get_by_test_id("job-link-beta")).to_have_count(0)


def test_a_failed_reload_request_says_why_and_leaves_the_button_usable(page):
    page.goto("/")
    page.route("**/graphql", lambda route: route.fulfill(
        status=200, content_type="application/json", body='{"errors": [{"message": "the server is restarting"}]}'))
    button = page.get_by_test_id("reload-workspace")
    message = page.get_by_test_id("reload-error")
    expect(message).to_be_hidden()

    button.click()

    expect(message).to_be_visible()
    expect(message).to_have_text("Reload failed: the server is restarting")
    expect(button).to_be_enabled()
    expect(button).to_have_text("Reload")
