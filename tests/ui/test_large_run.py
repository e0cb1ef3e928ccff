"""The run page of a run with more steps than the page loads whole (DAGVIZ_UI_FULL_INDEX_MAX_STEPS, lowered
to 200 for a server of this module): the grid draws tiles whose counts hold every key and zooms to real
cells, the key table pages and filters through the server, the page never reads the full step index, and
a live run that grows past the limit keeps its counts moving."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests import servers
from tests.ui.conftest import checked_page, launch, post_graphql

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 200


@pytest.fixture(scope="module")
def large_server(django_db_setup, django_db_blocker):
    environment = servers.server_environment("dagviz.examples", DAGVIZ_UI_FULL_INDEX_MAX_STEPS=str(LIMIT))
    for name in ("DAGVIZ_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        environment.pop(name, None)
    with django_db_blocker.unblock():
        server = servers.DaphneServer(environment, "ui-large-daphne")
    yield server
    server.stop()


@pytest.fixture
def page(request, large_server, browser, transactional_db):
    """A fresh page on the large-run server (``checked_page``); its GraphQL requests and websocket frames are kept."""
    with checked_page(request, browser, large_server.base, large_server.log) as page:
        page.graphql = []
        page.on("request", lambda req: page.graphql.append(req.post_data or "") if req.url.endswith("/graphql") else None)
        page.frames_sent = []
        page.on("websocket", lambda socket: socket.on("framesent", lambda payload: page.frames_sent.append(str(payload))))
        yield page




def queries_named(page, name: str) -> list[dict]:
    found = []
    for body in page.graphql:
        try:
            payload = json.loads(body)
        except ValueError:
            continue
        if f"query {name}" in payload.get("query", ""):
            found.append(payload.get("variables") or {})
    return found


def status_counts(grid) -> dict[str, int]:
    return json.loads(grid.get_attribute("data-status-counts"))


def finished_run(server, keys: int) -> str:
    run_id = launch(server, "big_fanout", {"ops": {"emit_many": {"config": {"n": keys}}}})
    query = "query($id: ID!) { run(id: $id) { status } }"
    for _ in range(1200):
        status = post_graphql(server, query, {"id": run_id})["run"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        urllib.request.urlopen(f"{server.base}/healthz", timeout=5).close()  # a short wait that also probes
    assert status == "SUCCESS", status
    return run_id


def test_a_large_run_shows_every_key_in_tiles_and_zooms_to_cells_without_the_full_index(page, large_server):
    run_id = finished_run(large_server, 5000)
    page.goto(f"/runs/{run_id}/?node=add_one")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    grid = page.get_by_test_id("status-grid")
    expect(grid).to_have_attribute("data-mode", "tiles")
    expect(grid).to_have_attribute("data-keys", "5000")
    # every key is in a tile, with its status: the tiles' counts add up to the op's counts
    assert status_counts(grid)["SUCCESS"] == 5000 and sum(status_counts(grid).values()) == 5000
    assert int(grid.get_attribute("data-keys-per-tile")) >= 2, f"5,000 keys in {grid.get_attribute('data-tiles')} tiles"
    assert 0 < int(grid.get_attribute("data-tiles")) < 5000
    expect(page.locator("[data-role=grid-zoom-label]")).to_contain_text("5,000 keys")

    # zoom in with the control until the window's keys are few enough to be cells (at most the limit)
    for _ in range(6):
        if grid.get_attribute("data-mode") == "cells":
            break
        before = grid.get_attribute("data-keys")
        page.get_by_test_id("grid-zoom-in").click()
        expect(grid).not_to_have_attribute("data-keys", before)
    expect(grid).to_have_attribute("data-mode", "cells")
    assert 0 < int(grid.get_attribute("data-keys")) <= LIMIT
    assert int(grid.get_attribute("data-keys-per-tile")) == 1
    # a click on a cell opens its step
    grid.click(position={"x": 3, "y": 3})
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer).to_be_visible()
    expect(drawer).to_have_attribute("data-step-key", re.compile(r"add_one\[k\d+\]"))
    page.get_by_test_id("grid-zoom-reset").click()
    expect(grid).to_have_attribute("data-mode", "tiles")
    expect(grid).to_have_attribute("data-keys", "5000")

    # a click on a tile zooms into it: its keys are drawn as cells
    grid.click(position={"x": 3, "y": 3})
    expect(grid).to_have_attribute("data-mode", "cells")
    assert 1 <= int(grid.get_attribute("data-keys")) <= LIMIT

    assert not queries_named(page, "StepIndex"), "a large run's page read the full step index"
    assert page.evaluate("window.dagviz.isLarge()")
    assert page.get_by_test_id("timeline").get_attribute("data-sampled") == "true"


def test_the_key_table_of_a_large_run_pages_and_filters_through_the_server(page, large_server):
    run_id = finished_run(large_server, 600)
    page.goto(f"/runs/{run_id}/?node=add_one")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    table = page.get_by_test_id("key-table")
    expect(table).to_have_attribute("data-total", "600")
    expect(table.locator("[data-role=count]")).to_have_text("600 keys")
    # the table grows as it is scrolled, one block of 100 at a time from the server's cursors
    viewport = table.locator("[data-role=viewport]")
    for _ in range(12):
        viewport.evaluate("(element) => { element.scrollTop = element.scrollHeight; }")
        page.wait_for_timeout(150)
    expect(page.locator("[data-testid=key-row][data-step-key='add_one[k599]']")).to_be_attached()
    pages = [variables for variables in queries_named(page, "KeyTable") if variables.get("node") == "add_one"]
    assert len(pages) >= 6 and all(variables["first"] == 100 for variables in pages)
    assert len({variables["after"] for variables in pages if variables["after"]}) >= 5  # read after one another

    page.get_by_test_id("key-filter").fill("k12")
    expect(table.locator("[data-role=count]")).to_have_text("11 keys match")  # k12, k120..k129
    expect(page.get_by_test_id("key-row")).to_have_count(11)
    assert any(variables.get("key") == "k12" for variables in queries_named(page, "KeyTable"))
    assert not queries_named(page, "StepIndex")


def test_a_live_run_that_grows_past_the_limit_keeps_its_counts_moving(page, large_server):
    config = {"ops": {"emit_keys": {"config": {"n": 600}}, "flaky_work": {"config": {"fail_keys": [], "sleep_ms": 15}}}}
    run_id = launch(large_server, "flaky_fanout", config)
    page.goto(f"/runs/{run_id}/?node=flaky_work")
    node = page.get_by_test_id("node-flaky_work")
    page.wait_for_function("window.dagviz && window.dagviz.isLarge()", timeout=60_000)
    grid = page.get_by_test_id("status-grid")
    expect(grid).to_have_attribute("data-mode", "tiles")
    seen = []
    for _ in range(40):
        seen.append(int(node.get_attribute("data-succeeded") or 0))
        if page.get_by_test_id("run-status").text_content() == "SUCCESS":
            break
        page.wait_for_timeout(250)
    increases = sum(1 for before, after in zip(seen, seen[1:]) if after > before)
    assert increases >= 3, f"the counts did not advance during the run: {seen}"
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS", timeout=60_000)
    expect(node).to_have_attribute("data-succeeded", "600")
    expect(grid).to_have_attribute("data-keys", "600")
    expect(grid).to_have_attribute("data-status-counts", json.dumps(
        {"PENDING": 0, "RUNNING": 0, "SUCCESS": 600, "FAILURE": 0, "SKIPPED": 0, "REUSED": 0, "CANCELED": 0},
        separators=(",", ":")))
    # once the run was large, the page subscribed again with its live steps capped
    assert any('"maxSteps":200' in frame.replace(" ", "") for frame in page.frames_sent), page.frames_sent[:3]
