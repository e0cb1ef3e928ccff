"""The failed step's drawer shows what the op logged before it raised (issue 14, item 10).

The reported "No logs." came from ``flaky_fanout``'s failing keys, whose op raises before its only
``context.log.info`` line: those steps really logged nothing. An op that logs and then raises has its
lines in the drawer, whether the drawer is opened after the run or while the step still runs, in the
in-process and the multiprocess executors, and with every attempt's lines when the step is retried.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import ui_server_for
from tests.ui.conftest import checked_page, screenshot
from tests.ui.test_run_page import launch_from_launchpad

pytestmark = pytest.mark.django_db(transaction=True)

JOB = "logs_then_fails"


log_server = ui_server_for("tests.ui.step_log_jobs")


@pytest.fixture
def page(request, log_server, browser, transactional_db):
    with checked_page(request, browser, log_server.url, log_server.log) as page:
        yield page


def config(sleep_ms: int = 0) -> str:
    return f"ops:\n  log_then_fail:\n    config:\n      sleep_ms: {sleep_ms}\n"


def log_lines(drawer) -> list[str]:
    return drawer.locator("[data-testid=step-logs] li.log .message").all_inner_texts()


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_failed_steps_drawer_shows_the_lines_it_logged_before_raising(page, executor):
    run_id = launch_from_launchpad(page, JOB, config(), executor)
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    page.goto(f"/runs/{run_id}/?step=log_then_fail[b]")
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer.get_by_test_id("step-status")).to_have_text("FAILURE")
    expect(drawer.get_by_test_id("step-error")).to_contain_text("part b is broken")
    expect(drawer.locator("[data-testid=step-logs] li.log")).to_have_count(3)
    assert log_lines(drawer) == ["starting part b", "part b looks wrong", "giving up on part b"]
    expect(drawer.get_by_test_id("step-logs")).not_to_contain_text("No logs")
    expect(drawer.locator("[data-testid=step-logs] li.level-WARNING")).to_have_count(1)
    screenshot(page, f"drawer-logs-before-failure-{executor}")

    # a retried step: the lines of every attempt, in order
    page.goto(f"/runs/{run_id}/?step=log_then_fail_twice[a]")
    expect(drawer.get_by_test_id("step-status")).to_have_text("FAILURE")
    expect(drawer.locator("[data-testid=step-logs] li.log")).to_have_count(2)
    assert log_lines(drawer) == ["attempt 1 of part a", "attempt 2 of part a"]


def test_a_drawer_opened_while_the_step_runs_keeps_every_line_through_its_failure(page):
    launch_from_launchpad(page, JOB, config(sleep_ms=2500))
    row = page.locator("[data-testid=key-row][data-step-key='log_then_fail[a]'][data-status=RUNNING]")
    page.get_by_test_id("node-log_then_fail").locator(".node-name").click()
    row.click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer.get_by_test_id("step-logs")).to_contain_text("part a looks wrong")  # logged before the drawer opened
    expect(drawer.get_by_test_id("step-status")).to_have_text("FAILURE")
    expect(drawer.get_by_test_id("step-logs")).to_contain_text("giving up on part a")  # logged while it was open
    assert log_lines(drawer) == ["starting part a", "part a looks wrong", "giving up on part a"]
    expect(drawer.get_by_test_id("step-error")).to_contain_text("part a is broken")
