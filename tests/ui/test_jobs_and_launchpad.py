"""The jobs page, the graph explorer and the launchpad, in Chromium against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dagviz.examples.process_directory import SAMPLE_DIRECTORY
from runs.models import Run
from tests.ui.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def click_graph_node(page, name: str) -> None:
    """A real mouse click on the node ``name`` of the Cytoscape graph."""
    box = page.get_by_test_id("graph-canvas").bounding_box()
    position = page.evaluate("(name) => window.dagvizGraph.getElementById(name).renderedPosition()", name)
    page.mouse.click(box["x"] + position["x"], box["y"] + position["y"])


def test_jobs_page_links_each_job_to_its_graph_with_node_details(page):
    page.goto("/")
    for job in ("process_directory", "flaky_fanout", "nested_fanout", "streaming_fanout", "big_fanout"):
        expect(page.get_by_test_id(f"job-link-{job}")).to_be_visible()
    screenshot(page, "home")

    page.get_by_test_id("job-link-nested_fanout").click()
    expect(page).to_have_url(re.compile(r"/jobs/nested_fanout/$"))
    canvas = page.get_by_test_id("graph-canvas")
    expect(canvas.locator("canvas").first).to_be_visible()
    # one node per op; mapped ops are marked in the graph itself
    names = page.evaluate("window.dagvizGraph.nodes().map((n) => n.id()).sort()")
    assert names == ["customers", "overall", "region_total", "regions", "score"]
    assert page.evaluate("window.dagvizGraph.getElementById('score').hasClass('mapped')")
    assert page.evaluate("window.dagvizGraph.getElementById('score').hasClass('nested')")
    kinds = page.evaluate("window.dagvizGraph.edges().map((e) => e.data('source') + '>' + e.data('target') + ':' + e.classes().join(''))")
    assert "customers>score:DYNAMIC" in kinds and "score>region_total:COLLECT" in kinds, kinds

    click_graph_node(page, "regions")
    details = page.get_by_test_id("node-details")
    expect(details).to_contain_text("regions")
    expect(details).to_contain_text("customers_per_region")
    expect(details).to_contain_text("fans out")
    page.get_by_test_id("graph-fit").click()
    screenshot(page, "job-graph")


def test_launch_process_directory_from_the_launchpad_succeeds_with_one_key_per_file(page):
    files = sorted(path.name for path in Path(SAMPLE_DIRECTORY).iterdir() if path.is_file())
    page.goto("/jobs/process_directory/launch")
    editor = page.get_by_test_id("config-editor")
    expect(editor).to_have_value(re.compile(r"files_in_directory:\s+config:\s+path: "))
    screenshot(page, "launchpad")

    page.get_by_test_id("launch-button").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}/"))
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    node = page.get_by_test_id("node-process_file")
    expect(node).to_have_attribute("data-total", str(len(files)))
    expect(node).to_have_attribute("data-succeeded", str(len(files)))
    expect(page.get_by_test_id("progress")).to_have_attribute("data-done", str(len(files) + 2))
    rows = page.get_by_test_id("key-row")
    expect(rows).to_have_count(len(files))
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.status)")) == ["SUCCESS"] * len(files)
    assert Run.objects.get().status == "SUCCESS"
    # a key's drawer: its output preview names the file
    rows.first.click()
    drawer = page.get_by_test_id("step-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_test_id("step-output")).to_contain_text(files[0])
    screenshot(page, "run-process_directory")


def test_bad_yaml_and_a_wrong_config_type_show_errors_at_their_path_and_launch_nothing(page):
    page.goto("/jobs/flaky_fanout/launch")
    editor = page.get_by_test_id("config-editor")
    errors = page.get_by_test_id("config-errors")
    expect(editor).not_to_have_value("")

    editor.fill("ops:\n  emit_keys:\n    config: {n: [1, 2\n")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("YAML syntax")
    expect(errors).to_contain_text("line 4")
    expect(page.get_by_test_id("launch-button")).to_be_disabled()  # nothing to launch while errors remain
    screenshot(page, "launchpad-bad-yaml")

    editor.fill("ops:\n  emit_keys:\n    config:\n      n: many\n  flaky_work:\n    config:\n      sleep_ms: 1\n")
    expect(errors).to_contain_text("ops.emit_keys.config.n")
    expect(errors).to_contain_text("expected int")
    expect(page.get_by_test_id("launch-button")).to_be_disabled()
    # a click the page lets through anyway (a stale state): the server refuses too, at the same path
    page.get_by_test_id("launch-button").evaluate("button => { button.disabled = false; button.click(); }")
    expect(errors).to_contain_text("Not launched")
    expect(errors.locator("li[data-path='ops.emit_keys.config.n'][data-reason='WRONG_TYPE']")).to_have_count(1)
    expect(errors).to_contain_text("line 4")
    screenshot(page, "launchpad-wrong-type")
    assert page.url.endswith("/jobs/flaky_fanout/launch")
    assert Run.objects.count() == 0

    editor.fill("ops:\n  emit_keys:\n    config:\n      n: 3\n      extra: 1\n")
    expect(errors).to_contain_text("unknown field 'extra'")
    assert Run.objects.count() == 0


def test_a_job_with_a_config_class_and_a_resource_is_scaffolded_validated_and_launched(page):
    page.goto("/jobs/long_words_report/launch")
    editor = page.get_by_test_id("config-editor")
    errors = page.get_by_test_id("config-errors")
    expect(editor).to_have_value(re.compile(r"word_report:\s+config:\s+min_length: 5\s+top: 5"))
    expect(editor).to_have_value(re.compile(r"resources:\s+library:\s+config:\s+directory: "))

    yaml = editor.input_value().replace("top: 5", "top: lots", 1)
    editor.fill(yaml)
    expect(errors).to_contain_text("expected int")

    editor.fill(yaml.replace("top: lots", "top: 2"))
    expect(errors).to_be_hidden()
    page.get_by_test_id("launch-button").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}/"))
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    run = Run.objects.get()
    assert run.run_config["resources"]["library"]["config"]["directory"] == SAMPLE_DIRECTORY
