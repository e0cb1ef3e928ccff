"""``reloadWorkspace`` over HTTP, against a daphne server whose workspace is a file the tests edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.graphql.conftest import DaphneServer, GraphQLHttp

JOBS = """
from dagviz import job, op

@op
def report():
    return 1
"""
JOB = """
@job(description={description!r})
def {name}():
    report()
"""
RELOAD = """mutation { reloadWorkspace { jobs { name description } workspaceErrors { location message } } }"""


def source(**descriptions: str) -> str:
    return JOBS + "".join(JOB.format(name=name, description=text) for name, text in descriptions.items())


@pytest.fixture(scope="module")
def jobs_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reload-workspace") / "jobs.py"
    path.write_text(source(first="the first"))
    return path


@pytest.fixture(scope="module")
def reload_api(django_db_setup, django_db_blocker, jobs_file) -> GraphQLHttp:
    """A server of its own: reloading changes what it serves, which no other test should see."""
    with django_db_blocker.unblock():
        server = DaphneServer({"DAGVIZ_WORKSPACE": str(jobs_file)}, name="daphne-reload")
    yield GraphQLHttp(server)
    server.stop()


def job_names(api: GraphQLHttp) -> list[str]:
    return [job["name"] for job in api("{ jobs { name } }")["jobs"]]


def test_reload_serves_edited_jobs_keeps_them_through_a_syntax_error_and_recovers(reload_api, jobs_file):
    assert job_names(reload_api) == ["first"]
    jobs_file.write_text(source(first="edited", second="new"))
    assert job_names(reload_api) == ["first"]  # nothing changes until a reload

    reloaded = reload_api(RELOAD)["reloadWorkspace"]
    assert reloaded == {"jobs": [{"name": "first", "description": "edited"}, {"name": "second", "description": "new"}],
                        "workspaceErrors": []}
    assert job_names(reload_api) == ["first", "second"]

    jobs_file.write_text(source(first="broken", third="never seen") + "\ndef broken(:\n")
    broken = reload_api(RELOAD)["reloadWorkspace"]
    assert [job["description"] for job in broken["jobs"]] == ["edited", "new"]  # the last good code
    [error] = broken["workspaceErrors"]
    assert error["location"] == str(jobs_file)
    assert "Traceback" in error["message"] and "SyntaxError" in error["message"]
    assert reload_api("{ workspaceErrors { message } }")["workspaceErrors"] == [{"message": error["message"]}]

    jobs_file.write_text(source(first="fixed"))
    fixed = reload_api(RELOAD)["reloadWorkspace"]
    assert fixed == {"jobs": [{"name": "first", "description": "fixed"}], "workspaceErrors": []}
    assert reload_api("{ workspaceErrors { message } }")["workspaceErrors"] == []


def test_the_result_is_an_object_type_that_also_answers_a_fragment(reload_api):
    answer = reload_api("""mutation { reloadWorkspace { __typename
        ... on ReloadWorkspaceSuccess { jobs { name graph { nodes { name } } } } } }""")["reloadWorkspace"]
    assert answer["__typename"] == "ReloadWorkspaceSuccess"
    assert {"name": "first", "graph": {"nodes": [{"name": "report"}]}} in answer["jobs"]
