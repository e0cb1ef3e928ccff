"""A finished run keeps its step counts per node and status; nodeStats reads them instead of counting every step."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from runs.graphql.runs import node_stats
from runs.models import Run, Step
from runs.services.launch import launch_run
from runs.services.step_counts import count_steps
from tests.runs.support import assert_finished_as, wait_step

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_finished_run_keeps_its_counts_and_node_stats_read_them():
    run = assert_finished_as(launch_run("letters").id, "SUCCESS")
    assert run.step_counts == count_steps(run.id) == {
        "emit_letters": {"SUCCESS": 1}, "shout": {"SUCCESS": 4}, "gather_letters": {"SUCCESS": 1}}

    # The kept counts are what nodeStats answers from now on: a row changed behind the run's back
    # (nothing in dagviz does that once a run has ended) does not change them.
    Step.objects.filter(run=run, key="shout[a]").update(status="FAILURE")
    stats = {item.node: item for item in node_stats(Run.objects.get(id=run.id))}
    assert (stats["shout"].total, stats["shout"].succeeded, stats["shout"].failed) == (4, 4, 0)
    assert [item.node for item in node_stats(Run.objects.get(id=run.id), ["shout"])] == ["shout"]


def test_a_running_run_is_counted_from_its_steps(control):
    control.set(block=["shout[a]"])
    run = launch_run("letters")
    wait_step(run.id, "shout[a]", "RUNNING")
    running = Run.objects.get(id=run.id)
    assert running.step_counts is None
    stats = {item.node: item for item in node_stats(running)}
    control.set()
    assert stats["shout"].running == 1 and stats["emit_letters"].running == 1  # the emitter still streams keys
    assert_finished_as(run.id, "SUCCESS")


def test_a_finished_runs_page_totals_come_from_its_counts_and_filtered_ones_are_counted():
    run = assert_finished_as(launch_run("letters").id, "SUCCESS")
    query = """query($id: ID!, $status: [StepStatus!], $text: String) { run(id: $id) {
      steps(node: "shout", first: 2, status: $status, keyContains: $text) { totalCount edges { node { key } } } } }"""

    def total(**variables) -> int:
        response = Client(HTTP_HOST="127.0.0.1").post(
            "/graphql", json.dumps({"query": query, "variables": {"id": str(run.id), **variables}}),
            content_type="application/json")
        return response.json()["data"]["run"]["steps"]["totalCount"]

    assert (total(), total(status=["SUCCESS"]), total(status=["FAILURE"]), total(text="[a")) == (4, 4, 0, 1)
    Step.objects.filter(run=run, key="shout[a]").update(status="FAILURE")  # behind the finished run's back
    assert (total(), total(status=["FAILURE"])) == (4, 0)  # the kept counts, not a count of the rows
