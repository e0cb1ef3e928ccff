"""``previewReexecution`` gives every step the reason it runs (``steps { stepKey reason }``), beside toExecute/reused."""

from __future__ import annotations

import pytest

from tests.graphql.conftest import Live

pytestmark = pytest.mark.django_db(transaction=True)

PREVIEW = """mutation($parent: ID!, $strategy: ReexecutionStrategy!, $keys: [String!]) {
  previewReexecution(parentRunId: $parent, strategy: $strategy, stepKeys: $keys) {
    __typename
    ... on ReexecutionPlan { toExecute reused steps { stepKey reason } }
    ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message }
  } }"""

FLAKY = {"ops": {"emit_keys": {"config": {"n": 5}}, "flaky_work": {"config": {"fail_keys": ["k1", "k3"], "sleep_ms": 1}}}}
REUSED_KEYS = ["emit_keys", "flaky_work[k0]", "flaky_work[k2]", "flaky_work[k4]"]


def reasons(live: Live, parent: str, strategy: str, keys: list[str] | None = None) -> dict[str, str]:
    plan = live.api(PREVIEW, {"parent": parent, "strategy": strategy, "keys": keys})["previewReexecution"]
    assert plan["__typename"] == "ReexecutionPlan", plan
    assert [step["stepKey"] for step in plan["steps"]] == plan["toExecute"] + plan["reused"]
    return {step["stepKey"]: step["reason"] for step in plan["steps"]}


def test_each_strategy_previews_the_reason_every_step_runs(live: Live):
    parent = live.run_to_end("flaky_fanout", FLAKY, expect="FAILURE")
    reused = {key: "reused from parent" for key in REUSED_KEYS}

    assert reasons(live, parent, "FROM_FAILURE") == {
        "flaky_work[k1]": "failed in parent", "flaky_work[k3]": "failed in parent", "total": "skipped in parent",
        **reused}
    # As in Dagster 1.13, a selection runs only itself (and what is downstream of it): the keys that failed
    # elsewhere are left out (skipped in the child), not run again.
    assert reasons(live, parent, "FROM_SELECTED", ["flaky_work[k0]"]) == {
        "flaky_work[k0]": "selected", "total": "downstream of selected",
        **{key: reason for key, reason in reused.items() if key != "flaky_work[k0]"}}
    assert reasons(live, parent, "SELECTED", ["flaky_work[k0]"]) == {
        "flaky_work[k0]": "selected",
        **{key: reason for key, reason in reused.items() if key != "flaky_work[k0]"}}
    everything = reasons(live, parent, "ALL")
    assert set(everything.values()) == {"all"} and len(everything) == 7


def test_a_bad_selection_is_still_a_typed_error(live: Live):
    parent = live.run_to_end("flaky_fanout", FLAKY, expect="FAILURE")
    plan = live.api(PREVIEW, {"parent": parent, "strategy": "FROM_SELECTED", "keys": ["flaky_work[nope]"]})
    assert plan["previewReexecution"]["__typename"] == "InvalidStepKeyError"
    assert "flaky_work[nope]" in plan["previewReexecution"]["message"]
