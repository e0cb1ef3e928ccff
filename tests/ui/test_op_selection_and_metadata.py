"""Launching an op selection from the launchpad, and step metadata in the run page's drawer, in Chromium.

The job is ``reported_fanout`` (tests.graphql.jobs): emit_reported -> measure[north, south] ->
summarize, and label_units apart, whose config is required. The server here serves that module
besides the examples.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.models import Run
from tests import servers
from tests.graphql.jobs import MARKUP
from tests.ui.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

RUN_URL = re.compile(r"/runs/([0-9a-f-]{36})/")
FAILING_SUMMARY = "ops:\n  summarize:\n    config:\n      fail: true\n"


class JobsServer(servers.DaphneServer):
    """The UI server with the GraphQL tests' jobs in its workspace."""

    def __init__(self) -> None:
        environment = servers.server_environment("dagviz.examples,tests.graphql.jobs")
        for name in ("DAGVIZ_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            environment.pop(name, None)
        super().__init__(environment, "ui-jobs-daphne")
        self.url = self.base


@pytest.fixture(scope="module")
def ui_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = JobsServer()
    yield server
    server.stop()


def open_step(page, node: str, key: str):
    """Select ``node`` in the op list and open ``key`` from the key table; the drawer."""
    page.get_by_test_id(f"node-{node}").get_by_role("button", name=re.compile(rf"^{re.escape(node)}")).click()
    page.locator(f"[data-testid=key-row][data-step-key='{key}']").click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer).to_have_attribute("data-step-key", key)
    return drawer


def test_an_op_selection_launches_from_the_launchpad_and_the_drawer_shows_metadata_as_text(page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/jobs/reported_fanout/launch")
    selection = page.get_by_test_id("op-selection")
    errors = page.get_by_test_id("config-errors")
    page.get_by_test_id("config-editor").fill(FAILING_SUMMARY)
    expect(errors).to_contain_text("label_units")  # the whole job needs label_units' config

    selection.fill("*summarize, no_such_op")
    expect(errors).to_contain_text("op selection")
    expect(errors).to_contain_text("no_such_op")
    expect(selection).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("launch-button")).to_be_disabled()
    # a click the page lets through anyway (a stale state): the server refuses too, and says why
    page.get_by_test_id("launch-button").evaluate("button => { button.disabled = false; button.click(); }")
    expect(errors).to_contain_text("Not launched: invalid op selection")
    assert Run.objects.count() == 0

    selection.fill("*summarize")
    expect(errors).to_be_hidden()
    expect(page.get_by_test_id("config-validity")).to_have_text("✓ Valid run config")
    expect(selection).to_have_attribute("aria-invalid", "false")
    screenshot(page, "op-selection")
    page.get_by_test_id("launch-button").click()
    expect(page).to_have_url(RUN_URL)
    run = Run.objects.get(id=RUN_URL.search(page.url).group(1))
    assert run.op_selection == ["*summarize"]

    expect(page.get_by_test_id("run-status")).to_have_text("FAILURE")
    expect(page.get_by_test_id("run-op-selection")).to_have_text("*summarize")
    expect(page.get_by_test_id("node-label_units")).to_have_count(0)  # not part of this run
    expect(page.get_by_test_id("node-measure")).to_have_attribute("data-succeeded", "2")

    drawer = open_step(page, "summarize", "summarize")
    section = drawer.get_by_test_id("step-metadata")
    entries = section.get_by_test_id("metadata-entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("threshold")
    expect(entries.nth(0)).to_contain_text("3")
    expect(entries.nth(1)).to_contain_text(MARKUP)  # shown as the text it is
    expect(section).to_contain_text("failure")
    expect(section.locator("img")).to_have_count(0)
    screenshot(page, "run-step-metadata-failure")

    drawer = open_step(page, "measure", "measure[south]")
    entries = drawer.get_by_test_id("step-metadata").get_by_test_id("metadata-entry")
    expect(entries).to_have_count(2)
    assert entries.evaluate_all("rows => rows.map(r => [r.dataset.label, r.querySelector('td').textContent])") == [
        ["scaled", "10"], ["note", MARKUP]]
    expect(drawer.locator("img")).to_have_count(0)
    assert dialogs == []
    screenshot(page, "run-step-metadata-output")
