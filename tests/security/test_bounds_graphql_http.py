"""Hostile GraphQL and HTTP requests against a real daphne: NUL bytes, oversized and deep JSON, path traversal.

Every answer must be a refusal the client can read (a GraphQL error or a typed result, HTTP 400 or
404), identical on SQLite and PostgreSQL, and never "Internal error" or HTTP 500.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest

from runs.models import Run, RunStatus, Step
from tests.graphql.conftest import LAUNCH, GraphQLHttp, api, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

NUL = "a\x00b"
RUN_STEPS = """query($id: ID!, $key: String, $error: String) { run(id: $id) {
  steps(keyContains: $key, errorContains: $error) { edges { node { key } } } } }"""
VALIDATE = """query($config: JSONString) { validateRunConfig(jobName: "process_directory", runConfig: $config) {
  __typename ... on RunConfigValidationInvalid { errors { path message } } } }"""


@pytest.fixture
def run_id() -> str:
    """A committed run with one failed step, so every step argument reaches its resolver."""
    run = Run.objects.create(job_name="process_directory", status=RunStatus.FAILURE, output_store="memory://")
    Step.objects.create(run=run, key="process_file[a]", node="process_file", mapping_keys=["a"], order=0,
                        status="FAILURE", error={"class_name": "ValueError", "message": "boom", "stack": ""})
    return str(run.id)


def assert_refused_for_nul(api: GraphQLHttp, query: str, variables: dict, argument: str) -> None:
    errors = api.errors(query, variables)
    assert len(errors) == 1, errors
    assert "NUL byte" in errors[0]["message"] and argument in errors[0]["message"], errors
    assert "Internal error" not in errors[0]["message"]


@pytest.mark.parametrize("query, variables, argument", [
    ('query($id: ID!, $key: String!) { run(id: $id) { step(key: $key) { key } } }', {"key": NUL}, "key"),
    (RUN_STEPS, {"key": NUL}, "key_contains"),
    (RUN_STEPS, {"error": NUL}, "error_contains"),
    ('query($job: String) { runs(jobName: $job) { edges { node { id } } } }', {"job": NUL}, "job_name"),
    (LAUNCH, {"job": "process_directory", "tags": json.dumps({"team": NUL})}, "tags.team"),
    (LAUNCH, {"job": "process_directory", "config": json.dumps({"ops": {NUL: {}}})}, "run_config"),
], ids=["step-key", "keyContains", "errorContains", "runs-jobName", "launch-tags", "launch-config"])
def test_a_nul_byte_in_any_argument_is_a_graphql_error_saying_so(api, run_id, query, variables, argument):
    assert_refused_for_nul(api, query, {"id": run_id, **variables}, argument)
    assert Run.objects.count() == 1  # nothing launched


def test_the_same_arguments_without_nul_still_answer(api, run_id):
    data = api(RUN_STEPS, {"id": run_id, "key": "file[a", "error": "boo"})
    assert [edge["node"]["key"] for edge in data["run"]["steps"]["edges"]] == ["process_file[a]"]


def test_a_json_run_config_past_the_value_limit_is_refused_quickly_naming_it(api):
    config = json.dumps({"execution": {"in_process": {"x": [0] * 100_001}}})
    started = time.monotonic()
    result = api(VALIDATE, {"config": config})["validateRunConfig"]
    assert time.monotonic() - started < 5
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert "DAGVIZ_MAX_RUN_CONFIG_NODES" in result["errors"][0]["message"]
    launched = api(LAUNCH, {"job": "process_directory", "config": config})["launchRun"]
    assert launched["__typename"] == "RunConfigValidationInvalid", launched
    assert "DAGVIZ_MAX_RUN_CONFIG_NODES" in launched["errors"][0]["message"]
    assert Run.objects.count() == 0


DEEP_BODY = ('{"query": "query($c: JSONString) { validateRunConfig(jobName: \\"x\\", runConfig: $c) { __typename } }", '
             f'"variables": {{"c": {"[" * 10_000 + "]" * 10_000}}}}}')


def test_variables_nested_ten_thousand_deep_are_a_400_not_a_500(api):
    response = api.post(DEEP_BODY.encode())
    assert response.status == 400, (response.status, response.text[:500])
    assert "nested too deeply" in response.text


def test_a_json_string_variable_nested_ten_thousand_deep_is_a_graphql_error(api):
    response = api.post({"query": VALIDATE, "variables": {"config": "[" * 10_000 + "]" * 10_000}})
    assert response.status in (200, 400), (response.status, response.text[:500])
    errors = response.json()["errors"]
    assert "$config" in errors[0]["message"] and "Internal error" not in errors[0]["message"], errors


def raw_get(base: str, path: str) -> int:
    """GET ``path`` exactly as written (no client-side ``..`` normalisation); the status code."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.parametrize("path", [
    "/static/../dagviz/server/settings.py",
    "/static/../../dagviz/server/settings.py",
    "/static/%2e%2e/dagviz/server/settings.py",
    "/static/..%2fdagviz%2fserver%2fsettings.py",
    "/static/dagviz/../../dagviz/server/settings.py",
    "/static/dagviz/js/..%5c..%5c..%5cdagviz%5cserver%5csettings.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
])
def test_static_paths_that_climb_out_of_the_static_folders_are_404(server, path):
    assert raw_get(server.base, "/static/dagviz/js/graphql.js") == 200  # the same server does serve static files
    assert raw_get(server.base, path) == 404
