"""The launchpad refuses a YAML alias bomb before expanding it: the tab stays responsive and shows the limit."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from runs.models import Run
from tests.security.bounds_payloads import FEW_ANCHORS, alias_bomb
from tests.ui.conftest import page  # noqa: F401  (fixture shared with the UI tests)

pytestmark = pytest.mark.django_db(transaction=True)

SHOWN_WITHIN_MS = 2_000


def paste(page, text: str) -> None:
    """Put ``text`` in the editor the way a paste does: one input event with the whole text."""
    page.get_by_test_id("config-editor").fill(text)


def assert_responsive(page) -> None:
    """The page's main thread answers a script at once (a frozen tab would not)."""
    started = time.monotonic()
    assert page.evaluate("() => document.querySelector('[data-testid=config-editor]').value.length") > 0
    assert time.monotonic() - started < 1.0


def test_a_pasted_alias_bomb_is_refused_within_two_seconds_and_nothing_launches(page):
    page.goto("/jobs/flaky_fanout/launch")
    errors = page.get_by_test_id("config-errors")
    expect(page.get_by_test_id("config-editor")).not_to_have_value("")
    paste(page, alias_bomb())
    expect(errors).to_contain_text("DAGVIZ_MAX_RUN_CONFIG_NODES", timeout=SHOWN_WITHIN_MS)
    assert_responsive(page)
    expect(page.get_by_test_id("launch-button")).to_be_disabled()
    page.get_by_test_id("launch-button").evaluate("button => { button.disabled = false; button.click(); }")
    expect(errors).to_contain_text("DAGVIZ_MAX_RUN_CONFIG_NODES", timeout=SHOWN_WITHIN_MS)
    assert_responsive(page)
    assert Run.objects.count() == 0


def test_too_many_alias_tokens_or_bytes_are_refused_before_parsing(page):
    page.goto("/jobs/flaky_fanout/launch")
    errors = page.get_by_test_id("config-errors")
    expect(page.get_by_test_id("config-editor")).not_to_have_value("")
    paste(page, "x-a: &a 1\nx-b: [" + ", ".join(["*a"] * 101) + "]\n")
    expect(errors).to_contain_text("DAGVIZ_MAX_RUN_CONFIG_ALIASES", timeout=SHOWN_WITHIN_MS)
    paste(page, "x-pad: '" + "x" * 1_000_001 + "'\n")
    expect(errors).to_contain_text("DAGVIZ_MAX_RUN_CONFIG_BYTES", timeout=SHOWN_WITHIN_MS)
    assert_responsive(page)


def test_a_config_with_a_few_anchors_goes_to_the_server_as_before(page):
    page.goto("/jobs/flaky_fanout/launch")
    errors = page.get_by_test_id("config-errors")
    expect(page.get_by_test_id("config-editor")).not_to_have_value("")
    paste(page, FEW_ANCHORS)
    expect(errors).to_contain_text("unknown field", timeout=SHOWN_WITHIN_MS * 5)  # the server's verdict on ops.first
    expect(errors).not_to_contain_text("DAGVIZ_MAX_RUN_CONFIG")
