"""The live run page: counts growing as keys are yielded, failed keys and their errors,
re-executing them, streaming and nested fan-outs, terminating a run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.models import Run
from tests.ui.conftest import screenshot
from tests.ui.live_recorder import record_live_counts, snapshots

pytestmark = pytest.mark.django_db(transaction=True)

RUN_URL = re.compile(r"/runs/([0-9a-f-]{36})/")


def launch_from_launchpad(page, job: str, yaml_text: str, executor: str = "") -> str:
    """Launch ``job`` with ``yaml_text`` from its launchpad; the run page's id."""
    page.goto(f"/jobs/{job}/launch")
    page.get_by_test_id("config-editor").fill(yaml_text)
    if executor:
        page.get_by_test_id("executor-select").select_option(executor)
    expect(page.get_by_test_id("config-errors")).to_be_hidden()
    page.get_by_test_id("launch-button").click()
    expect(page).to_have_url(RUN_URL)
    return RUN_URL.search(page.url).group(1)


def test_flaky_fanout_counts_grow_live_then_failed_keys_rerun_and_the_rest_are_reused(page):
    record_live_counts(page)
    parent_id = launch_from_launchpad(page, "flaky_fanout", (
        "ops:\n  emit_keys:\n    config:\n      n: 12\n"
        "  flaky_work:\n    config:\n      fail_keys: [k3, k7]\n      sleep_ms: 250\n"))
    node = page.get_by_test_id("node-flaky_work")
    expect(page.get_by_test_id("run-status")).to_have_text("STARTED")
    expect(node).to_have_attribute("data-succeeded", re.compile(r"^[1-9]$"))  # some, not all yet
    screenshot(page, "run-flaky-live")
    # a running key's drawer: its log line arrives live, and its status moves on
    page.locator("[data-testid=key-row][data-status=RUNNING]"
                 ":not([data-step-key='flaky_work[k3]']):not([data-step-key='flaky_work[k7]'])").first.click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer.get_by_test_id("step-logs")).to_contain_text(re.compile(r"key k\d+ done"))
    expect(drawer.get_by_test_id("step-status")).to_have_text("SUCCESS")
    drawer.get_by_role("button", name="Close the step drawer").click()
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    expect(node).to_have_attribute("data-total", "12")
    expect(node).to_have_attribute("data-succeeded", "10")
    expect(node).to_have_attribute("data-failed", "2")

    # the counts were seen growing while the run was going, not only at its end
    seen = [snap["nodes"]["flaky_work"]["succeeded"] for snap in snapshots(page)
            if snap["status"] == "STARTED" and "flaky_work" in snap["nodes"]]
    assert len(set(seen)) >= 3, seen
    assert seen == sorted(seen), seen

    # the failed keys with their errors
    page.get_by_test_id("key-filter").fill("status:failed")
    rows = page.get_by_test_id("key-row")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("rows => rows.map(r => [r.dataset.stepKey, r.dataset.status])") == [
        ["flaky_work[k3]", "FAILURE"], ["flaky_work[k7]", "FAILURE"]]
    expect(rows.first).to_contain_text("key k3 failed on purpose")
    rows.first.click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer.get_by_test_id("step-error")).to_contain_text("key k3 failed on purpose")
    expect(drawer.get_by_test_id("step-error")).to_contain_text("Traceback")
    expect(drawer.get_by_test_id("step-logs")).to_be_visible()
    screenshot(page, "run-flaky-failed-step")
    drawer.get_by_role("button", name="Close the step drawer").click()

    # keys selected in the table (a checkbox, a Ctrl-click) preview as a SELECTED re-execution
    page.get_by_test_id("key-filter").fill("")
    page.locator("[data-testid=key-row][data-step-key='flaky_work[k1]'] input[type=checkbox]").check()
    page.locator("[data-testid=key-row][data-step-key='flaky_work[k3]']").click(modifiers=["Control"])
    expect(page.get_by_test_id("reexecute-selected")).to_contain_text("(2)")
    page.get_by_test_id("reexecute-selected").click()
    preview = page.get_by_test_id("reexecute-preview")
    planned = preview.get_by_test_id("reexecute-to-execute").locator("li")
    expect(planned).to_have_count(2)  # exactly the selection, as in Dagster: the collect is not selected
    keys = planned.evaluate_all("items => items.map(i => i.dataset.stepKey)")
    assert set(keys) == {"flaky_work[k1]", "flaky_work[k3]"}, keys
    preview.get_by_role("button", name="Cancel").click()
    expect(preview).to_be_hidden()

    # re-execute the failed keys: the preview lists exactly them and the collect
    page.get_by_test_id("reexecute-failed").click()
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("3 steps will run")
    planned = preview.get_by_test_id("reexecute-to-execute").locator("li")
    expect(planned).to_have_count(3)
    assert sorted(planned.evaluate_all("items => items.map(i => i.dataset.stepKey)")) == [
        "flaky_work[k3]", "flaky_work[k7]", "total"]
    screenshot(page, "reexecute-preview")
    page.get_by_test_id("reexecute-confirm").click()

    expect(page).not_to_have_url(re.compile(parent_id))
    child_id = RUN_URL.search(page.url).group(1)
    expect(page.get_by_test_id("parent-run-link")).to_have_attribute("href", f"/runs/{parent_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    node = page.get_by_test_id("node-flaky_work")
    expect(node).to_have_attribute("data-succeeded", "2")
    expect(node).to_have_attribute("data-reused", "10")
    expect(page.get_by_test_id("node-total")).to_have_attribute("data-succeeded", "1")
    reused = page.locator("[data-testid=key-row][data-status=REUSED]")
    expect(reused.first).to_be_visible()
    expect(page.locator("[data-testid=key-row][data-step-key='flaky_work[k3]']")).to_have_attribute("data-status", "SUCCESS")
    screenshot(page, "run-reexecuted")
    assert Run.objects.get(id=child_id).parent_run_id is not None

    # the parent now links its re-execution
    page.get_by_test_id("parent-run-link").click()
    expect(page.get_by_test_id("child-run-link")).to_have_attribute("href", f"/runs/{child_id}/")


def test_streaming_fanout_keys_appear_and_start_before_the_emitter_finishes(page):
    record_live_counts(page)
    launch_from_launchpad(page, "streaming_fanout", (
        "ops:\n  slow_emitter:\n    config:\n      n: 6\n      interval_ms: 500\n"
        "  work:\n    config:\n      work_ms: 200\n"))
    # the websocket drops mid-run: the page reconnects and catches up with what it missed
    expect(page.get_by_test_id("node-work")).not_to_have_attribute("data-total", "0")
    page.evaluate("() => { window.dagvizLive.terminate(); }")
    expect(page.get_by_test_id("live-indicator")).to_have_text("● live")
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS", timeout=40_000)
    expect(page.get_by_test_id("node-work")).to_have_attribute("data-succeeded", "6")
    expect(page.get_by_test_id("key-row")).to_have_count(6)
    early = [snap for snap in snapshots(page)
             if snap["nodes"].get("slow_emitter", {}).get("running") == 1
             and snap["nodes"].get("work", {}).get("total", 0) >= 1
             and snap["nodes"]["work"]["running"] + snap["nodes"]["work"]["succeeded"] >= 1
             and snap["nodes"]["work"]["total"] < 6 and snap["rows"] >= 1]
    assert early, snapshots(page)[-5:]
    screenshot(page, "run-streaming")


def test_nested_fanout_keys_are_shown_and_navigable(page):
    launch_from_launchpad(page, "nested_fanout", (
        "ops:\n  regions:\n    config:\n      regions: [eu, us, apac]\n      customers_per_region: 4\n"))
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(page.get_by_test_id("node-score")).to_have_attribute("data-total", "12")
    expect(page.get_by_test_id("node-customers")).to_have_attribute("data-total", "3")
    expect(page.get_by_test_id("node-region_total")).to_have_attribute("data-total", "3")

    page.get_by_test_id("node-score").locator(".node-name").click()
    rows = page.get_by_test_id("key-row")
    groups = page.get_by_test_id("key-group")  # one per region, collapsed at first (issue 14, item 9)
    expect(groups).to_have_count(3)
    for index in range(3):
        groups.nth(index).click()
    expect(rows).to_have_count(12)
    expect(page.locator("[data-testid=key-row][data-step-key='score[apac][c3]']")).to_be_visible()
    page.locator("[data-testid=key-row][data-step-key='score[us][c1]']").click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer.get_by_test_id("step-mapping-keys")).to_have_text("us › c1")

    # up to the step that yielded the key, then down to every key under it
    drawer.get_by_test_id("step-link").filter(has_text="customers[us]").click()
    expect(drawer).to_have_attribute("data-step-key", "customers[us]")
    drawer.get_by_test_id("step-link").filter(has_text="score[us][").click()
    expect(rows).to_have_count(4)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.stepKey)") == [
        f"score[us][c{index}]" for index in range(4)]
    screenshot(page, "run-nested")


def test_terminate_a_running_run_from_its_page(page):
    launch_from_launchpad(page, "streaming_fanout", (
        "ops:\n  slow_emitter:\n    config:\n      n: 200\n      interval_ms: 200\n"))
    expect(page.get_by_test_id("run-status")).to_have_text("STARTED")
    expect(page.get_by_test_id("node-work")).not_to_have_attribute("data-total", "0")
    page.get_by_test_id("terminate-button").click()
    page.get_by_test_id("terminate-confirm").click()  # Terminate asks first (tests/ui/test_reexecution_choices.py)
    expect(page.get_by_test_id("run-status")).to_have_text("CANCELED")
    expect(page.get_by_test_id("terminate-button")).to_be_hidden()
    run = Run.objects.get()
    assert run.status == "CANCELED"
    screenshot(page, "run-terminated")


def test_runs_list_filters_by_status_and_job_and_updates_live(page):
    page.goto("/jobs/streaming_fanout/launch")
    page.get_by_test_id("config-editor").fill("ops:\n  slow_emitter:\n    config:\n      n: 3\n      interval_ms: 300\n")
    page.get_by_test_id("launch-button").click()
    expect(page).to_have_url(RUN_URL)
    run_id = RUN_URL.search(page.url).group(1)
    page.goto("/runs/")
    row = page.locator(f"tr[data-run-id='{run_id}']")
    expect(row).to_be_visible()
    expect(row.locator("[data-role=status]")).to_have_text("SUCCESS")  # live, without a reload
    screenshot(page, "runs-list")
    page.get_by_test_id("run-filter-job").select_option("flaky_fanout")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-run-id]")).to_have_count(0)
    page.goto("/runs/?status=SUCCESS&job=streaming_fanout")
    expect(page.locator("tr[data-run-id]")).to_have_count(1)
