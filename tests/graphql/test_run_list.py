"""The ``runs`` connection: newest first, filtered by status and job name, paginated with first/after."""

from __future__ import annotations

import pytest

from tests.graphql.conftest import Live

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = """query($status: [RunStatus!], $job: String, $first: Int, $after: String) {
  runs(status: $status, jobName: $job, first: $first, after: $after) {
    totalCount edges { cursor node { id jobName status } } pageInfo { hasNextPage endCursor } } }"""

FAILING = {"ops": {"emit_keys": {"config": {"n": 2}}, "flaky_work": {"config": {"fail_keys": ["k0"], "sleep_ms": 1}}}}


def ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def test_runs_newest_first_with_filters_and_pages(live: Live):
    oldest = live.launch("gated_fanout")
    failing = live.launch("flaky_fanout", FAILING)
    newest = live.launch("gated_fanout")
    assert [live.wait(run) for run in (oldest, failing, newest)] == ["SUCCESS", "FAILURE", "SUCCESS"]

    def runs(**arguments) -> dict:
        return live.api(RUNS, arguments)["runs"]

    everything = runs()
    assert ids(everything) == [newest, failing, oldest]
    assert [edge["cursor"] for edge in everything["edges"]] == [newest, failing, oldest]
    assert everything["totalCount"] == 3 and not everything["pageInfo"]["hasNextPage"]
    assert [edge["node"]["jobName"] for edge in everything["edges"]] == ["gated_fanout", "flaky_fanout",
                                                                         "gated_fanout"]

    assert ids(runs(status=["FAILURE"])) == [failing]
    assert ids(runs(status=["SUCCESS"])) == [newest, oldest]
    assert ids(runs(status=["SUCCESS", "FAILURE"])) == [newest, failing, oldest]
    assert ids(runs(status=["QUEUED", "STARTED", "CANCELED"])) == []
    assert ids(runs(job="flaky_fanout")) == [failing]
    assert ids(runs(job="gated_fanout", status=["FAILURE"])) == []
    assert runs(job="gated_fanout")["totalCount"] == 2
    assert ids(runs(job="no_such_job")) == []

    first = runs(first=2)
    assert ids(first) == [newest, failing]
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": failing}
    assert first["totalCount"] == 3
    second = runs(first=2, after=first["pageInfo"]["endCursor"])
    assert ids(second) == [oldest]
    assert second["pageInfo"] == {"hasNextPage": False, "endCursor": oldest}
    assert ids(runs(first=1, after=newest, status=["SUCCESS"])) == [oldest]
    empty = runs(after=oldest)
    assert empty["edges"] == [] and empty["pageInfo"] == {"hasNextPage": False, "endCursor": None}


def test_a_runs_cursor_that_is_not_a_run_is_a_graphql_error(live: Live):
    errors = live.api.errors(RUNS, {"after": "not-a-run"})
    assert "not-a-run" in errors[0]["message"]
