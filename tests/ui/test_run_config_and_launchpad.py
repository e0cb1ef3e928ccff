"""The run page's Config panel (run config as YAML, tags, op selection), "Open in launchpad", and the
launchpad's op selection, tags and Launch button that stays disabled while anything is wrong, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runs.models import Run
from runs.services.run_tags import MAX_TAG_KEY_LENGTH
from tests.ui.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

RUN_URL = re.compile(r"/runs/([0-9a-f-]{36})/")
THREE_KEYS = "ops:\n  emit_many:\n    config:\n      n: 3\n"


def run_id_of(page) -> str:
    expect(page).to_have_url(RUN_URL)
    return RUN_URL.search(page.url).group(1)


def add_tag(page, key: str, value: str) -> None:
    """Adds a tag row and types ``key`` and ``value`` into it."""
    page.get_by_test_id("launchpad-tag-add").click()
    row = page.get_by_test_id("launchpad-tag-row").last
    row.get_by_label("Tag key").fill(key)
    row.get_by_label("Tag value").fill(value)


def tag_rows(page) -> list[list[str]]:
    return page.get_by_test_id("launchpad-tag-row").evaluate_all(
        "rows => rows.map(r => [r.querySelector('[data-role=key]').value, r.querySelector('[data-role=value]').value])")


def test_a_run_shows_its_config_and_tags_and_opens_in_the_launchpad_to_launch_an_edited_new_run(page):
    page.goto("/jobs/big_fanout/launch")
    page.get_by_test_id("config-editor").fill(THREE_KEYS)
    page.get_by_test_id("op-selection").fill("*add_one")
    add_tag(page, "team", "data")
    add_tag(page, "ticket", "T-42")
    page.get_by_test_id("launch-button").click()
    first_id = run_id_of(page)
    first = Run.objects.get(id=first_id)
    assert (first.run_config, first.tags, first.op_selection) == (
        {"ops": {"emit_many": {"config": {"n": 3}}}}, {"team": "data", "ticket": "T-42"}, ["*add_one"])
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")

    # the run page: one chip per tag, the op selection, and the config as YAML once the panel is opened
    panel = page.get_by_test_id("run-config")
    expect(panel.get_by_test_id("run-tag")).to_have_text(["team=data", "ticket=T-42"])
    expect(panel.get_by_test_id("run-config-op-selection")).to_have_text("*add_one")
    yaml_box = panel.get_by_test_id("run-config-yaml")
    expect(yaml_box).to_be_hidden()
    panel.get_by_test_id("run-config-toggle").click()
    expect(yaml_box).to_have_attribute("data-loaded", "true")
    shown_yaml = yaml_box.text_content()
    assert re.fullmatch(r"ops:\n  emit_many:\n    config:\n      n: 3  # Number of keys\.", shown_yaml), shown_yaml
    screenshot(page, "run-config-panel")

    # Open in launchpad: the same config text, tags and op selection, ready to edit
    page.get_by_test_id("open-in-launchpad").click()
    expect(page).to_have_url(re.compile(rf"/jobs/big_fanout/launch\?fromRun={first_id}$"))
    expect(page.get_by_test_id("launchpad-from-run")).to_contain_text("new run")
    editor = page.get_by_test_id("config-editor")
    expect(editor).to_have_value(shown_yaml + "\n")
    expect(page.get_by_test_id("op-selection")).to_have_value("*add_one")
    assert tag_rows(page) == [["team", "data"], ["ticket", "T-42"]]
    expect(page.get_by_test_id("config-validity")).to_have_text("✓ Valid run config")
    screenshot(page, "launchpad-from-run")

    editor.fill(shown_yaml.replace("n: 3", "n: 5"))
    page.get_by_test_id("launchpad-tag-row").nth(1).get_by_label("Tag value").fill("T-43")
    page.get_by_test_id("launch-button").click()
    second_id = run_id_of(page)
    assert second_id != first_id
    second = Run.objects.get(id=second_id)
    assert second.run_config == {"ops": {"emit_many": {"config": {"n": 5}}}}
    assert second.tags == {"team": "data", "ticket": "T-43"}
    assert second.op_selection == ["*add_one"]
    assert second.parent_run_id is None and second.root_run_id is None  # a new run, not a re-execution
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")
    expect(page.get_by_test_id("node-add_one")).to_have_attribute("data-succeeded", "5")
    expect(page.get_by_test_id("node-sum_all")).to_have_count(0)  # outside the selection
    expect(page.get_by_test_id("run-tag")).to_have_text(["team=data", "ticket=T-43"])
    assert Run.objects.count() == 2


def test_launch_is_disabled_while_anything_is_wrong_and_enabled_again_when_fixed(page):
    page.goto("/jobs/big_fanout/launch")
    launch = page.get_by_test_id("launch-button")
    errors = page.get_by_test_id("config-errors")
    editor = page.get_by_test_id("config-editor")
    expect(launch).to_be_enabled()
    hint = page.get_by_test_id("launchpad-checks-hint")
    expect(hint).to_contain_text("validateRunConfig")
    expect(hint).not_to_contain_text("in the browser")

    editor.fill("ops:\n  emit_many:\n    config: {n: [1, 2\n")  # YAML syntax, found in the page
    expect(errors).to_contain_text("YAML syntax")
    expect(launch).to_be_disabled()
    editor.fill(THREE_KEYS)
    expect(launch).to_be_enabled()

    editor.fill("ops:\n  emit_many:\n    config:\n      n: many\n")  # a wrong type, found by the server
    expect(errors).to_contain_text("expected int")
    expect(launch).to_be_disabled()
    editor.fill(THREE_KEYS)
    expect(errors).to_be_hidden()
    expect(launch).to_be_enabled()

    # an op selection the job does not match: the server's typed error, next to the input
    selection = page.get_by_test_id("op-selection")
    selection.fill("*add_one, no_such_op")
    selection_error = page.get_by_test_id("op-selection-error")
    expect(selection_error).to_contain_text("no_such_op")
    expect(selection).to_have_attribute("aria-invalid", "true")
    expect(launch).to_be_disabled()
    screenshot(page, "launchpad-bad-op-selection")
    selection.fill("*add_one")
    expect(selection_error).to_be_hidden()
    expect(launch).to_be_enabled()
    assert Run.objects.count() == 0


def test_invalid_tag_keys_are_refused_inline_and_block_launch_until_fixed(page):
    page.goto("/jobs/big_fanout/launch")
    launch = page.get_by_test_id("launch-button")
    page.get_by_test_id("config-editor").fill(THREE_KEYS)
    expect(launch).to_be_enabled()

    page.get_by_test_id("launchpad-tag-add").click()  # a blank row is not a tag yet
    expect(launch).to_be_enabled()
    row = page.get_by_test_id("launchpad-tag-row").last
    row.get_by_label("Tag value").fill("data")  # a value without a key
    expect(row.get_by_test_id("launchpad-tag-error")).to_contain_text("tag key is empty")
    expect(row.get_by_label("Tag key")).to_have_attribute("aria-invalid", "true")
    expect(launch).to_be_disabled()
    row.get_by_label("Tag key").fill("team")
    expect(row.get_by_test_id("launchpad-tag-error")).to_be_hidden()
    expect(launch).to_be_enabled()

    add_tag(page, "team", "other")  # the same key twice
    rows = page.get_by_test_id("launchpad-tag-row")
    expect(rows.nth(1).get_by_test_id("launchpad-tag-error")).to_contain_text("more than once")
    expect(launch).to_be_disabled()
    screenshot(page, "launchpad-duplicate-tag")
    rows.nth(1).get_by_role("button", name="Remove this tag").click()
    expect(rows).to_have_count(1)
    expect(launch).to_be_enabled()

    add_tag(page, "k" * (MAX_TAG_KEY_LENGTH + 1), "v")  # too long
    expect(rows.nth(1).get_by_test_id("launchpad-tag-error")).to_contain_text(f"limit of {MAX_TAG_KEY_LENGTH}")
    expect(page.get_by_test_id("config-errors")).to_contain_text("Invalid tags")
    expect(launch).to_be_disabled()
    rows.nth(1).get_by_label("Tag key").fill("owner")
    expect(launch).to_be_enabled()
    launch.click()
    run = Run.objects.get(id=run_id_of(page))
    assert run.tags == {"team": "data", "owner": "v"}
    expect(page.get_by_test_id("run-status")).to_have_text("SUCCESS")


def test_a_launchpad_from_an_unknown_run_says_so_and_starts_from_the_defaults(page):
    page.goto("/jobs/big_fanout/launch?fromRun=00000000-0000-0000-0000-000000000000")
    expect(page.get_by_test_id("launchpad-from-run-error")).to_contain_text("does not exist")
    expect(page.get_by_test_id("config-editor")).to_have_value(re.compile(r"n: 10000"))
    expect(page.get_by_test_id("launchpad-tag-row")).to_have_count(0)
    expect(page.get_by_test_id("launch-button")).to_be_enabled()
