"""Queries over HTTP against a real daphne server: jobs and their graphs, one run's fields, steps and events.

Two finished runs are made once for the module, through the API: ``flaky_fanout`` with five
keys of which k1 and k3 fail (so the run fails and ``total`` is skipped), and ``gated_fanout``
whose keys are yielded in an order that is not sorted order. The tests only read them, through
the server; their ``django_db`` mark (a rolled-back transaction that stays idle) only makes sure
the test database exists. Module fixtures are set up before it, so the runs are committed.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.graphql.conftest import GraphQLHttp, Live, _stop_leftover_workers

FLAKY_CONFIG = {"ops": {"emit_keys": {"config": {"n": 5}},
                        "flaky_work": {"config": {"fail_keys": ["k1", "k3"], "sleep_ms": 1}}}}
FLAKY_STEPS = ["emit_keys", "flaky_work[k0]", "flaky_work[k1]", "flaky_work[k2]", "flaky_work[k3]",
               "flaky_work[k4]", "total"]
YIELD_ORDER = ["zeta", "alpha", "mid", "beta"]
GATED_CONFIG = {"ops": {"emit_gated": {"config": {"keys": YIELD_ORDER}}}}
TAGS = {"team": "graphql-tests", "ticket": "4"}

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def finished(server, django_db_blocker) -> dict[str, str]:
    """Run ids of the module's two finished runs; deleted (with their steps and events) afterwards."""
    live = Live(server)
    with django_db_blocker.unblock():
        try:
            flaky = live.launch("flaky_fanout", FLAKY_CONFIG, TAGS)
            gated = live.launch("gated_fanout", GATED_CONFIG)
            assert live.wait(flaky) == "FAILURE"
            assert live.wait(gated) == "SUCCESS"
            yield {"flaky": flaky, "gated": gated}
        finally:
            _stop_leftover_workers()
            from runs.models import Run

            Run.objects.filter(id__in=live.launched).delete()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- jobs -----------------------------------------------------------------------------------------------


def test_jobs_lists_every_workspace_job_by_name(api: GraphQLHttp):
    jobs = api("{ jobs { name description } }")["jobs"]
    names = [job["name"] for job in jobs]
    assert names == sorted(names)
    assert set(names) == {"big_fanout", "flaky_fanout", "import_uploads", "long_words_report", "nested_fanout",
                          "process_directory",
                          "streaming_fanout", "tolerant_import",
                          "gated_fanout", "reported_fanout", "loud_failures"}
    assert all(job["description"] for job in jobs)


GRAPH = """query($name: String!) { job(name: $name) { name description graph { nodes {
  name opName description isDynamicMapped isDynamicCollect
  outputs { name isDynamic } inputs { name fromNode fromOutput kind } } } } }"""


def test_job_graph_marks_fanout_nodes_and_every_input_kind(api: GraphQLHttp):
    job = api(GRAPH, {"name": "gated_fanout"})["job"]
    assert job["name"] == "gated_fanout" and "sum" in job["description"]
    nodes = {node["name"]: node for node in job["graph"]["nodes"]}
    assert list(nodes) == ["emit_gated", "square", "add_up", "describe_total"]
    marks = {name: (node["isDynamicMapped"], node["isDynamicCollect"]) for name, node in nodes.items()}
    assert marks == {"emit_gated": (False, False), "square": (True, False), "add_up": (False, True),
                     "describe_total": (False, False)}
    assert nodes["emit_gated"]["outputs"] == [{"name": "result", "isDynamic": True}]
    assert nodes["square"]["outputs"] == [{"name": "result", "isDynamic": False}]
    assert nodes["emit_gated"]["inputs"] == []
    assert nodes["square"]["inputs"] == [{"name": "value", "fromNode": "emit_gated", "fromOutput": "result",
                                          "kind": "DYNAMIC"}]
    assert nodes["add_up"]["inputs"] == [{"name": "values", "fromNode": "square", "fromOutput": "result",
                                          "kind": "COLLECT"}]
    assert nodes["describe_total"]["inputs"] == [{"name": "total", "fromNode": "add_up", "fromOutput": "result",
                                                  "kind": "PLAIN"}]
    assert nodes["emit_gated"]["opName"] == "emit_gated"
    assert "Yield one key" in nodes["emit_gated"]["description"]


def test_a_nested_fanout_node_can_be_mapped_and_a_collect_at_once(api: GraphQLHttp):
    nodes = {node["name"]: node for node in api(GRAPH, {"name": "nested_fanout"})["job"]["graph"]["nodes"]}
    marks = {name: (node["isDynamicMapped"], node["isDynamicCollect"]) for name, node in nodes.items()}
    assert marks == {"regions": (False, False), "customers": (True, False), "score": (True, False),
                     "region_total": (True, True), "overall": (False, True)}
    assert [i["kind"] for i in nodes["score"]["inputs"]] == ["DYNAMIC"]
    assert [i["kind"] for i in nodes["region_total"]["inputs"]] == ["COLLECT"]


def test_default_run_config_fills_in_every_default_and_matches_the_config_schema(api: GraphQLHttp):
    query = "query($name: String!) { job(name: $name) { configSchema defaultRunConfig } }"
    flaky = api(query, {"name": "flaky_fanout"})["job"]
    assert json.loads(flaky["defaultRunConfig"]) == {
        "ops": {"emit_keys": {"config": {"n": 20}},
                "flaky_work": {"config": {"fail_keys": ["k3", "k7"], "sleep_ms": 200}},
                "total": {}},
        "execution": {"in_process": {}},
    }
    gated = api(query, {"name": "gated_fanout"})["job"]
    assert json.loads(gated["defaultRunConfig"]) == {
        "ops": {"emit_gated": {"config": {"keys": ["zeta", "alpha", "mid"], "gate_dir": "", "gate_before": []}},
                "square": {}, "add_up": {}, "describe_total": {"config": {"prefix": "total="}}},
        "execution": {"in_process": {}},
    }
    schema = json.loads(flaky["configSchema"])
    work = schema["fields"]["ops"]["fields"]["flaky_work"]["fields"]["config"]["fields"]
    assert work["sleep_ms"]["type"] == "int" and work["sleep_ms"]["default"] == 200
    assert work["fail_keys"]["type"] == "Array" and work["fail_keys"]["description"]
    assert set(schema["fields"]["execution"]["fields"]) >= {"in_process", "multiprocess"}


def test_a_config_class_and_a_resource_give_the_same_schema_and_defaults_as_field_schemas(api: GraphQLHttp):
    query = "query($name: String!) { job(name: $name) { configSchema defaultRunConfig } }"
    report = api(query, {"name": "long_words_report"})["job"]
    defaults = json.loads(report["defaultRunConfig"])
    assert defaults["ops"]["word_report"] == {"config": {"min_length": 5, "top": 5}}
    assert set(defaults["resources"]) == {"library"}
    schema = json.loads(report["configSchema"])
    config = schema["fields"]["ops"]["fields"]["word_report"]["fields"]["config"]["fields"]
    assert config["top"] == {"type": "int", "required": False, "default": 5}
    library = schema["fields"]["resources"]["fields"]["library"]["fields"]["config"]["fields"]
    assert library["directory"]["type"] == "str"


def test_an_unknown_job_is_a_graphql_error(api: GraphQLHttp):
    answer = api.request('{ job(name: "no_such_job") { name } }')
    assert answer["data"] == {"job": None}
    assert "no_such_job" in answer["errors"][0]["message"]


# -- one run --------------------------------------------------------------------------------------------


RUN = """query($id: ID!) { run(id: $id) {
  id jobName status runConfig tags createdAt startedAt endedAt parentRunId rootRunId failureReason childRunIds
  nodeStats { node total pending running succeeded failed skipped reused } } }"""


def test_run_fields_and_node_stats_of_a_failed_run(api: GraphQLHttp, finished):
    run = api(RUN, {"id": finished["flaky"]})["run"]
    assert run["id"] == finished["flaky"] and run["jobName"] == "flaky_fanout" and run["status"] == "FAILURE"
    assert json.loads(run["runConfig"]) == FLAKY_CONFIG
    assert json.loads(run["tags"]) == TAGS
    assert parse_time(run["createdAt"]) <= parse_time(run["startedAt"]) <= parse_time(run["endedAt"])
    assert run["parentRunId"] is None and run["rootRunId"] is None and run["childRunIds"] == []
    assert run["failureReason"] and "flaky_work" in run["failureReason"]
    zero = {"pending": 0, "running": 0, "succeeded": 0, "failed": 0, "skipped": 0, "reused": 0}
    assert run["nodeStats"] == [
        {"node": "emit_keys", "total": 1, **zero, "succeeded": 1},
        {"node": "flaky_work", "total": 5, **zero, "succeeded": 3, "failed": 2},
        {"node": "total", "total": 1, **zero, "skipped": 1},
    ]
    one = api('query($id: ID!) { run(id: $id) { nodeStats(node: "flaky_work") { node total failed } } }',
              {"id": finished["flaky"]})["run"]["nodeStats"]
    assert one == [{"node": "flaky_work", "total": 5, "failed": 2}]


def test_a_successful_run_has_no_failure_reason(api: GraphQLHttp, finished):
    run = api(RUN, {"id": finished["gated"]})["run"]
    assert run["status"] == "SUCCESS" and run["failureReason"] is None
    assert {s["node"]: (s["total"], s["succeeded"]) for s in run["nodeStats"]} == {
        "emit_gated": (1, 1), "square": (4, 4), "add_up": (1, 1), "describe_total": (1, 1)}


# -- steps ----------------------------------------------------------------------------------------------


STEPS = """query($id: ID!, $node: String, $status: [StepStatus!], $key: String, $error: String, $first: Int,
                 $after: String) {
  run(id: $id) { steps(node: $node, status: $status, keyContains: $key, errorContains: $error, first: $first,
                       after: $after) {
    totalCount edges { cursor node { key node mappingKey mappingKeys status } } pageInfo { hasNextPage endCursor } } } }"""


def steps(api: GraphQLHttp, run_id: str, **filters) -> dict:
    return api(STEPS, {"id": run_id, **filters})["run"]["steps"]


def keys(connection: dict) -> list[str]:
    return [edge["node"]["key"] for edge in connection["edges"]]


def test_steps_come_in_yield_order(api: GraphQLHttp, finished):
    mapped = steps(api, finished["gated"], node="square")
    assert keys(mapped) == [f"square[{key}]" for key in YIELD_ORDER]
    assert [edge["node"]["mappingKey"] for edge in mapped["edges"]] == YIELD_ORDER
    assert [edge["node"]["mappingKeys"] for edge in mapped["edges"]] == [[key] for key in YIELD_ORDER]
    everything = keys(steps(api, finished["gated"]))
    assert [key for key in everything if key.startswith("square[")] == [f"square[{key}]" for key in YIELD_ORDER]
    assert sorted(everything) == sorted(["emit_gated", "add_up", "describe_total"] +
                                        [f"square[{key}]" for key in YIELD_ORDER])
    assert everything.index("emit_gated") < everything.index("square[zeta]")


def test_steps_filters(api: GraphQLHttp, finished):
    run_id = finished["flaky"]
    whole = keys(steps(api, run_id))
    assert sorted(whole) == sorted(FLAKY_STEPS)

    def in_order(*expected: str) -> list[str]:
        """Filtered steps keep the connection's order."""
        return [key for key in whole if key in expected]

    assert keys(steps(api, run_id, status=["FAILURE"])) == in_order("flaky_work[k1]", "flaky_work[k3]")
    assert keys(steps(api, run_id, status=["SKIPPED", "FAILURE"])) == in_order(
        "flaky_work[k1]", "flaky_work[k3]", "total")
    succeeded = steps(api, run_id, status=["SUCCESS"])
    assert keys(succeeded) == in_order("emit_keys", "flaky_work[k0]", "flaky_work[k2]", "flaky_work[k4]")
    assert succeeded["totalCount"] == 4
    assert keys(steps(api, run_id, node="flaky_work", status=["SUCCESS"])) == [
        "flaky_work[k0]", "flaky_work[k2]", "flaky_work[k4]"]
    assert keys(steps(api, run_id, key="k3")) == ["flaky_work[k3]"]
    assert keys(steps(api, run_id, key="work[")) == [f"flaky_work[k{i}]" for i in range(5)]
    assert keys(steps(api, run_id, error="failed on purpose")) == ["flaky_work[k1]", "flaky_work[k3]"]
    assert keys(steps(api, run_id, error="key k3 failed")) == ["flaky_work[k3]"]
    assert keys(steps(api, run_id, error="no such text")) == []
    assert keys(steps(api, run_id, node="no_such_node")) == []


def test_steps_pagination_walks_every_step_once(api: GraphQLHttp, finished):
    run_id = finished["flaky"]
    whole = steps(api, run_id)
    assert whole["totalCount"] == 7 and not whole["pageInfo"]["hasNextPage"]
    pages, after = [], None
    while True:
        page = steps(api, run_id, first=2, after=after)
        assert page["totalCount"] == 7
        assert len(page["edges"]) <= 2
        pages.append(keys(page))
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [key for page in pages for key in page] == keys(whole)
    filtered = steps(api, run_id, node="flaky_work", first=3)
    rest = steps(api, run_id, node="flaky_work", first=3, after=filtered["pageInfo"]["endCursor"])
    assert keys(filtered) + keys(rest) == [f"flaky_work[k{i}]" for i in range(5)]
    assert filtered["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert steps(api, run_id, first=0)["edges"] == []


STEP = """query($id: ID!, $key: String!) { run(id: $id) { step(key: $key) {
  key node mappingKey mappingKeys status startedAt endedAt durationMs
  attempts { number status startedAt endedAt error { message className stack } }
  error { message className stack }
  logs { edges { cursor node { level message } } pageInfo { hasNextPage } }
  outputPreview } } }"""


def test_a_failed_step_has_its_attempt_error_and_no_output(api: GraphQLHttp, finished):
    step = api(STEP, {"id": finished["flaky"], "key": "flaky_work[k1]"})["run"]["step"]
    assert (step["key"], step["node"], step["mappingKey"], step["mappingKeys"], step["status"]) == (
        "flaky_work[k1]", "flaky_work", "k1", ["k1"], "FAILURE")
    assert "key k1 failed on purpose" in step["error"]["message"]
    assert step["error"]["className"] == "Failure"
    assert "flaky_work" in step["error"]["stack"]
    [attempt] = step["attempts"]
    assert attempt["number"] == 1 and attempt["status"] == "FAILURE"
    assert attempt["error"]["message"] == step["error"]["message"]
    assert parse_time(attempt["startedAt"]) <= parse_time(attempt["endedAt"])
    assert step["outputPreview"] is None
    assert step["logs"]["edges"] == []


def test_a_succeeded_step_has_its_logs_and_an_output_preview(api: GraphQLHttp, finished):
    step = api(STEP, {"id": finished["flaky"], "key": "flaky_work[k2]"})["run"]["step"]
    assert step["status"] == "SUCCESS" and step["error"] is None
    assert step["outputPreview"] == "4"
    assert [edge["node"] for edge in step["logs"]["edges"]] == [{"level": "INFO", "message": "key k2 done"}]
    assert [attempt["status"] for attempt in step["attempts"]] == ["SUCCESS"]
    assert parse_time(step["startedAt"]) <= parse_time(step["endedAt"]) and step["durationMs"] >= 0
    total = api(STEP, {"id": finished["gated"], "key": "describe_total"})["run"]["step"]
    assert total["outputPreview"] == repr("total=14")  # 0 + 1 + 4 + 9 over the four keys
    assert total["mappingKey"] is None and total["mappingKeys"] == []


def test_an_unknown_step_key_is_null(api: GraphQLHttp, finished):
    assert api(STEP, {"id": finished["flaky"], "key": "flaky_work[k99]"})["run"]["step"] is None


# -- events ---------------------------------------------------------------------------------------------


EVENTS = """query($id: ID!, $after: String, $first: Int) { run(id: $id) { events(after: $after, first: $first) {
  totalCount edges { cursor node { cursor timestamp kind stepKey mappingKey message } }
  pageInfo { hasNextPage endCursor } } } }"""


def test_events_connection_pages_by_cursor(api: GraphQLHttp, finished):
    run_id = finished["gated"]
    whole = api(EVENTS, {"id": run_id, "first": 1000})["run"]["events"]
    every = [edge["node"] for edge in whole["edges"]]
    assert whole["totalCount"] == len(every) and not whole["pageInfo"]["hasNextPage"]
    assert every[0]["kind"] == "RUN_STARTED" and every[-1]["kind"] == "RUN_FINISHED"
    cursors = [int(event["cursor"]) for event in every]
    assert cursors == sorted(set(cursors))
    assert [edge["cursor"] for edge in whole["edges"]] == [event["cursor"] for event in every]
    dynamic = [event for event in every if event["kind"] == "DYNAMIC_OUTPUT"]
    assert [(e["stepKey"], e["mappingKey"]) for e in dynamic] == [("emit_gated", key) for key in YIELD_ORDER]
    started = [e for e in every if e["kind"] == "STEP_STARTED" and e["stepKey"].startswith("square[")]
    assert [e["mappingKey"] for e in started] == YIELD_ORDER

    paged, after = [], None
    while True:
        page = api(EVENTS, {"id": run_id, "after": after, "first": 4})["run"]["events"]
        paged += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == every
    middle = len(every) // 2
    after_middle = api(EVENTS, {"id": run_id, "after": every[middle]["cursor"]})["run"]["events"]["edges"]
    assert [edge["node"] for edge in after_middle] == every[middle + 1:]
    last = api(EVENTS, {"id": run_id, "after": every[-1]["cursor"]})["run"]["events"]
    assert last["edges"] == [] and not last["pageInfo"]["hasNextPage"] and last["pageInfo"]["endCursor"] is None


def test_events_of_one_run_never_include_another_runs(api: GraphQLHttp, finished):
    flaky = api(EVENTS, {"id": finished["flaky"], "first": 1000})["run"]["events"]["edges"]
    gated = api(EVENTS, {"id": finished["gated"], "first": 1000})["run"]["events"]["edges"]
    assert not {e["cursor"] for e in flaky} & {e["cursor"] for e in gated}
    assert {e["node"]["stepKey"] for e in flaky} - {None} <= set(FLAKY_STEPS)


@pytest.mark.parametrize("field", [
    'events(after: "not-a-cursor") { totalCount }',
    'steps(after: "not-a-cursor") { totalCount }',
    'step(key: "flaky_work[k2]") { logs(after: "not-a-cursor") { pageInfo { hasNextPage } } }',
], ids=["events", "steps", "logs"])
def test_a_bad_cursor_is_a_graphql_error_naming_it(api: GraphQLHttp, finished, field):
    errors = api.errors(f"query($id: ID!) {{ run(id: $id) {{ {field} }} }}", {"id": finished["flaky"]})
    assert errors[0]["path"][0] == "run"
    assert "not-a-cursor" in errors[0]["message"], errors


def test_a_negative_page_size_is_a_graphql_error(api: GraphQLHttp, finished):
    errors = api.errors("query($id: ID!) { run(id: $id) { steps(first: -1) { totalCount } } }", {"id": finished["flaky"]})
    assert "first" in errors[0]["message"] and "-1" in errors[0]["message"]
