"""``Run.failureGroups`` and re-executing one group, on a real run of ``import_uploads``.

``import_uploads`` (dagviz.examples) imports 60 files; in a first run 13 fail for three causes:
a bad date (ValueError, 6 files), an unknown customer (KeyError, 3) and an unreadable file
(PermissionError, 4). A re-execution stands for "the files were fixed": its keys succeed.
"""

from __future__ import annotations

from tests.graphql.conftest import Live

CONFIG = {"ops": {"import_upload": {"config": {"work_ms": 1}}}}
BAD_DATES = [f"import_upload[upload_{n:03d}]" for n in (3, 13, 23, 33, 43, 53)]
UNKNOWN_CUSTOMERS = [f"import_upload[upload_{n:03d}]" for n in (7, 27, 47)]
UNREADABLE = [f"import_upload[upload_{n:03d}]" for n in (15, 30, 45, 60)]

GROUPS = """query($id: ID!, $first: Int) { run(id: $id) {
  failureGroups(first: $first) { signature errorClass message count sampleKeys firstFailedAt lastFailedAt } } }"""

GROUP_STEPS = """query($id: ID!, $signature: String) { run(id: $id) {
  steps(errorSignature: $signature, first: 100) { totalCount edges { node { key status } } } } }"""

PREVIEW = """mutation($parent: ID!, $strategy: ReexecutionStrategy!, $keys: [String!], $group: String) {
  previewReexecution(parentRunId: $parent, strategy: $strategy, stepKeys: $keys, failureGroup: $group) {
    __typename ... on ReexecutionPlan { toExecute reused }
    ... on ReexecutionError { message } ... on RunNotFoundError { message } ... on InvalidStepKeyError { message }
    ... on PythonError { message } } }"""

REEXECUTE = """mutation($parent: ID!, $strategy: ReexecutionStrategy!, $keys: [String!], $group: String) {
  reexecuteRun(parentRunId: $parent, strategy: $strategy, stepKeys: $keys, failureGroup: $group) {
    __typename ... on LaunchRunSuccess { run { id parentRunId } }
    ... on ReexecutionError { message } ... on RunNotFoundError { message } ... on InvalidStepKeyError { message }
    ... on PythonError { message } } }"""

STEP_STATUSES = """query($id: ID!) { run(id: $id) { steps(first: 1000) { edges { node { key status } } } } }"""


def failed_run(live: Live) -> str:
    return live.run_to_end("import_uploads", CONFIG, expect="FAILURE")


def groups_of(live: Live, run_id: str, first: int | None = None) -> list[dict]:
    return live.api(GROUPS, {"id": run_id, "first": first} if first else {"id": run_id})["run"]["failureGroups"]


def statuses(live: Live, run_id: str) -> dict[str, str]:
    edges = live.api(STEP_STATUSES, {"id": run_id})["run"]["steps"]["edges"]
    return {edge["node"]["key"]: edge["node"]["status"] for edge in edges}


def test_failed_keys_are_grouped_by_cause_with_counts_samples_and_times(live: Live):
    run_id = failed_run(live)

    groups = groups_of(live, run_id)
    assert [(g["errorClass"], g["count"], g["message"]) for g in groups] == [
        ("ValueError", 6, "invalid date '<v>' in row <n>"),
        ("PermissionError", 4, "Permission denied: '<v>'"),
        ("KeyError", 3, "'<v>'"),
    ]
    assert [g["sampleKeys"] for g in groups] == [BAD_DATES[:5], UNREADABLE, UNKNOWN_CUSTOMERS]
    assert len({g["signature"] for g in groups}) == 3
    assert all(g["firstFailedAt"] <= g["lastFailedAt"] for g in groups)
    assert groups_of(live, run_id, first=1) == groups[:1]

    # The key table's filter: exactly the group's failed keys, in step order.
    for group, keys in zip(groups, (BAD_DATES, UNREADABLE, UNKNOWN_CUSTOMERS)):
        steps = live.api(GROUP_STEPS, {"id": run_id, "signature": group["signature"]})["run"]["steps"]
        assert steps["totalCount"] == len(keys)
        assert [edge["node"]["key"] for edge in steps["edges"]] == keys
        assert {edge["node"]["status"] for edge in steps["edges"]} == {"FAILURE"}


def test_a_run_without_failures_has_no_groups(live: Live):
    run_id = live.run_to_end("gated_fanout")
    assert groups_of(live, run_id) == []


def test_reexecuting_a_group_runs_its_keys_and_downstream_and_reuses_every_output(live: Live):
    parent = failed_run(live)
    bad_dates = groups_of(live, parent)[0]
    before = statuses(live, parent)
    succeeded = {key for key, status in before.items() if status == "SUCCESS"}
    other_failed = set(UNKNOWN_CUSTOMERS + UNREADABLE)

    plan = live.api(PREVIEW, {"parent": parent, "strategy": "FROM_SELECTED", "group": bad_dates["signature"]})
    plan = plan["previewReexecution"]
    assert plan["__typename"] == "ReexecutionPlan", plan
    # The group's keys and the collect downstream of them run; the other causes' keys are left out (as
    # Dagster leaves out what a selection does not cover); every output the parent produced is reused.
    assert set(plan["toExecute"]) == set(BAD_DATES) | {"report_imports"}
    assert set(plan["reused"]) == succeeded

    launched = live.api(REEXECUTE, {"parent": parent, "strategy": "FROM_SELECTED",
                                    "group": bad_dates["signature"]})["reexecuteRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = launched["run"]["id"]
    assert launched["run"]["parentRunId"] == parent
    assert live.wait(child) == "SUCCESS"
    after = statuses(live, child)
    assert {key for key, status in after.items() if status == "REUSED"} == set(plan["reused"])
    assert {key for key, status in after.items() if status == "SUCCESS"} == set(plan["toExecute"])
    assert {key for key, status in after.items() if status == "SKIPPED"} == other_failed
    assert groups_of(live, child) == []

    # SELECTED with a group: exactly its keys are forced; the downstream collect still runs (it has no
    # output in the parent), and nothing that succeeded runs again.
    selected = live.api(PREVIEW, {"parent": parent, "strategy": "SELECTED", "group": bad_dates["signature"]})
    assert set(BAD_DATES) <= set(selected["previewReexecution"]["toExecute"])
    assert not succeeded & set(selected["previewReexecution"]["toExecute"])


def test_an_unknown_or_misused_failure_group_is_a_reexecution_error_and_launches_nothing(live: Live):
    parent = failed_run(live)
    signature = groups_of(live, parent)[0]["signature"]
    runs_before = live.api("{ runs { totalCount } }")["runs"]["totalCount"]

    cases = [
        ({"strategy": "FROM_SELECTED", "group": "0123456789abcdef"}, "no failure group '0123456789abcdef'"),
        ({"strategy": "FROM_FAILURE", "group": signature}, "use it with FROM_SELECTED or SELECTED"),
        ({"strategy": "FROM_SELECTED", "group": signature, "keys": ["import_upload[upload_001]"]},
         "either step keys or a failure group"),
    ]
    for variables, words in cases:
        for query, name in ((PREVIEW, "previewReexecution"), (REEXECUTE, "reexecuteRun")):
            result = live.api(query, {"parent": parent, **variables})[name]
            assert result["__typename"] == "ReexecutionError", (variables, result)
            assert words in result["message"], result["message"]
    assert live.api("{ runs { totalCount } }")["runs"]["totalCount"] == runs_before

    errors = live.api.errors(GROUPS, {"id": parent, "first": -1})
    assert "first must be between 0 and 200" in errors[0]["message"]
