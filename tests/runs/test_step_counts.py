"""A finished run keeps its step counts per node and status; nodeStats reads them instead of counting every step."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client

from runs import lifecycle
from runs.graphql.runs import node_stats
from runs.models import Run, RunStatus, Step
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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics (SQLite keeps none)")
def test_the_end_of_a_big_run_refreshes_the_planner_statistics_of_the_step_table(monkeypatch):
    """A big run makes the step table's statistics stale (the planner then scans a million steps for a key
    search); its end takes a fresh sample, which for a table this small is every row."""
    monkeypatch.setattr(lifecycle, "ANALYZE_AFTER_STEPS", 30)
    run = Run.objects.create(job_name="big_fanout", status=RunStatus.STARTED, output_store="memory://")
    Step.objects.bulk_create(Step(run=run, key=f"add_one[k{index}]", node="add_one", order=index, status="SUCCESS")
                             for index in range(30))
    lifecycle.finish_run(run.id, SimpleNamespace(canceled=False, success=True, failure_reason="",
                                                 tolerated_failures=0))
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Step._meta.db_table])
        assert cursor.fetchone()[0] == Step.objects.count()
    assert Run.objects.get(id=run.id).status == RunStatus.SUCCESS
