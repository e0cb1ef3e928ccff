"""Op selections and step metadata over HTTP against a real daphne server.

``reported_fanout`` (tests.graphql.jobs): emit_reported -> measure[north, south] -> summarize,
plus label_units apart, whose config is required. Its ops attach metadata to dynamic outputs,
outputs and a failure; one of the values is HTML markup, which must come back as the same text.
"""

from __future__ import annotations

import json

import pytest

from tests.graphql.conftest import Live
from tests.graphql.jobs import MARKUP

pytestmark = pytest.mark.django_db(transaction=True)

LAUNCH = """mutation($job: String!, $config: JSONString, $selection: [String!]) {
  launchRun(jobName: $job, runConfig: $config, opSelection: $selection) {
    __typename
    ... on LaunchRunSuccess { run { id opSelection } }
    ... on InvalidOpSelectionError { message }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on JobNotFoundError { message }
    ... on PythonError { message className }
  } }"""

VALIDATE = """query($job: String!, $config: JSONString, $selection: [String!]) {
  validateRunConfig(jobName: $job, runConfig: $config, opSelection: $selection) {
    __typename
    ... on RunConfigValid { jobName }
    ... on InvalidOpSelectionError { message }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on JobNotFoundError { message }
  } }"""

REEXECUTE = """mutation($parent: ID!, $strategy: ReexecutionStrategy!) {
  reexecuteRun(parentRunId: $parent, strategy: $strategy) {
    __typename
    ... on LaunchRunSuccess { run { id opSelection parentRunId } }
    ... on InvalidOpSelectionError { message }
    ... on ReexecutionError { message }
    ... on PythonError { message className }
  } }"""

RUN = """query($id: ID!) { run(id: $id) { status opSelection
  nodeStats { node total succeeded failed }
  steps(first: 100) { edges { node { key status } } } } }"""

METADATA = """query($id: ID!, $key: String!) { run(id: $id) { step(key: $key) {
  status metadata { label value source outputName mappingKey } } } }"""

RUN_COUNT = "{ runs { totalCount } }"
SUMMARY = ["*summarize"]
SUMMARY_STEPS = {"emit_reported", "measure[north]", "measure[south]", "summarize"}


def launch(live: Live, selection: list[str] | None, config: dict | None = None, job: str = "reported_fanout") -> dict:
    variables = {"job": job, "config": json.dumps(config or {}), "selection": selection}
    return live.api(LAUNCH, variables)["launchRun"]


def launched(live: Live, selection: list[str] | None, config: dict | None = None, expect: str = "SUCCESS") -> str:
    result = launch(live, selection, config)
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["id"]
    live.launched.append(run_id)
    assert live.wait(run_id) == expect
    return run_id


def validate(live: Live, selection: list[str] | None, config: dict | None = None) -> dict:
    variables = {"job": "reported_fanout", "config": json.dumps(config or {}), "selection": selection}
    return live.api(VALIDATE, variables)["validateRunConfig"]


def metadata(live: Live, run_id: str, key: str) -> list[dict]:
    step = live.api(METADATA, {"id": run_id, "key": key})["run"]["step"]
    return [{**entry, "value": json.loads(entry["value"])} for entry in step["metadata"]]


def run_count(live: Live) -> int:
    return live.api(RUN_COUNT)["runs"]["totalCount"]


# -- op selection ----------------------------------------------------------------------------------------


def test_a_run_of_a_selection_has_only_the_selected_steps_and_counts(live: Live):
    run_id = launched(live, SUMMARY)
    run = live.api(RUN, {"id": run_id})["run"]
    assert run["opSelection"] == SUMMARY
    assert {edge["node"]["key"] for edge in run["steps"]["edges"]} == SUMMARY_STEPS
    assert {entry["node"]: entry["total"] for entry in run["nodeStats"]} == {
        "emit_reported": 1, "measure": 2, "summarize": 1}  # label_units is not part of this run


def test_a_run_of_the_whole_job_has_no_selection_and_needs_every_ops_config(live: Live):
    refused = launch(live, None)
    assert refused["__typename"] == "RunConfigValidationInvalid"
    assert any("label_units" in error["path"] + error["message"] for error in refused["errors"]), refused
    assert launch(live, [])["__typename"] == "RunConfigValidationInvalid"  # empty: the whole job
    assert run_count(live) == 0

    run_id = launched(live, None, {"ops": {"label_units": {"config": {"unit": "kg"}}}})
    run = live.api(RUN, {"id": run_id})["run"]
    assert run["opSelection"] is None
    assert {edge["node"]["key"] for edge in run["steps"]["edges"]} == SUMMARY_STEPS | {"label_units"}


def test_an_unknown_op_is_an_invalid_op_selection_error_naming_it_and_launches_nothing(live: Live):
    result = launch(live, ["emit_reported", "no_such_op"])
    assert result["__typename"] == "InvalidOpSelectionError", result
    assert "no_such_op" in result["message"]
    assert run_count(live) == 0


def test_validate_run_config_checks_the_selection_and_the_config_of_the_selected_ops(live: Live):
    assert validate(live, None)["__typename"] == "RunConfigValidationInvalid"
    assert validate(live, SUMMARY) == {"__typename": "RunConfigValid", "jobName": "reported_fanout"}
    assert validate(live, ["label_units"])["__typename"] == "RunConfigValidationInvalid"

    unknown = validate(live, ["*no_such_op"])
    assert unknown["__typename"] == "InvalidOpSelectionError" and "no_such_op" in unknown["message"]

    wrong = validate(live, SUMMARY, {"ops": {"summarize": {"config": {"fail": "maybe"}}}})
    assert wrong["__typename"] == "RunConfigValidationInvalid"
    assert [(error["path"], error["reason"]) for error in wrong["errors"]] == [("ops.summarize.config.fail",
                                                                                "WRONG_TYPE")]
    assert run_count(live) == 0


def test_reexecuting_a_selected_run_keeps_its_selection(live: Live):
    parent = launched(live, SUMMARY, {"ops": {"summarize": {"config": {"fail": True}}}}, expect="FAILURE")
    child = live.api(REEXECUTE, {"parent": parent, "strategy": "ALL"})["reexecuteRun"]
    assert child["__typename"] == "LaunchRunSuccess", child
    assert child["run"]["opSelection"] == SUMMARY and child["run"]["parentRunId"] == parent
    live.launched.append(child["run"]["id"])
    assert live.wait(child["run"]["id"]) == "FAILURE"  # the same config: summarize refuses again
    run = live.api(RUN, {"id": child["run"]["id"]})["run"]
    assert {edge["node"]["key"] for edge in run["steps"]["edges"]} == SUMMARY_STEPS


# -- metadata ---------------------------------------------------------------------------------------------


def test_step_metadata_lists_output_metadata_by_output_and_key(live: Live):
    run_id = launched(live, SUMMARY)
    assert metadata(live, run_id, "emit_reported") == [
        {"label": "position", "value": 0, "source": "OUTPUT", "outputName": "result", "mappingKey": "north"},
        {"label": "position", "value": 1, "source": "OUTPUT", "outputName": "result", "mappingKey": "south"},
    ]
    assert metadata(live, run_id, "measure[south]") == [
        {"label": "scaled", "value": 10, "source": "OUTPUT", "outputName": "result", "mappingKey": None},
        {"label": "note", "value": MARKUP, "source": "OUTPUT", "outputName": "result", "mappingKey": None},
    ]
    assert metadata(live, run_id, "summarize") == [
        {"label": "count", "value": 2, "source": "OUTPUT", "outputName": "result", "mappingKey": None},
        {"label": "detail", "value": {"values": [0, 10], "complete": True}, "source": "OUTPUT",
         "outputName": "result", "mappingKey": None},
    ]


def test_a_failure_carries_its_metadata_and_no_output_metadata(live: Live):
    run_id = launched(live, SUMMARY, {"ops": {"summarize": {"config": {"fail": True}}}}, expect="FAILURE")
    assert metadata(live, run_id, "summarize") == [
        {"label": "threshold", "value": 3, "source": "FAILURE", "outputName": None, "mappingKey": None},
        {"label": "reason", "value": MARKUP, "source": "FAILURE", "outputName": None, "mappingKey": None},
    ]


def test_a_step_without_metadata_has_an_empty_list(live: Live):
    run_id = launched(live, ["label_units"], {"ops": {"label_units": {"config": {"unit": "kg"}}}})
    assert metadata(live, run_id, "label_units") == []
