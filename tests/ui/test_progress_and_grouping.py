"""The run page tells the truth about progress (an open total while an emitter yields; reused and
skipped ops in their own colours) and groups the keys of a nested fan-out by outer key."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import launch, post_graphql, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

REUSED_RGB = "rgb(139, 111, 214)"    # STATUS_COLOR.REUSED in status.js
SKIPPED_RGB = "rgb(167, 139, 91)"    # STATUS_COLOR.SKIPPED
SUCCESS_RGB = "rgb(46, 158, 91)"     # STATUS_COLOR.SUCCESS




def visible_segments(locator) -> list[tuple[str, str]]:
    """(status, colour) of the bar segments drawn in ``locator``."""
    return [tuple(pair) for pair in locator.locator(".bar-segment:not([hidden])").evaluate_all(
        "segments => segments.map(s => [s.dataset.status, getComputedStyle(s).backgroundColor])")]


def test_the_progress_bar_keeps_the_total_open_while_the_emitter_yields(page, ui_server):
    run_id = launch(ui_server, "streaming_fanout", {"ops": {"slow_emitter": {"config": {"n": 5, "interval_ms": 900}},
                                                            "work": {"config": {"work_ms": 50}}}})
    page.goto(f"/runs/{run_id}/")
    progress = page.get_by_test_id("progress")
    work = page.get_by_test_id("node-work")
    # a moment where every key yielded so far is done while the emitter still runs: not a full bar
    expect(work).to_have_attribute("data-succeeded", re.compile(r"^[1-3]$"))
    expect(progress).to_have_attribute("data-total-known", "false")
    expect(progress.locator(".progress-text")).to_contain_text(re.compile(r"^\d+ of ≥\d+ steps done, emitter running"))
    assert progress.get_attribute("aria-busy") == "true"  # its values are the steps known so far
    expect(progress).to_have_attribute("aria-valuetext", re.compile(r"of ≥\d+ steps done, emitter running"))
    expect(progress.locator("[data-role=unknown-total]")).to_be_visible()
    widths = progress.evaluate("""p => ({ fill: p.querySelector('.progress-fill').getBoundingClientRect().width,
                                          track: p.querySelector('.progress-track').getBoundingClientRect().width })""")
    assert widths["fill"] <= 0.81 * widths["track"], widths
    expect(work).to_have_attribute("data-total-known", "false")
    expect(work.locator(".count-total")).to_have_text(re.compile(r"^≥\d+ steps?$"))
    screenshot(page, "progress-emitter-running")

    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS", timeout=40_000)
    expect(progress).to_have_attribute("data-total-known", "true")
    expect(progress.locator(".progress-text")).to_have_text("7 / 7 steps done")
    expect(progress).to_have_attribute("aria-valuenow", "7")
    expect(progress).to_have_attribute("aria-valuemax", "7")
    expect(progress.locator("[data-role=unknown-total]")).to_be_hidden()
    expect(work.locator(".count-total")).to_have_text("5 steps")
    assert visible_segments(progress) == [("SUCCESS", SUCCESS_RGB)]


def test_reused_and_skipped_ops_are_drawn_in_their_own_colours(page, ui_server):
    parent_id = launch(ui_server, "flaky_fanout", {"ops": {"emit_keys": {"config": {"n": 4}},
                                                           "flaky_work": {"config": {"fail_keys": ["k1"], "sleep_ms": 0}}}})
    page.goto(f"/runs/{parent_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    collect = page.get_by_test_id("node-total")
    expect(collect).to_have_attribute("data-skipped", "1")
    expect(collect).to_have_attribute("data-state", "skipped")
    assert visible_segments(collect) == [("SKIPPED", SKIPPED_RGB)]
    page.wait_for_function("window.dagviz.graph !== null")
    assert page.evaluate("window.dagviz.graph.cy.getElementById('total').hasClass('state-skipped')")

    data = post_graphql(ui_server, """mutation($id: ID!) { reexecuteRun(parentRunId: $id, strategy: FROM_FAILURE) {
      __typename ... on LaunchRunSuccess { run { id } } } }""", {"id": parent_id})
    child_id = data["reexecuteRun"]["run"]["id"]
    page.goto(f"/runs/{child_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    emitter = page.get_by_test_id("node-emit_keys")
    expect(emitter).to_have_attribute("data-reused", "1")
    expect(emitter).to_have_attribute("data-state", "reused")
    assert visible_segments(emitter) == [("REUSED", REUSED_RGB)]
    mapped = page.get_by_test_id("node-flaky_work")
    expect(mapped).to_have_attribute("data-reused", "3")
    assert visible_segments(mapped) == [("SUCCESS", SUCCESS_RGB), ("REUSED", REUSED_RGB)]
    assert [status for status, _ in visible_segments(page.get_by_test_id("progress"))] == ["SUCCESS", "REUSED"]
    page.wait_for_function("window.dagviz.graph !== null")
    assert page.evaluate("window.dagviz.graph.cy.getElementById('emit_keys').hasClass('state-reused')")
    screenshot(page, "progress-reused")


def test_nested_fanout_keys_are_grouped_by_outer_key_in_the_table_and_the_grid(page, ui_server):
    run_id = launch(ui_server, "nested_fanout", {"ops": {"regions": {"config": {"regions": ["eu", "us", "apac"],
                                                                                 "customers_per_region": 4}}}})
    page.goto(f"/runs/{run_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    page.get_by_test_id("node-score").locator(".node-name").click()
    groups = page.get_by_test_id("key-group")
    rows = page.get_by_test_id("key-row")
    expect(groups).to_have_count(3)
    assert groups.evaluate_all("gs => gs.map(g => [g.dataset.outerKey, g.dataset.count, g.getAttribute('aria-expanded')])") == [
        ["eu", "4", "false"], ["us", "4", "false"], ["apac", "4", "false"]]
    expect(groups.first).to_contain_text("eu — 4 keys: 4 ✓")
    expect(rows).to_have_count(0)  # collapsed by default

    eu = page.locator("[data-testid=key-group][data-outer-key=eu]")
    eu.click()
    expect(eu).to_have_attribute("aria-expanded", "true")
    expect(rows).to_have_count(4)
    assert rows.evaluate_all("rows => rows.map(r => [r.dataset.stepKey, r.dataset.status])") == [
        [f"score[eu][c{index}]", "SUCCESS"] for index in range(4)]
    expect(rows.first.locator("[role=gridcell]").nth(3)).to_have_text("1")  # attempts, read for the group

    us = page.locator("[data-testid=key-group][data-outer-key=us]")
    us.focus()
    page.keyboard.press("Enter")
    expect(us).to_have_attribute("aria-expanded", "true")
    expect(rows).to_have_count(8)
    page.keyboard.press("Enter")
    expect(us).to_have_attribute("aria-expanded", "false")
    expect(rows).to_have_count(4)
    screenshot(page, "nested-groups")

    # the grid draws each outer key's cells as one block under its label, in the same order
    grid = page.get_by_test_id("status-grid")
    expect(grid).to_have_attribute("data-grouped", "true")
    expect(grid).to_have_attribute("data-groups", "3")
    tops = [float(value) for value in grid.get_attribute("data-group-tops").split(",")]
    assert len(tops) == 3 and tops[0] == 0 and tops[1] > tops[0] and tops[2] > tops[1], tops
    grid.click(position={"x": 3, "y": tops[1] + 16 + 3})  # the first cell of "us"
    expect(page.get_by_test_id("step-drawer")).to_have_attribute("data-step-key", "score[us][c0]")
    page.get_by_role("button", name="Close the step drawer").click()

    # a filter lists the matching keys themselves
    page.get_by_test_id("key-filter").fill("[c1]")
    expect(groups).to_have_count(0)
    expect(rows).to_have_count(3)
    page.get_by_test_id("key-filter").fill("")
    expect(groups).to_have_count(3)


def test_a_plain_fanout_is_not_grouped(page, ui_server):
    run_id = launch(ui_server, "big_fanout", {"ops": {"emit_many": {"config": {"n": 5}}}})
    page.goto(f"/runs/{run_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(page.get_by_test_id("key-row")).to_have_count(5)
    expect(page.get_by_test_id("key-group")).to_have_count(0)
    expect(page.get_by_test_id("status-grid")).to_have_attribute("data-grouped", "false")
