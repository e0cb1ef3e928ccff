"""The run page's Failures panel: failed keys grouped by cause, live; a group shown in the key table and
selected (across ops when one cause failed keys of several); one group re-executed from its row.

``import_uploads`` (dagviz.examples) imports 60 files; 13 fail in a first run for three causes: a bad
date (ValueError, 6 files), an unreadable file (PermissionError, 4) and an unknown customer (KeyError, 3).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.models import Run
from tests.browser import ui_server_for
from tests.ui.conftest import checked_page, launch, screenshot
from tests.ui.test_run_page import RUN_URL, launch_from_launchpad

pytestmark = pytest.mark.django_db(transaction=True)

BAD_DATES = [f"import_upload[upload_{n:03d}]" for n in (3, 13, 23, 33, 43, 53)]
UNKNOWN_CUSTOMERS = [f"import_upload[upload_{n:03d}]" for n in (7, 27, 47)]


def test_failure_groups_show_live_filter_and_select_their_keys_and_reexecute_one_group(page):
    parent_id = launch_from_launchpad(page, "import_uploads", "ops:\n  import_upload:\n    config:\n      work_ms: 120\n")
    groups = page.get_by_test_id("failure-group")

    # Groups appear while the run is still going (the first bad date is upload 3 of 60).
    expect(groups.first).to_be_visible()
    assert page.get_by_test_id("run-status").inner_text() == "STARTED"
    screenshot(page, "failure-groups-live")

    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    expect(groups).to_have_count(3)
    # The panel is read once more after the end (live reads are throttled): then the counts are final.
    for index, count in enumerate(("6", "4", "3")):
        expect(groups.nth(index)).to_have_attribute("data-count", count)
    signatures = groups.evaluate_all("rows => rows.map(r => r.dataset.signature)")
    assert len(set(signatures)) == 3 and all(re.fullmatch(r"[0-9a-f]{1,64}", s) for s in signatures)
    expect(groups.nth(0)).to_contain_text("ValueError")
    expect(groups.nth(0)).to_contain_text("invalid date '<v>' in row <n>")
    expect(groups.nth(0)).to_contain_text("import_upload[upload_003]")
    expect(groups.nth(2)).to_contain_text("KeyError")
    expect(page.get_by_test_id("failure-groups")).to_contain_text("13 failed keys in 3 groups")

    # A click shows exactly the group's keys in the table and selects them all.
    groups.nth(0).click()
    rows = page.get_by_test_id("key-row")
    expect(rows).to_have_count(len(BAD_DATES))
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.stepKey)") == BAD_DATES
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"FAILURE"}
    expect(page.get_by_test_id("reexecute-selected")).to_contain_text(f"({len(BAD_DATES)})")
    expect(rows.and_(page.locator("[aria-selected=true]"))).to_have_count(len(BAD_DATES))
    expect(groups.nth(0)).to_have_attribute("aria-pressed", "true")
    screenshot(page, "failure-group-shown")

    expect(page.get_by_test_id("key-filter-status")).to_have_value("FAILURE")

    # A second click shows every key again, with nothing selected.
    groups.nth(0).click()
    expect(page.get_by_test_id("key-table")).to_have_attribute("data-total", "60")
    expect(page.get_by_test_id("reexecute-selected")).to_contain_text("(0)")
    expect(groups.nth(0)).to_have_attribute("aria-pressed", "false")

    # "Re-execute this group": the preview of the group's keys (and downstream), then a launch.
    groups.nth(2).get_by_test_id("reexecute-group").click()
    preview = page.get_by_test_id("reexecute-preview")
    expect(preview).to_be_visible()
    planned = preview.get_by_test_id("reexecute-to-execute").locator("li[data-step-key]")
    expect(planned.filter(has_text="report_imports")).to_have_count(1)
    keys = planned.evaluate_all("items => items.map(i => i.dataset.stepKey)")
    assert set(UNKNOWN_CUSTOMERS) <= set(keys), keys
    assert not set(keys) & {"import_upload[upload_001]", "list_uploads"}, keys  # succeeded steps are reused
    screenshot(page, "failure-group-reexecute-preview")
    preview.get_by_test_id("reexecute-confirm").click()

    expect(page).not_to_have_url(re.compile(parent_id))
    child_id = RUN_URL.search(page.url).group(1)
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(page.get_by_test_id("failure-groups")).to_be_hidden()
    child = Run.objects.get(id=child_id)
    assert str(child.parent_run_id) == parent_id
    assert child.step_selection == {"strategy": "FROM_SELECTED", "step_keys": UNKNOWN_CUSTOMERS}


failures_server = ui_server_for("tests.ui.failure_group_jobs")


@pytest.fixture
def billing_page(request, failures_server, browser, transactional_db):
    with checked_page(request, browser, failures_server.url, failures_server.log) as page:
        yield page


def test_a_group_whose_keys_belong_to_two_ops_shows_and_selects_the_keys_of_both(billing_page, failures_server):
    page = billing_page
    run_id = launch(failures_server, "bill_orders", {})
    page.goto(f"/runs/{run_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    groups = page.get_by_test_id("failure-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0)).to_have_attribute("data-count", "3")
    expect(groups.nth(0)).to_contain_text("KeyError")

    groups.nth(0).click()
    rows = page.get_by_test_id("key-row")
    unknown_customer = ["address_label[order_3]", "invoice[order_5]", "invoice[order_7]"]
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.stepKey)") == unknown_customer
    expect(page.get_by_test_id("key-table")).to_have_attribute("data-total", "3")
    expect(rows.and_(page.locator("[aria-selected=true]"))).to_have_count(3)
    expect(page.get_by_test_id("reexecute-selected")).to_contain_text("(3)")
    screenshot(page, "failure-group-two-ops")

    # The other group (one op): only its key; a second click gives back the selected op's keys.
    groups.nth(1).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-step-key", "invoice[order_8]")
    groups.nth(1).click()
    expect(page.get_by_test_id("key-table")).to_have_attribute("data-total", "8")
