"""The run page and the run list for tolerant collects, and what a collect says while its keys still run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.models import Run
from tests.ui.conftest import screenshot
from tests.ui.test_run_page import launch_from_launchpad

pytestmark = pytest.mark.django_db(transaction=True)


def uploads(files: int, work_ms: int) -> str:
    return (f"ops:\n  list_uploads:\n    config:\n      files: {files}\n"
            f"  import_upload:\n    config:\n      work_ms: {work_ms}\n")


def test_a_plain_collect_says_it_will_be_skipped_only_once_a_key_failed_and_waits_for_the_rest(page):
    launch_from_launchpad(page, "import_uploads", uploads(files=24, work_ms=250))
    collect = page.get_by_test_id("node-report_imports")
    outlook = collect.get_by_test_id("collect-outlook")
    # upload_003 fails about 0.75 s in; 21 more keys take about 5 s.
    expect(outlook).to_have_text(re.compile(r"will be skipped: \d+ keys? of import_upload failed"))
    expect(collect).to_have_attribute("data-skipped", "0")  # not skipped while keys still run
    assert page.get_by_test_id("run-status").text_content() == "STARTED"
    assert int(page.get_by_test_id("node-import_upload").get_attribute("data-succeeded")) < 20  # of 20 to come
    screenshot(page, "collect-will-be-skipped")
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    expect(collect).to_have_attribute("data-skipped", "1")
    expect(outlook).to_have_count(0)


def test_a_tolerant_run_waits_then_succeeds_with_a_tolerated_failures_badge_on_its_page_and_in_the_list(page):
    run_id = launch_from_launchpad(page, "tolerant_import", uploads(files=20, work_ms=150))
    outlook = page.get_by_test_id("node-report_imports").get_by_test_id("collect-outlook")
    expect(outlook).to_have_text(re.compile(r"waits for every key, then runs if ≥75% succeeded"))
    expect(outlook).to_have_attribute("data-outlook", "waits")
    badge = page.get_by_test_id("tolerated-failures")
    expect(badge).to_be_hidden()

    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("⚠ 4 tolerated failures")  # uploads 3, 7, 13 and 15
    expect(page.get_by_test_id("node-import_upload")).to_have_attribute("data-failed", "4")
    expect(page.get_by_test_id("node-report_imports")).to_have_attribute("data-succeeded", "1")
    assert Run.objects.get(id=run_id).tolerated_failures == 4
    screenshot(page, "run-tolerated")

    page.reload()  # rendered by the server too
    expect(page.get_by_test_id("tolerated-failures")).to_have_text("⚠ 4 tolerated failures")

    page.goto("/runs/")
    row = page.locator(f"tr[data-run-id='{run_id}']")
    expect(row.get_by_test_id("tolerated-failures")).to_have_text("⚠ 4 tolerated")
    expect(row.get_by_test_id("tolerated-failures")).to_have_attribute("data-count", "4")
