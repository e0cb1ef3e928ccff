"""Mutations over HTTP against a real daphne server: launch, preview and launch re-executions, terminate.

Every typed error is a member of the mutation's result union (never a top-level error), and a
mutation that fails writes no run.
"""

from __future__ import annotations

import json

import pytest

from tests.graphql.conftest import LAUNCH, MAX_CONCURRENT_RUNS, Gates, Live, unknown_run_id, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

RUN_COUNT = "{ runs { totalCount } }"


def launch(live: Live, job: str, config: object = None, tags: object = None) -> dict:
    variables = {"job": job, "config": None if config is None else json.dumps(config),
                 "tags": None if tags is None else json.dumps(tags)}
    return live.api(LAUNCH, variables)["launchRun"]


def run_count(live: Live) -> int:
    return live.api(RUN_COUNT)["runs"]["totalCount"]


# -- launchRun ------------------------------------------------------------------------------------------


def test_launch_run_succeeds_and_the_run_finishes(live: Live):
    config = {"ops": {"emit_gated": {"config": {"keys": ["b", "a"]}}, "describe_total": {"config": {"prefix": "="}}}}
    result = launch(live, "gated_fanout", config, {"who": "test"})
    assert result["__typename"] == "LaunchRunSuccess"
    run_id = result["run"]["id"]
    assert result["run"]["status"] in ("QUEUED", "STARTING", "STARTED")
    assert live.wait(run_id) == "SUCCESS"
    run = live.api("""query($id: ID!) { run(id: $id) { jobName runConfig tags
                      step(key: "describe_total") { outputPreview } } }""", {"id": run_id})["run"]
    assert run["jobName"] == "gated_fanout"
    assert json.loads(run["runConfig"]) == config and json.loads(run["tags"]) == {"who": "test"}
    assert run["step"]["outputPreview"] == repr("=1")  # 0*0 + 1*1
    assert run_count(live) == 1


def test_launch_run_with_an_invalid_config_lists_every_error_at_its_path(live: Live):
    config = {"ops": {"emit_gated": {"config": {"keys": "not-a-list", "surprise": 1}},
                      "no_such_op": {}}}
    result = launch(live, "gated_fanout", config)
    assert result["__typename"] == "RunConfigValidationInvalid"
    errors = {(error["path"], error["reason"]): error["message"] for error in result["errors"]}
    assert set(errors) == {("ops.emit_gated.config.keys", "WRONG_TYPE"),
                           ("ops.emit_gated.config", "UNKNOWN_FIELD"),
                           ("ops", "UNKNOWN_FIELD")}
    assert "surprise" in errors[("ops.emit_gated.config", "UNKNOWN_FIELD")]
    assert "no_such_op" in errors[("ops", "UNKNOWN_FIELD")]
    assert all(errors.values())
    assert run_count(live) == 0


def test_launch_run_with_a_config_that_is_not_an_object_is_a_config_error(live: Live):
    result = launch(live, "gated_fanout", ["a", "list"])
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert result["errors"] and all(error["message"] for error in result["errors"])
    assert run_count(live) == 0


def test_launch_run_of_an_unknown_job_is_a_job_not_found_error(live: Live):
    result = launch(live, "no_such_job")
    assert result["__typename"] == "JobNotFoundError"
    assert "no_such_job" in result["message"]
    assert run_count(live) == 0


# -- re-execution ---------------------------------------------------------------------------------------


PREVIEW = """mutation($parent: ID!, $strategy: ReexecutionStrategy!, $keys: [String!]) {
  previewReexecution(parentRunId: $parent, strategy: $strategy, stepKeys: $keys) {
    __typename
    ... on ReexecutionPlan { toExecute reused }
    ... on RunNotFoundError { message }
    ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message }
    ... on PythonError { message className }
  } }"""

REEXECUTE = """mutation($parent: ID!, $strategy: ReexecutionStrategy!, $keys: [String!]) {
  reexecuteRun(parentRunId: $parent, strategy: $strategy, stepKeys: $keys) {
    __typename
    ... on LaunchRunSuccess { run { id status parentRunId rootRunId } }
    ... on RunNotFoundError { message }
    ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message }
    ... on RunConfigValidationInvalid { errors { path message } }
    ... on PythonError { message className }
  } }"""

FLAKY = {"ops": {"emit_keys": {"config": {"n": 5}}, "flaky_work": {"config": {"fail_keys": ["k1", "k3"], "sleep_ms": 1}}}}

RUN_DETAIL = """query($id: ID!) { run(id: $id) { status parentRunId rootRunId childRunIds
  steps { edges { node { key status } } }
  step(key: "total") { outputPreview }
  nodeStats { node total succeeded reused failed skipped } } }"""


def preview(live: Live, parent: str, strategy: str, keys: list[str] | None = None) -> dict:
    return live.api(PREVIEW, {"parent": parent, "strategy": strategy, "keys": keys})["previewReexecution"]


def reexecute(live: Live, parent: str, strategy: str, keys: list[str] | None = None) -> dict:
    return live.api(REEXECUTE, {"parent": parent, "strategy": strategy, "keys": keys})["reexecuteRun"]


def step_statuses(live: Live, run_id: str) -> dict[str, str]:
    run = live.api(RUN_DETAIL, {"id": run_id})["run"]
    return {edge["node"]["key"]: edge["node"]["status"] for edge in run["steps"]["edges"]}


def test_from_failure_previews_and_reruns_exactly_the_failed_keys_and_the_collect(live: Live):
    parent = live.run_to_end("flaky_fanout", FLAKY, expect="FAILURE")

    plan = preview(live, parent, "FROM_FAILURE")
    assert plan["__typename"] == "ReexecutionPlan"
    assert sorted(plan["toExecute"]) == ["flaky_work[k1]", "flaky_work[k3]", "total"]
    assert sorted(plan["reused"]) == ["emit_keys", "flaky_work[k0]", "flaky_work[k2]", "flaky_work[k4]"]
    assert run_count(live) == 1  # a preview launches nothing

    launched = reexecute(live, parent, "FROM_FAILURE")
    assert launched["__typename"] == "LaunchRunSuccess"
    child = launched["run"]["id"]
    assert launched["run"]["parentRunId"] == parent and launched["run"]["rootRunId"] == parent
    assert live.wait(child) == "SUCCESS"

    statuses = step_statuses(live, child)
    assert {key for key, status in statuses.items() if status == "REUSED"} == set(plan["reused"])
    assert {key for key, status in statuses.items() if status == "SUCCESS"} == set(plan["toExecute"])
    detail = live.api(RUN_DETAIL, {"id": child})["run"]
    assert detail["step"]["outputPreview"] == str(sum(i * i for i in range(5)))  # the collect saw every key
    assert {s["node"]: (s["succeeded"], s["reused"]) for s in detail["nodeStats"]} == {
        "emit_keys": (0, 1), "flaky_work": (2, 3), "total": (1, 0)}
    reused_events = [e for e in live.events(child) if e["kind"] == "STEP_REUSED"]
    assert sorted(e["stepKey"] for e in reused_events) == sorted(plan["reused"])
    assert live.api(RUN_DETAIL, {"id": parent})["run"]["childRunIds"] == [child]

    # A re-execution of the re-execution, and the root stays the first run. SELECTED runs exactly the
    # selected keys (Dagster's rule); FROM_SELECTED runs them and everything downstream.
    selected = preview(live, child, "SELECTED", ["flaky_work[k0]"])
    assert sorted(selected["toExecute"]) == ["flaky_work[k0]"]
    from_selected = preview(live, child, "FROM_SELECTED", ["flaky_work[k0]"])
    assert sorted(from_selected["toExecute"]) == ["flaky_work[k0]", "total"]
    grandchild = reexecute(live, child, "FROM_SELECTED", ["flaky_work[k0]"])["run"]
    assert grandchild["parentRunId"] == child and grandchild["rootRunId"] == parent
    assert live.wait(grandchild["id"]) == "SUCCESS"
    assert {key for key, status in step_statuses(live, grandchild["id"]).items() if status == "SUCCESS"} == {
        "flaky_work[k0]", "total"}
    assert live.api(RUN_DETAIL, {"id": child})["run"]["childRunIds"] == [grandchild["id"]]

    everything = preview(live, parent, "ALL")
    assert everything["__typename"] == "ReexecutionPlan" and everything["reused"] == []
    assert "emit_keys" in everything["toExecute"] and "total" in everything["toExecute"]


def test_reexecution_errors_are_typed_and_launch_nothing(live: Live):
    succeeded = live.run_to_end("gated_fanout")
    before = run_count(live)

    for mutate in (preview, reexecute):
        invalid = mutate(live, succeeded, "SELECTED", ["square[no_such_key]"])
        assert invalid["__typename"] == "InvalidStepKeyError", invalid
        assert "square[no_such_key]" in invalid["message"]
        unknown_op = mutate(live, succeeded, "SELECTED", ["no_such_op"])
        assert unknown_op["__typename"] == "InvalidStepKeyError", unknown_op

        missing = unknown_run_id()
        not_found = mutate(live, missing, "FROM_FAILURE")
        assert not_found["__typename"] == "RunNotFoundError" and missing in not_found["message"]
        assert mutate(live, "not-a-run-id", "ALL")["__typename"] == "RunNotFoundError"

        nothing_failed = mutate(live, succeeded, "FROM_FAILURE")
        assert nothing_failed["__typename"] == "ReexecutionError", nothing_failed
        assert "succeeded" in nothing_failed["message"]

    assert run_count(live) == before


def test_reexecuting_a_run_that_is_still_going_is_a_reexecution_error(live: Live, gates: Gates):
    run_id = live.launch("gated_fanout", gates.config(["a", "b"], before=[1]))
    live.wait(run_id, ("STARTED",))
    for mutate in (preview, reexecute):
        result = mutate(live, run_id, "ALL")
        assert result["__typename"] == "ReexecutionError", result
    gates.open(1)
    assert live.wait(run_id) == "SUCCESS"
    assert run_count(live) == 1


# -- terminateRun ---------------------------------------------------------------------------------------


TERMINATE = """mutation($id: ID!) { terminateRun(runId: $id) {
  __typename
  ... on TerminateRunSuccess { run { id status } }
  ... on TerminateRunFailure { message }
  ... on RunNotFoundError { message } } }"""

STEP = """query($id: ID!, $key: String!) { run(id: $id) { status failureReason
  step(key: $key) { status error { className message } } } }"""


def terminate(live: Live, run_id: str) -> dict:
    return live.api(TERMINATE, {"id": run_id})["terminateRun"]


def test_terminating_a_running_run_cancels_it(live: Live, gates: Gates):
    run_id = live.launch("gated_fanout", gates.config(["a", "b"], before=[1]))
    wait_until(lambda: live.api(STEP, {"id": run_id, "key": "emit_gated"})["run"]["step"] or None, 30,
               "the emitter to start")
    assert live.api(STEP, {"id": run_id, "key": "emit_gated"})["run"]["step"]["status"] == "RUNNING"

    result = terminate(live, run_id)
    assert result["__typename"] == "TerminateRunSuccess", result
    assert result["run"]["id"] == run_id and result["run"]["status"] in ("CANCELING", "CANCELED")
    assert live.wait(run_id) == "CANCELED"
    run = live.api(STEP, {"id": run_id, "key": "emit_gated"})["run"]
    assert run["failureReason"] == "The run was canceled."
    assert run["step"]["status"] == "CANCELED" and run["step"]["error"] is None
    events = live.events(run_id)
    assert events[-1]["kind"] == "RUN_FINISHED" and events[-1]["message"] == "Run canceled."

    again = terminate(live, run_id)
    assert again["__typename"] == "TerminateRunFailure" and "CANCELED" in again["message"]


def test_terminating_a_queued_run_cancels_it_at_once(live: Live, gates: Gates):
    limit = MAX_CONCURRENT_RUNS
    holding = [live.launch("gated_fanout", gates.config(["a"], before=[0])) for _ in range(limit)]
    queued = live.launch("gated_fanout")
    assert live.status(queued) == "QUEUED"
    result = terminate(live, queued)
    assert result["__typename"] == "TerminateRunSuccess" and result["run"]["status"] == "CANCELED"
    assert live.api(STEP, {"id": queued, "key": "emit_gated"})["run"] == {
        "status": "CANCELED", "failureReason": "Canceled before it started.", "step": None}
    gates.open(0)
    assert [live.wait(run_id) for run_id in holding] == ["SUCCESS"] * limit
    assert live.status(queued) == "CANCELED"


def test_terminating_a_finished_or_unknown_run_is_a_typed_failure(live: Live):
    finished = live.run_to_end("gated_fanout")
    result = terminate(live, finished)
    assert result["__typename"] == "TerminateRunFailure" and "SUCCESS" in result["message"]
    assert live.status(finished) == "SUCCESS"
    missing = unknown_run_id()
    result = terminate(live, missing)
    assert result["__typename"] == "RunNotFoundError" and missing in result["message"]
    assert terminate(live, "not-a-run-id")["__typename"] == "RunNotFoundError"
