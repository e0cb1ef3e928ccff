"""``deleteRun`` over HTTP against a real daphne server: the run, its rows and files go; refusals are typed members."""

from __future__ import annotations

import pytest

from runs.models import Event, Run, Step
from tests.graphql.conftest import Gates, Live, unknown_run_id

pytestmark = pytest.mark.django_db(transaction=True)

DELETE = """mutation($id: ID!) { deleteRun(runId: $id) {
  __typename
  ... on DeleteRunSuccess { runId }
  ... on DeleteRunFailure { message }
  ... on RunNotFoundError { message } } }"""

REEXECUTE_ALL = """mutation($id: ID!) { reexecuteRun(parentRunId: $id, strategy: ALL) {
  __typename ... on LaunchRunSuccess { run { id } } } }"""


def delete(live: Live, run_id: str) -> dict:
    return live.api(DELETE, {"id": run_id})["deleteRun"]


def test_deleting_a_finished_run_removes_it_and_everything_it_recorded(live: Live):
    run_id, other = live.run_to_end("gated_fanout"), live.run_to_end("gated_fanout")
    assert Step.objects.filter(run_id=run_id).exists() and Event.objects.filter(run_id=run_id).exists()

    assert delete(live, run_id) == {"__typename": "DeleteRunSuccess", "runId": run_id}

    assert not Run.objects.filter(id=run_id).exists()
    assert not Step.objects.filter(run_id=run_id).exists() and not Event.objects.filter(run_id=run_id).exists()
    assert live.api.request("query($id: ID!) { run(id: $id) { id } }", {"id": run_id})["data"]["run"] is None
    assert live.status(other) == "SUCCESS"
    again = delete(live, run_id)
    assert again["__typename"] == "RunNotFoundError" and run_id in again["message"]


def test_deleting_an_unknown_run_is_a_run_not_found_error(live: Live):
    missing = unknown_run_id()
    result = delete(live, missing)
    assert result["__typename"] == "RunNotFoundError" and missing in result["message"]
    assert delete(live, "not-a-run-id")["__typename"] == "RunNotFoundError"


def test_deleting_a_run_still_going_or_whose_re_execution_is_going_is_a_failure(live: Live, gates: Gates):
    config = gates.config(["a", "b"], before=[1])
    gates.open(1)
    parent = live.launch("gated_fanout", config)
    assert live.wait(parent) == "SUCCESS"
    (gates.directory / "1").unlink()  # the re-execution, with the same config, waits at gate 1 again

    child = live.api(REEXECUTE_ALL, {"id": parent})["reexecuteRun"]["run"]["id"]
    live.wait(child, ("STARTED",))
    result = delete(live, child)
    assert result["__typename"] == "DeleteRunFailure" and "terminate it first" in result["message"], result
    result = delete(live, parent)
    assert result["__typename"] == "DeleteRunFailure" and f"{child} (STARTED)" in result["message"], result
    assert Run.objects.filter(id__in=[parent, child]).count() == 2

    gates.open(1)
    assert live.wait(child) == "SUCCESS"
    assert delete(live, parent) == {"__typename": "DeleteRunSuccess", "runId": parent}
    assert delete(live, child) == {"__typename": "DeleteRunSuccess", "runId": child}
