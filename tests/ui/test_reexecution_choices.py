"""Re-execution choices on the run page, each previewed with the reason every step runs (issue 14, item 3),
and Terminate: asked for first, its interrupted steps shown CANCELED in the grid, table and counts (item 4)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.models import Run, Step
from tests.ui.conftest import screenshot
from tests.ui.test_run_page import RUN_URL, launch_from_launchpad

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = 230  # more keys than one reason group lists (200), to see "… and N more"


def flaky(n: int, fail_keys: list[str], sleep_ms: int = 1) -> str:
    return (f"ops:\n  emit_keys:\n    config:\n      n: {n}\n"
            f"  flaky_work:\n    config:\n      fail_keys: [{', '.join(fail_keys)}]\n      sleep_ms: {sleep_ms}\n")


def groups(preview) -> dict[str, int]:
    """The preview's reason groups: reason -> the count it shows."""
    expect(preview.get_by_test_id("reexecute-summary")).to_be_visible()
    return {group.get_attribute("data-reason"): int(group.get_attribute("data-count"))
            for group in preview.get_by_test_id("reexecute-reason").all()}


def keys_of(preview, reason: str) -> list[str]:
    return preview.locator(f"[data-testid=reexecute-reason][data-reason='{reason}'] li[data-step-key]").evaluate_all(
        "items => items.map(item => item.dataset.stepKey)")


def select_key(page, key: str) -> None:
    page.locator(f"[data-testid=key-row][data-step-key='{key}'] input[type=checkbox]").check()


def child_statuses(run_id: str) -> dict[str, str]:
    return dict(Step.objects.filter(run_id=run_id).values_list("key", "status"))


def test_each_choice_previews_why_every_step_runs_and_launches_exactly_those_steps(page):
    parent_id = launch_from_launchpad(page, "flaky_fanout", flaky(KEYS, ["k3"]))
    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    preview = page.get_by_test_id("reexecute-preview")
    selected, from_selected = page.get_by_test_id("reexecute-selected"), page.get_by_test_id("reexecute-from-selected")
    expect(selected).to_be_disabled()
    expect(from_selected).to_be_disabled()  # both need a selection

    # FROM_FAILURE: the failed key, and the collect that was skipped because of it
    page.get_by_test_id("reexecute-failed").click()
    assert groups(preview) == {"failed in parent": 1, "skipped in parent": 1}
    assert keys_of(preview, "failed in parent") == ["flaky_work[k3]"]
    assert keys_of(preview, "skipped in parent") == ["total"]
    expect(preview.get_by_test_id("reexecute-reused")).to_contain_text("flaky_work[k0]")
    preview.get_by_role("button", name="Cancel").click()

    # ALL: every step, one group, listed up to 200 and counted beyond
    page.get_by_test_id("reexecute-all").click()
    assert groups(preview) == {"all": KEYS + 2}
    all_group = preview.locator("[data-testid=reexecute-reason][data-reason=all]")
    expect(all_group.locator("li[data-step-key]")).to_have_count(200)
    expect(all_group).to_contain_text(f"… and {KEYS + 2 - 200} more")
    preview.get_by_role("button", name="Cancel").click()

    # FROM_SELECTED: the selected key and what is downstream of it; the key that failed elsewhere is left out
    select_key(page, "flaky_work[k1]")
    expect(from_selected).to_be_enabled()
    expect(from_selected).to_contain_text("(1)")
    from_selected.click()
    expect(preview.locator("h2")).to_have_text("Re-execute from selected keys")
    assert groups(preview) == {"selected": 1, "downstream of selected": 1}
    assert keys_of(preview, "selected") == ["flaky_work[k1]"]
    assert keys_of(preview, "downstream of selected") == ["total"]
    screenshot(page, "reexecute-from-selected-preview")
    page.get_by_test_id("reexecute-confirm").click()
    expect(page).not_to_have_url(re.compile(parent_id))
    child_id = RUN_URL.search(page.url).group(1)
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    child = Run.objects.get(id=child_id)
    assert child.step_selection == {"strategy": "FROM_SELECTED", "step_keys": ["flaky_work[k1]"]}
    statuses = child_statuses(child_id)
    assert {key for key, status in statuses.items() if status == "SUCCESS"} == {"flaky_work[k1]", "total"}
    assert statuses["flaky_work[k3]"] == "SKIPPED"  # not selected, nothing to reuse: left out, as in Dagster
    assert {status for key, status in statuses.items() if key not in ("flaky_work[k1]", "flaky_work[k3]", "total")} \
        == {"REUSED"}

    # SELECTED on the (successful) child: exactly the selected key; the collect keeps the child's output
    expect(page.get_by_test_id("node-flaky_work")).to_have_attribute("data-reused", str(KEYS - 2))
    select_key(page, "flaky_work[k2]")
    selected.click()
    expect(preview.locator("h2")).to_have_text("Re-execute selected keys")
    assert groups(preview) == {"selected": 1}
    assert keys_of(preview, "selected") == ["flaky_work[k2]"]
    expect(preview.get_by_test_id("reexecute-reused")).to_contain_text("total")
    page.get_by_test_id("reexecute-confirm").click()
    expect(page).not_to_have_url(re.compile(child_id))
    grandchild_id = RUN_URL.search(page.url).group(1)
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    assert Run.objects.get(id=grandchild_id).step_selection == {"strategy": "SELECTED", "step_keys": ["flaky_work[k2]"]}
    statuses = child_statuses(grandchild_id)
    assert {key: status for key, status in statuses.items() if status != "REUSED"} == {
        "flaky_work[k2]": "SUCCESS", "flaky_work[k3]": "SKIPPED"}
    assert statuses["total"] == "REUSED"


def test_terminate_asks_first_and_the_interrupted_step_shows_canceled_everywhere(page):
    run_id = launch_from_launchpad(page, "flaky_fanout", flaky(6, [], sleep_ms=4000))
    expect(page.get_by_test_id("run-status")).to_have_text("STARTED")
    node = page.get_by_test_id("node-flaky_work")
    expect(node).to_have_attribute("data-running", "1")
    dialog = page.get_by_test_id("terminate-confirm-dialog")
    expect(dialog).to_be_hidden()

    # Keep running: nothing is terminated
    page.get_by_test_id("terminate-button").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("CANCELED")
    screenshot(page, "terminate-confirm")
    dialog.get_by_test_id("terminate-cancel").click()
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(500)
    assert Run.objects.get(id=run_id).status == "STARTED"
    expect(page.get_by_test_id("run-status")).to_have_text("STARTED")

    # Terminate, confirmed: what was running (the emitter, suspended while its first key runs in process, and
    # that key) ends CANCELED, not FAILURE
    page.get_by_test_id("terminate-button").click()
    dialog.get_by_test_id("terminate-confirm").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("run-status")).to_have_text("CANCELED")
    statuses = child_statuses(run_id)
    canceled = sorted(key for key, status in statuses.items() if status == "CANCELED")
    assert canceled == ["emit_keys", "flaky_work[k0]"], statuses
    assert "FAILURE" not in statuses.values()

    reason = page.get_by_test_id("failure-reason")
    expect(reason).to_contain_text("■ Canceled: terminated")
    expect(reason).not_to_contain_text("fail")
    expect(page.get_by_test_id("progress")).to_contain_text("■ 2 canceled")
    expect(page.get_by_test_id("progress")).not_to_contain_text("failed")
    # counts: the node list, its count button, and the grid's legend
    expect(node).to_have_attribute("data-canceled", "1")
    expect(node).to_have_attribute("data-state", "canceled")
    expect(node.locator("[data-count-status=CANCELED]")).to_have_text("1 canceled")
    expect(page.locator("[data-role=grid-legend]")).to_contain_text("■ canceled 1")
    # the grid draws the canceled key in CANCELED's colour (#e39a26), not FAILURE's
    grid = page.get_by_test_id("status-grid")
    expect(grid).to_be_visible()
    page.wait_for_function("""() => {
      const canvas = document.querySelector("[data-testid=status-grid]");
      const [r, g, b] = canvas.getContext("2d").getImageData(1, 1, 1, 1).data;
      return r === 227 && g === 154 && b === 38;
    }""")
    # the key table's status filter
    page.get_by_test_id("key-filter-status").select_option("CANCELED")
    rows = page.get_by_test_id("key-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-step-key", "flaky_work[k0]")
    expect(rows.first).to_have_attribute("data-status", "CANCELED")
    expect(rows.first).to_contain_text("CANCELED")
    screenshot(page, "run-canceled-counts")
