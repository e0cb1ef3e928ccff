"""``validateRunConfig``: the launchpad's check-as-you-type, with the launch's own validation and nothing written."""

import json

import pytest

VALIDATE = """query($job: String!, $config: JSONString) {
  validateRunConfig(jobName: $job, runConfig: $config) {
    __typename
    ... on RunConfigValid { jobName }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on JobNotFoundError { message }
  }
}"""
RUN_COUNT = "{ runs { totalCount } }"


def validate(api, job: str, config: object) -> dict:
    return api(VALIDATE, {"job": job, "config": json.dumps(config)})["validateRunConfig"]


@pytest.mark.django_db
def test_a_valid_config_is_valid_and_launches_nothing(api):
    before = api(RUN_COUNT)["runs"]["totalCount"]
    result = validate(api, "big_fanout", {"ops": {"emit_many": {"config": {"n": 5}}}})
    assert result == {"__typename": "RunConfigValid", "jobName": "big_fanout"}
    assert api(RUN_COUNT)["runs"]["totalCount"] == before


@pytest.mark.django_db
def test_every_problem_is_reported_at_its_path_with_a_reason(api):
    result = validate(api, "flaky_fanout", {"ops": {"emit_keys": {"config": {"n": "x", "extra": 1}}}})
    assert result["__typename"] == "RunConfigValidationInvalid"
    errors = {(error["path"], error["reason"]) for error in result["errors"]}
    assert ("ops.emit_keys.config.n", "WRONG_TYPE") in errors
    assert ("ops.emit_keys.config", "UNKNOWN_FIELD") in errors
    wrong_type = next(e for e in result["errors"] if e["reason"] == "WRONG_TYPE")
    assert wrong_type["message"] == "expected int, got str 'x'"


@pytest.mark.django_db
def test_a_config_that_is_not_an_object_and_an_unknown_job_are_typed_results(api):
    assert validate(api, "big_fanout", [1, 2])["__typename"] == "RunConfigValidationInvalid"
    unknown = validate(api, "no_such_job", {})
    assert unknown["__typename"] == "JobNotFoundError" and "no_such_job" in unknown["message"]
