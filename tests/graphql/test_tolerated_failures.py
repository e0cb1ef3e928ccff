"""A persisted run with a tolerant collect: SUCCESS with Run.toleratedFailures, then repaired from failure."""

from __future__ import annotations

from runs.models import Run, Step

FAST = {"ops": {"import_upload": {"config": {"work_ms": 0}}, "list_uploads": {"config": {"files": 20}}}}
# Of uploads 1-20, numbers 3, 7, 13 and 15 fail in a first run (bad date, unknown customer, unreadable).
FAILING = {"import_upload[upload_003]", "import_upload[upload_007]", "import_upload[upload_013]",
           "import_upload[upload_015]"}

RUN = """query($id: ID!) { run(id: $id) { status toleratedFailures failureReason
  nodeStats { node failed succeeded } } }"""
RUNS = """{ runs(first: 50) { edges { node { id toleratedFailures } } } }"""
REEXECUTE = """mutation($id: ID!) { reexecuteRun(parentRunId: $id, strategy: FROM_FAILURE) {
  __typename ... on LaunchRunSuccess { run { id } } ... on ReexecutionError { message } } }"""


def test_a_tolerant_run_succeeds_with_its_failures_counted_and_repairs_from_failure(live):
    run_id = live.run_to_end("tolerant_import", FAST)  # 16 of 20 = 0.8 >= 0.75
    run = live.api(RUN, {"id": run_id})["run"]
    assert run["status"] == "SUCCESS" and run["toleratedFailures"] == 4 and run["failureReason"] is None
    stats = {entry["node"]: entry for entry in run["nodeStats"]}
    assert stats["import_upload"]["failed"] == 4 and stats["report_imports"]["succeeded"] == 1
    listed = {edge["node"]["id"]: edge["node"]["toleratedFailures"] for edge in live.api(RUNS)["runs"]["edges"]}
    assert listed[run_id] == 4
    assert set(Step.objects.filter(run_id=run_id, status="FAILURE").values_list("key", flat=True)) == FAILING

    result = live.api(REEXECUTE, {"id": run_id})["reexecuteRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    child_id = result["run"]["id"]
    assert live.wait(child_id) == "SUCCESS"
    ran = set(Step.objects.filter(run_id=child_id).exclude(status="REUSED").values_list("key", flat=True))
    assert ran == FAILING | {"report_imports"}
    assert live.api(RUN, {"id": child_id})["run"]["toleratedFailures"] == 0
    assert Run.objects.get(id=child_id).tolerated_failures == 0


def test_too_many_failures_fail_the_collecting_step_and_the_run(live):
    config = {"ops": {**FAST["ops"], "list_uploads": {"config": {"files": 3}}}}  # upload_003 fails: 2 of 3 < 0.75
    run_id = live.run_to_end("tolerant_import", config, expect="FAILURE")
    run = live.api(RUN, {"id": run_id})["run"]
    assert run["toleratedFailures"] == 0
    collect = Step.objects.get(run_id=run_id, key="report_imports")
    assert collect.status == "FAILURE" and collect.error["class_name"] == "MinSuccessRatioError"
    assert "Only 2 of 3 keys of 'import_upload' succeeded" in collect.error["message"]
