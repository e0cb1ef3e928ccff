"""Delete run, on the run page: only once the run has finished, after the browser's confirmation."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from runs.models import Run
from runs.services.reexecution import reexecute
from tests.ui.conftest import screenshot
from tests.ui.test_run_page import launch_from_launchpad

pytestmark = pytest.mark.django_db(transaction=True)

RUNS_LIST = re.compile(r"/runs/$")


def test_a_finished_run_is_deleted_after_confirming_and_the_page_opens_the_runs_list(page):
    run_id = launch_from_launchpad(page, "flaky_fanout", (
        "ops:\n  emit_keys:\n    config:\n      n: 3\n  flaky_work:\n    config:\n      fail_keys: []\n"
        "      sleep_ms: 700\n"))
    button = page.get_by_test_id("delete-run")
    expect(page.get_by_test_id("run-status")).to_have_text("STARTED")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("title", re.compile("still going"))
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(button).to_be_enabled()  # followed the live status, without a reload

    messages: list[str] = []

    def dismiss(dialog):
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    button.click()
    expect(button).to_be_enabled()
    assert messages == [f"Delete run {run_id}? Its events, logs and stored outputs are removed."]
    assert Run.objects.filter(id=run_id).exists()
    assert urlsplit(page.url).path == f"/runs/{run_id}/"
    expect(page.get_by_test_id("delete-run-error")).to_be_hidden()

    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page).to_have_url(RUNS_LIST)
    assert not Run.objects.filter(id=run_id).exists()
    expect(page.locator(f"tr[data-run-id='{run_id}']")).to_have_count(0)
    screenshot(page, "run-deleted")


def test_a_refused_deletion_shows_why_on_the_page(page):
    parent_id = launch_from_launchpad(page, "flaky_fanout", (
        "ops:\n  emit_keys:\n    config:\n      n: 1\n  flaky_work:\n    config:\n      fail_keys: [k0]\n"
        "      sleep_ms: 3000\n"))
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    child = reexecute(parent_id, "FROM_FAILURE")  # reruns k0, which sleeps 3 s: the family has a run going

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-run").click()
    error = page.get_by_test_id("delete-run-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"runs of its family are going and may read its outputs: {child.id}")
    assert urlsplit(page.url).path == f"/runs/{parent_id}/"
    assert Run.objects.filter(id=parent_id).exists()
    expect(page.get_by_test_id("delete-run")).to_be_enabled()
    screenshot(page, "run-delete-refused")
