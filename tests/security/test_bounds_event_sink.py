"""A 5 MB log line and a 5 MB failure message are stored capped, with a marker saying how much was cut."""

from __future__ import annotations

import re

import pytest

from dagviz import job, op
from dagviz.execution.api import execute_job
from runs.event_sink import DatabaseEventSink, cap_text
from runs.models import Event, Run, RunStatus, Step

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = 5 * 1024 * 1024
MARKER = re.compile(r"… \[truncated ([\d,]+) characters?\]$")


@op
def shout(context) -> None:
    context.log.info("L" * HUGE)
    raise ValueError("E" * HUGE)


@job
def loud_job():
    shout()


def assert_capped(text: str, cap: int, original: int | None = None) -> None:
    """At most ``cap`` characters plus the marker, and the marker counts what was dropped."""
    marker = MARKER.search(text)
    assert marker, text[-200:]
    assert marker.start() <= cap
    if original is not None:
        assert marker.start() == cap and int(marker.group(1).replace(",", "")) == original - cap


def run_loud_job(tmp_path) -> Run:
    run = Run.objects.create(job_name="loud_job", status=RunStatus.STARTED, output_store="memory://")
    sink = DatabaseEventSink(run.id)
    try:
        result = execute_job(loud_job, executor="in_process", output_store=f"file://{tmp_path}/store",
                             run_id=str(run.id), sink=sink)
    finally:
        sink.close()
    assert not result.success
    return run


def test_a_huge_log_line_and_failure_are_stored_capped_with_a_marker(tmp_path, settings):
    run = run_loud_job(tmp_path)
    log = Event.objects.get(run=run, kind="LOG", step_key="shout")
    assert_capped(log.message, settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS, HUGE)
    failure = Event.objects.get(run=run, kind="STEP_FAILURE")
    assert_capped(failure.payload["error"]["message"], settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS, HUGE)
    assert len(failure.message) < settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS + 1000
    step = Step.objects.get(run=run, key="shout")
    assert_capped(step.error["message"], settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS, HUGE)
    assert len(step.error["stack"]) <= settings.DAGVIZ_MAX_STORED_STACK_CHARS + 100
    assert step.attempt_history[-1]["error"]["message"] == step.error["message"]
    assert all(len(row.message) < settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS + 1000 for row in Event.objects.filter(run=run))


def test_the_caps_are_settings(tmp_path, settings):
    settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS = 1000
    run = run_loud_job(tmp_path)
    assert_capped(Event.objects.get(run=run, kind="LOG").message, 1000, HUGE)
    assert_capped(Step.objects.get(run=run, key="shout").error["message"], 1000, HUGE)


def test_text_within_the_cap_is_stored_unchanged():
    assert cap_text("x" * 10, 10) == "x" * 10
    assert cap_text("x" * 11, 10) == "x" * 10 + "… [truncated 1 character]"
