"""Answers the GraphQL fuzz (``test_graphql_fuzz.py``) found failing, each kept as a plain example.

- A ``JSONString`` literal that is not JSON was reported as "Internal error (ValueError)": validation
  errors of literals carry the scalar's exception, which was taken for a resolver's.
- A lone surrogate (``"\\ud800"`` in a JSON body) in a string argument reached the database driver,
  which cannot encode it (``UnicodeEncodeError``); in a JSON value PostgreSQL's ``jsonb`` refuses it.
- ``NaN``, ``Infinity`` or ``1e999`` in ``tags`` or ``runConfig`` (Python's JSON parser accepts them)
  could not be stored: ``IntegrityError`` on SQLite, ``DataError`` on PostgreSQL.
- ``failureGroups(first: null)``: an explicit null reached the range check (``TypeError``).

Each must be a refusal the client can read, on SQLite and PostgreSQL, with nothing launched.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dagviz.config.safe_yaml import load_bounded_yaml
from dagviz.errors import InvalidConfigError
from runs.models import Run, RunStatus, Step

pytestmark = pytest.mark.django_db(transaction=True)

LAUNCH = """mutation($job: String!, $config: JSONString, $tags: JSONString) {
  launchRun(jobName: $job, runConfig: $config, tags: $tags) {
    __typename ... on RunConfigValidationInvalid { errors { path message } } } }"""
VALIDATE = """query($config: JSONString) { validateRunConfig(jobName: "letters", runConfig: $config) {
  __typename ... on RunConfigValidationInvalid { errors { path message } } } }"""


@pytest.fixture
def api(settings):
    settings.DEBUG = False
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0  # a launch that got through would stay QUEUED, with no worker
    client = Client()

    def post(query: str, variables: dict | None = None) -> tuple[int, dict]:
        client.cookies.clear()  # no CSRF cookie: a script's request
        response = client.post("/graphql", json.dumps({"query": query, "variables": variables or {}}),
                               content_type="application/json")
        assert response.status_code < 500, response.content[:2000]
        answer = response.json()
        messages = [error["message"] for error in answer.get("errors") or []]
        assert not any(message.startswith("Internal error") for message in messages), messages
        return response.status_code, answer

    return post


@pytest.fixture
def run_id() -> str:
    run = Run.objects.create(job_name="letters", status=RunStatus.FAILURE, output_store="memory://")
    Step.objects.create(run=run, key="shout[a]", node="shout", mapping_keys=["a"], order=0, status="FAILURE",
                        error={"class_name": "ValueError", "message": "boom", "stack": ""})
    return str(run.id)


@pytest.mark.parametrize("query", [
    '{ validateRunConfig(jobName: "letters", runConfig: "{") { __typename } }',
    'mutation { launchRun(jobName: "letters", tags: "not json") { __typename } }',
])
def test_a_json_string_literal_that_is_not_json_is_the_clients_mistake(api, query):
    status, answer = api(query)
    assert status == 400
    assert "Badly formed JSONString" in answer["errors"][0]["message"], answer
    assert Run.objects.count() == 0


SURROGATE = "a\ud800b"
RUN_FIELD = "query($id: ID!, $text: String{required}) {{ run(id: $id) {{ {selection} }} }}"


@pytest.mark.parametrize("query, variables, argument", [
    ("query($text: String) { runs(jobName: $text) { totalCount } }", {"text": SURROGATE}, "job_name"),
    (RUN_FIELD.format(required="!", selection="step(key: $text) { key }"), {"text": SURROGATE}, "key"),
    (RUN_FIELD.format(required="", selection="steps(keyContains: $text) { totalCount }"), {"text": SURROGATE},
     "key_contains"),
    (RUN_FIELD.format(required="", selection="steps(errorContains: $text) { totalCount }"), {"text": SURROGATE},
     "error_contains"),
    (RUN_FIELD.format(required="", selection="steps(node: $text) { totalCount }"), {"text": SURROGATE}, "node"),
    (RUN_FIELD.format(required="", selection="nodeStats(node: $text) { total }"), {"text": SURROGATE}, "node"),
    (LAUNCH, {"job": "letters", "tags": json.dumps({"team": SURROGATE})}, "tags.team"),
    (LAUNCH, {"job": "letters", "config": json.dumps({"ops": {SURROGATE: {}}})}, "run_config"),
], ids=["runs-jobName", "step-key", "keyContains", "errorContains", "steps-node", "nodeStats-node", "launch-tags",
        "launch-config-key"])
def test_a_lone_surrogate_in_any_argument_is_a_graphql_error_saying_so(api, run_id, query, variables, argument):
    _, answer = api(query, {"id": run_id, **variables})
    messages = [error["message"] for error in answer["errors"]]
    assert len(messages) == 1 and "lone surrogate" in messages[0] and argument in messages[0], messages
    assert Run.objects.count() == 1  # nothing launched


def test_characters_beyond_the_basic_plane_are_still_fine(api, run_id):
    _, answer = api(RUN_FIELD.format(required="", selection="steps(keyContains: $text) { totalCount }"),
                    {"id": run_id, "text": "\U0001f600"})
    assert answer == {"data": {"run": {"steps": {"totalCount": 0}}}}


@pytest.mark.parametrize("variables, path", [
    ({"tags": '{"team": NaN}'}, "team"),
    ({"tags": '{"team": Infinity}'}, "team"),
    ({"tags": '{"team": [1, -1e999]}'}, "team[1]"),
    ({"config": '{"execution": {"in_process": {"x": NaN}}}'}, "execution.in_process.x"),
], ids=["tags-NaN", "tags-Infinity", "tags-overflow", "config-NaN"])
def test_a_number_that_is_not_finite_is_refused_naming_it(api, variables, path):
    _, answer = api(LAUNCH, {"job": "letters", **variables})
    result = answer["data"]["launchRun"]
    assert result["__typename"] == "RunConfigValidationInvalid", answer
    assert result["errors"][0]["path"] == path and "only finite numbers" in result["errors"][0]["message"], result
    assert Run.objects.count() == 0


def test_validation_refuses_a_run_config_that_could_not_be_launched(api):
    _, answer = api(VALIDATE, {"config": '{"execution": {"in_process": {"x": -Infinity}}}'})
    assert answer["data"]["validateRunConfig"]["__typename"] == "RunConfigValidationInvalid", answer


def test_a_yaml_run_config_with_nan_is_refused_before_anything_is_stored():
    with pytest.raises(InvalidConfigError, match="only finite numbers"):
        load_bounded_yaml("execution:\n  in_process:\n    x: .nan\n")


@pytest.mark.parametrize("argument", ["", "(first: null)", "(first: 1)"])
def test_failure_groups_take_an_explicit_null_as_the_default(api, run_id, argument):
    _, answer = api(f"query($id: ID!) {{ run(id: $id) {{ failureGroups{argument} {{ errorClass count }} }} }}",
                    {"id": run_id})
    assert answer == {"data": {"run": {"failureGroups": []}}}  # the step row has no signature: no group


def test_failure_groups_refuse_a_negative_first(api, run_id):
    _, answer = api("query($id: ID!) { run(id: $id) { failureGroups(first: -1) { count } } }", {"id": run_id})
    assert "first must be between 0 and" in answer["errors"][0]["message"], answer
