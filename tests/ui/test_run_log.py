"""The run page's Run log: rows from the server, filters by kind, step and text, links to the step
drawer, a virtualised list that pages as it scrolls, and events appended live during a run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.event_rows import run_events
from tests.ui.conftest import screenshot
from tests.ui.test_run_page import launch_from_launchpad

pytestmark = pytest.mark.django_db(transaction=True)


def row_values(page, attribute: str) -> list[str]:
    return page.get_by_test_id("run-log-row").evaluate_all(f"rows => rows.map(r => r.dataset.{attribute} || '')")


def test_run_log_filters_by_kind_step_and_text_and_opens_a_step(page):
    run_id = launch_from_launchpad(page, "flaky_fanout", (
        "ops:\n  emit_keys:\n    config:\n      n: 5\n"
        "  flaky_work:\n    config:\n      fail_keys: [k3]\n      sleep_ms: 1\n"))
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    log = page.get_by_test_id("run-log")
    expect(log).to_have_attribute("data-loaded", "false")  # read only when it comes into view
    log.scroll_into_view_if_needed()
    rows = page.get_by_test_id("run-log-row")
    stored = len(run_events(run_id))
    expect(log).to_have_attribute("data-complete", "true")
    expect(rows).to_have_count(stored)  # a short log: every event is a row, in the order written
    assert row_values(page, "eventId") == [str(event["id"]) for event in run_events(run_id)]
    assert row_values(page, "kind")[0] == "RUN_STARTED"
    expect(log.locator("[data-role=count]")).to_have_text(f"{stored} events")

    page.get_by_test_id("run-log-kind").select_option("STEP_FAILURE")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-step-key", "flaky_work[k3]")
    expect(rows.first).to_have_attribute("data-level", "ERROR")
    expect(rows.first).to_contain_text("key k3 failed on purpose")
    screenshot(page, "run-log-kind-failure")

    page.get_by_test_id("run-log-kind").select_option("")
    page.get_by_test_id("run-log-step").fill("flaky_work[k2]")
    expect(log).to_have_attribute("data-filtered", "true")
    expect(rows.first).to_have_attribute("data-step-key", "flaky_work[k2]")
    kinds = [event["kind"] for event in run_events(run_id) if event["step_key"] == "flaky_work[k2]"]
    expect(rows).to_have_count(len(kinds))
    assert row_values(page, "kind") == list(kinds) and set(row_values(page, "stepKey")) == {"flaky_work[k2]"}

    page.get_by_test_id("run-log-step").fill("flaky_work[")  # a prefix: every key of the op
    expect(rows).to_have_count(sum((event["step_key"] or "").startswith("flaky_work[") for event in run_events(run_id)))

    page.get_by_test_id("run-log-step").fill("")
    page.get_by_test_id("run-log-text").fill("K1 DONE")  # case does not matter
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("key k1 done")
    expect(page.get_by_test_id("run-log-empty")).to_be_hidden()

    page.get_by_test_id("run-log-text").fill("no event says this")
    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("run-log-empty")).to_be_visible()
    expect(page.get_by_test_id("run-log-empty")).to_have_text("No event matches these filters.")

    # a row's step key opens that step in the drawer
    page.get_by_test_id("run-log-text").fill("failed on purpose")
    failure = page.locator("[data-testid=run-log-row][data-kind=STEP_FAILURE]")
    expect(failure).to_have_count(1)
    failure.get_by_test_id("run-log-step-link").click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer).to_be_visible()
    expect(drawer).to_have_attribute("data-step-key", "flaky_work[k3]")
    expect(drawer.get_by_test_id("step-error")).to_contain_text("key k3 failed on purpose")
    screenshot(page, "run-log-open-step")


def test_run_log_is_virtualised_and_loads_pages_as_it_scrolls(page):
    run_id = launch_from_launchpad(page, "big_fanout", "ops:\n  emit_many:\n    config:\n      n: 600\n")
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS", timeout=60_000)
    page.reload()  # the finished run from its first page
    log = page.get_by_test_id("run-log")
    log.scroll_into_view_if_needed()
    rows = page.get_by_test_id("run-log-row")
    expect(log).to_have_attribute("data-loaded", "true")
    stored = len(run_events(run_id))
    assert stored > 1500
    loaded = int(log.get_attribute("data-rows"))
    assert 200 <= loaded < stored  # pages, not the whole log
    assert rows.count() < 100  # only the rows in view (and a margin) are in the page
    viewport = log.locator("[data-role=viewport]")
    for _ in range(40):
        if log.get_attribute("data-complete") == "true":
            break
        viewport.evaluate("v => { v.scrollTop = v.scrollHeight; }")
        page.wait_for_timeout(150)
    expect(log).to_have_attribute("data-complete", "true")
    expect(log).to_have_attribute("data-rows", str(stored))
    assert rows.count() < 100
    expect(rows.last).to_have_attribute("data-kind", "RUN_FINISHED")
    expect(log.locator("[data-role=count]")).to_have_text(re.compile(rf"^{stored:,} events$"))


def test_run_log_appends_events_live_during_a_run(page):
    run_id = launch_from_launchpad(page, "streaming_fanout", (
        "ops:\n  slow_emitter:\n    config:\n      n: 14\n      interval_ms: 400\n"
        "  work:\n    config:\n      work_ms: 100\n"))
    log = page.get_by_test_id("run-log")
    viewport = log.locator("[data-role=viewport]")
    expect(page.get_by_test_id("run-status")).to_have_text("STARTED")
    log.scroll_into_view_if_needed()
    expect(log).to_have_attribute("data-loaded", "true")
    # while the emitter still yields, the log grows without a reload and follows its last row
    expect(page.locator("[data-testid=run-log-row][data-step-key='work[k4]']").first).to_be_attached()
    assert page.get_by_test_id("run-status").inner_text() == "STARTED"
    assert viewport.evaluate("v => v.scrollTop + v.clientHeight >= v.scrollHeight - 60")

    # scrolled up, the user keeps their place: new events are announced, and shown on request
    viewport.evaluate("v => { v.scrollTop = 0; }")
    hint = page.get_by_test_id("run-log-new-events")
    expect(hint).to_have_text(re.compile(r"^\d+ new events? ↓$"))
    assert viewport.evaluate("v => v.scrollTop") == 0
    assert page.get_by_test_id("run-status").inner_text() == "STARTED"
    hint.click()
    expect(hint).to_be_hidden()
    expect(page.locator("[data-testid=run-log-row][data-step-key='work[k13]']").first).to_be_attached()

    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(page.locator("[data-testid=run-log-row][data-kind=RUN_FINISHED]")).to_have_count(1)
    # every event once (rows are appended only above the last id), in order
    expect(log).to_have_attribute("data-rows", str(len(run_events(run_id))))
    ids = [int(value) for value in row_values(page, "eventId")]
    assert ids == sorted(set(ids))
    screenshot(page, "run-log-live")
