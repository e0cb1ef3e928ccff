"""Run tags over GraphQL: ``validateRunConfig(tags:)`` and ``launchRun(tags:)`` refuse bad tags with
``InvalidTagsError`` (one entry per bad tag, nothing written) and keep good ones on the run."""

from __future__ import annotations

import json

import pytest

from runs.services.run_tags import MAX_TAG_KEY_LENGTH

VALIDATE = """query($job: String!, $config: JSONString, $tags: JSONString, $selection: [String!]) {
  validateRunConfig(jobName: $job, runConfig: $config, tags: $tags, opSelection: $selection) {
    __typename
    ... on RunConfigValid { jobName }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on InvalidOpSelectionError { message }
    ... on InvalidTagsError { message errors { key message } }
  }
}"""

LAUNCH = """mutation($job: String!, $config: JSONString, $tags: JSONString, $selection: [String!]) {
  launchRun(jobName: $job, runConfig: $config, tags: $tags, opSelection: $selection) {
    __typename
    ... on LaunchRunSuccess { run { id tags opSelection runConfig } }
    ... on InvalidTagsError { message errors { key message } }
  }
}"""
RUN_COUNT = "{ runs { totalCount } }"
BIG_FANOUT_CONFIG = {"ops": {"emit_many": {"config": {"n": 2}}}}


def validate(api, tags: object, config: object = BIG_FANOUT_CONFIG, selection: list[str] | None = None) -> dict:
    return api(VALIDATE, {"job": "big_fanout", "config": json.dumps(config), "tags": json.dumps(tags),
                          "selection": selection})["validateRunConfig"]


@pytest.mark.django_db
def test_valid_tags_are_valid(api):
    assert validate(api, {"team": "data", "ticket": "", "note": "a b=c"})["__typename"] == "RunConfigValid"
    assert validate(api, None)["__typename"] == "RunConfigValid"


@pytest.mark.django_db
def test_each_bad_tag_is_named_with_what_is_wrong(api):
    long_key = "k" * (MAX_TAG_KEY_LENGTH + 1)
    result = validate(api, {"": "x", long_key: "y", "two\nlines": "z", " padded": "w", "count": 3, "ok": "fine"})
    assert result["__typename"] == "InvalidTagsError"
    problems = {error["key"]: error["message"] for error in result["errors"]}
    assert set(problems) == {"", long_key, "two\nlines", " padded", "count"}
    assert "empty" in problems[""]
    assert f"more than the limit of {MAX_TAG_KEY_LENGTH}" in problems[long_key]
    assert "control character" in problems["two\nlines"]
    assert "spaces" in problems[" padded"]
    assert "must be a string, got int 3" in problems["count"]
    assert "Invalid run tags" in result["message"]


@pytest.mark.django_db
def test_tags_are_checked_after_the_op_selection_and_the_config(api):
    assert validate(api, {"": "x"}, selection=["no_such_op"])["__typename"] == "InvalidOpSelectionError"
    wrong = {"ops": {"emit_many": {"config": {"n": "two"}}}}
    assert validate(api, {"": "x"}, config=wrong)["__typename"] == "RunConfigValidationInvalid"


def test_launch_run_refuses_bad_tags_and_writes_nothing(live):
    result = live.api(LAUNCH, {"job": "big_fanout", "config": json.dumps(BIG_FANOUT_CONFIG),
                               "tags": json.dumps({"owner": "me", "": "nobody"})})["launchRun"]
    assert result["__typename"] == "InvalidTagsError"
    assert [error["key"] for error in result["errors"]] == [""]
    assert live.api(RUN_COUNT)["runs"]["totalCount"] == 0


def test_launch_run_keeps_good_tags_and_the_op_selection(live):
    result = live.api(LAUNCH, {"job": "big_fanout", "config": json.dumps(BIG_FANOUT_CONFIG),
                               "tags": json.dumps({"owner": "me", "purpose": "retry with n=2"}),
                               "selection": ["*emit_many"]})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess"
    live.launched.append(result["run"]["id"])
    run = result["run"]
    assert json.loads(run["tags"]) == {"owner": "me", "purpose": "retry with n=2"}
    assert run["opSelection"] == ["*emit_many"]
    assert json.loads(run["runConfig"]) == BIG_FANOUT_CONFIG
    live.wait(run["id"])
