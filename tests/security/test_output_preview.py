"""Output previews are made when an output is written, bounded, and shown without reading the output.

A 50 MB string or a list of a million items costs a preview of at most 500 characters, made by a
bounded ``repr`` where the value is (the worker), stored with the step, and read by ``outputPreview``
from the step row only: deleting the stored output files changes nothing. A reused step shows its
parent's preview; runs recorded before previews were stored say so instead of loading the value.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
from collections import Counter, OrderedDict, namedtuple
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.test import Client

import dagviz
from dagviz.execution import output_preview as preview_module
from dagviz.execution.events import StepOutput
from dagviz.execution.output_preview import DEFAULT_PREVIEW_CHARS, output_preview
from runs.event_rows import run_events
from runs.graphql.steps import PREVIEW_NOT_RECORDED
from runs.models import Run, Step
from runs.services.launch import launch_run
from runs.services.reexecution import reexecute
from tests.runs.support import WORKSPACE, assert_finished_as
from tests.security import preview_jobs

LIMIT = DEFAULT_PREVIEW_CHARS
STEP_PREVIEW = "query($id: ID!, $key: String!) { run(id: $id) { step(key: $key) { status outputPreview } } }"


def bounded_cost(value: object) -> tuple[str, int]:
    """The preview of ``value`` and the most memory it took to make it, in bytes."""
    tracemalloc.start()
    try:
        text = output_preview(value)
        return text, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the bounded repr --------------------------------------------------------------------------------


def test_a_50_mb_string_costs_a_preview_not_a_copy():
    text, peak = bounded_cost("x" * preview_jobs.BIG_TEXT_CHARS)
    assert len(text) <= LIMIT and text.startswith("'xxxx") and "..." in text
    assert peak < 100_000  # a whole repr would take 50 MB more


def test_a_million_item_list_visits_only_what_the_preview_shows():
    visited = []

    class Item:
        def __init__(self, number: int) -> None:
            self.number = number

        def __repr__(self) -> str:
            visited.append(self.number)
            return f"Item({self.number})"

    items = [Item(number) for number in range(preview_jobs.MANY_ITEMS)]
    text = output_preview(items)
    assert text.startswith("[Item(0), Item(1), Item(2)") and len(text) <= LIMIT
    assert len(visited) < LIMIT  # each shown item spends from the budget; the rest are never looked at
    text, peak = bounded_cost(list(range(preview_jobs.MANY_ITEMS)))
    assert text.startswith("[0, 1, 2, 3") and len(text) <= LIMIT and peak < 100_000


def test_nested_and_keyed_containers_are_bounded_as_a_whole():
    wide = [[list(range(250))] * 250] * 250  # 15 million leaves through six levels of reprlib's limits
    text, peak = bounded_cost(wide)
    assert text.startswith("[[[0, 1, 2") and len(text) <= LIMIT and peak < 100_000
    big_dict = {f"k{number}": number for number in range(preview_jobs.MANY_ITEMS)}
    assert output_preview(big_dict).startswith("{'k0': 0, 'k1': 1, 'k2': 2")  # insertion order, no sorting
    assert output_preview(OrderedDict(big_dict)).startswith("OrderedDict({'k0': 0, 'k1': 1")
    assert len(output_preview(Counter(range(preview_jobs.MANY_ITEMS)))) <= LIMIT
    assert output_preview(b"y" * preview_jobs.BIG_TEXT_CHARS).startswith("b'yyyy")


def test_small_values_read_as_their_repr():
    point = namedtuple("Point", "x y")
    for value in (14, "total=14", 2.5, None, True, [1, "a"], {"a": (1,)}, {1, 2}, b"ab", frozenset()):
        assert output_preview(value) == repr(value)
    assert output_preview(point(1, "s")) == "Point(x=1, y='s')"
    assert output_preview(10 ** 5000) == "<int of 16,610 bits>"  # Python refuses to format it at all


def test_a_value_whose_repr_fails_still_gets_a_preview():
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert output_preview(Broken()).startswith("<Broken instance at")
    assert output_preview([Broken()]).startswith("[<Broken instance at")


def test_a_preview_is_text_every_database_stores():
    class Raw:
        def __repr__(self) -> str:
            return "a\0b\udc80c"  # PostgreSQL's JSON refuses both

    assert output_preview(Raw()) == "a\\x00b\\udc80c"
    assert output_preview("x\0") == repr("x\0")


def test_the_limit_is_a_setting_read_where_steps_run(monkeypatch):
    monkeypatch.setenv(preview_module.PREVIEW_CHARS_ENV_VAR, "20")
    preview_module.preview_chars.cache_clear()
    try:
        assert output_preview("y" * 1000) == "'yyyyyyy...yyyyyyyy'"  # a long string shows its start and end
        assert output_preview(list(range(1000))) == "[0, 1, 2, 3, 4, 5, …"
    finally:
        preview_module.preview_chars.cache_clear()


def test_the_engine_puts_the_preview_in_the_output_event():
    result = dagviz.execute_job(preview_jobs.big_outputs)
    previews = {event.step_key: event.preview for event in result.events if isinstance(event, StepOutput)}
    assert previews["sizes"] == repr({"text": preview_jobs.BIG_TEXT_CHARS, "items": preview_jobs.MANY_ITEMS})
    assert previews["many_items"].startswith("[0, 1, 2") and len(previews["big_text"]) <= LIMIT


@pytest.mark.timeout(120)
def test_dask_workers_make_the_preview_where_the_value_is(tmp_path):
    pytest.importorskip("distributed")
    config = {"execution": {"dask": {"n_workers": 1, "threads_per_worker": 1}}}
    result = dagviz.execute_job(preview_jobs.big_outputs, config, output_store=f"file://{tmp_path}/store")
    assert result.success
    previews = {event.step_key: event.preview for event in result.events if isinstance(event, StepOutput)}
    assert previews["big_text"].startswith("'xxxx") and len(previews["big_text"]) <= LIMIT
    assert previews["many_items"].startswith("[0, 1, 2") and len(previews["many_items"]) <= LIMIT


# -- stored with the step, shown without the output ---------------------------------------------------------


@pytest.fixture
def preview_workspace(runs_workspace, settings):
    settings.DAGVIZ_WORKSPACE = [*WORKSPACE, "tests.security.preview_jobs"]


def shown_preview(run_id: object, step_key: str) -> str | None:
    response = Client().post("/graphql", json.dumps({"query": STEP_PREVIEW, "variables": {"id": str(run_id),
                                                                                           "key": step_key}}),
                             content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["data"]["run"]["step"]["outputPreview"]


def delete_stored_outputs(run: Run) -> None:
    directory = Path(urlparse(run.output_store).path) / str(run.id)
    assert directory.is_dir(), directory
    shutil.rmtree(directory)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_run_stores_bounded_previews_and_shows_them_without_its_outputs(preview_workspace, executor):
    run = assert_finished_as(launch_run("big_outputs", executor=executor).id, "SUCCESS", timeout=90)
    steps = {step.key: step for step in Step.objects.filter(run=run)}
    text, items = steps["big_text"].output_previews["result"], steps["many_items"].output_previews["result"]
    assert text.startswith("'xxxx") and len(text) <= LIMIT
    assert items.startswith("[0, 1, 2, 3") and len(items) <= LIMIT
    written, = [event for event in run_events(run.id) if event["step_key"] == "big_text"
                and event["kind"] == StepOutput.kind]
    assert written["payload"]["preview"] == text  # it travelled with the event that recorded the output

    delete_stored_outputs(run)
    assert shown_preview(run.id, "big_text") == text
    assert shown_preview(run.id, "many_items") == items
    assert shown_preview(run.id, "sizes") == repr({"text": preview_jobs.BIG_TEXT_CHARS,
                                                   "items": preview_jobs.MANY_ITEMS})


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_reused_step_shows_its_parents_preview(preview_workspace):
    parent = assert_finished_as(launch_run("big_outputs").id, "SUCCESS", timeout=90)
    expected = shown_preview(parent.id, "many_items")
    child = assert_finished_as(reexecute(str(parent.id), "SELECTED", ["sizes"]).id, "SUCCESS", timeout=90)
    assert Step.objects.get(run=child, key="many_items").status == "REUSED"
    assert shown_preview(child.id, "many_items") == expected
    grandchild = assert_finished_as(reexecute(str(child.id), "SELECTED", ["sizes"]).id, "SUCCESS", timeout=90)
    assert shown_preview(grandchild.id, "many_items") == expected  # reused from a reused step: still the root's


@pytest.mark.django_db(transaction=True)
def test_a_run_recorded_before_previews_says_so_without_loading_the_output(preview_workspace):
    run = Run.objects.create(job_name="big_outputs", executor="in_process", status="SUCCESS",
                             output_store="file:///nonexistent/dagviz-store")
    Step.objects.create(run=run, key="big_text", node="big_text", status="SUCCESS",
                        outputs={"result": f"{run.id}/big_text/result"})
    Step.objects.create(run=run, key="emit", node="emit", status="SUCCESS")
    assert shown_preview(run.id, "big_text") == PREVIEW_NOT_RECORDED
    assert shown_preview(run.id, "emit") is None  # no output at all
