"""GraphQL query limits (``runs/graphql/limits.py``): oversized queries are refused before any resolver runs.

Over HTTP through Django's test client (settings changed per test) and over a real websocket of a
daphne server (the GraphQL tests' session server with the default limits, and one started here with
a zero time budget and a small depth limit). Each refusal names its limit and its setting and carries
its code; the queries of the UI and GraphiQL's introspection query stay within the defaults.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql import get_introspection_query

from runs.graphql.api import schema
from runs.graphql.limits import parse_within_limits
from runs.graphql.pagination import MAX_PAGE
from runs.models import Event, Run, RunStatus, Step
from tests.run_async import run_async
from tests.graphql.conftest import (  # noqa: F401  (server: the GraphQL tests' session fixture)
    DaphneServer,
    GraphQLHttp,
    gql_subscribe,
    server,
    ws_connect,
    ws_init,
    ws_message,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
RUN_TABLES = ("runs_run", "runs_step", "runs_event")
EVENT_FIELDS = "cursor timestamp kind stepKey mappingKey message payload"


# -- queries ------------------------------------------------------------------------------------------


def aliased(count: int, selection: str, variables: str = "") -> str:
    """``count`` aliases of one selection, in one operation."""
    return f"query{variables} {{ " + " ".join(f"a{index}: {selection}" for index in range(count)) + " }"


def events_under_aliases(count: int) -> str:
    """The attack of the issue: ``events(first: 1000)`` of one run under ``count`` aliases."""
    return aliased(count, f"run(id: $id) {{ events(first: 1000) {{ edges {{ node {{ {EVENT_FIELDS} }} }} }} }}",
                   "($id: ID!)")


RUNS_PAGE = "runs(first: $first) { edges { node { id jobName status createdAt startedAt endedAt } } }"  # 9 per run
TOO_MANY_FIELDS = "{ jobs { " + "name " * 600 + "} }"
TOO_MANY_ALIASES = aliased(51, "jobs { name }")
TOO_COSTLY = aliased(6, RUNS_PAGE, "($first: Int = 1000)")  # 6 x 1,000 x 9 = 54,000
DEEP = '{ run(id: "x") { steps { edges { node { error { message } } } } } }'  # depth 6
TOO_LONG = "{ jobs { name } }" + " " * 100_000
TOO_MANY_TOKENS = "{ jobs { " + "name " * 1_000 + "} }"
TOO_MANY_COMMENTS = "#\n" * 1_001 + "{ jobs { name } }"
TOO_NESTED_TO_PARSE = "{ " + "a { " * 300 + "b" + " }" * 301  # deeper than the parser's recursion allows

REFUSALS = [
    pytest.param(TOO_MANY_FIELDS, "QUERY_TOO_MANY_FIELDS",
                 "Query selects 601 fields, more than the limit 500 (DAGVIZ_GRAPHQL_MAX_FIELDS)", id="fields"),
    pytest.param(TOO_MANY_ALIASES, "QUERY_TOO_MANY_ALIASES",
                 "Query uses 51 aliases, more than the limit 50 (DAGVIZ_GRAPHQL_MAX_ALIASES).", id="aliases"),
    pytest.param(TOO_COSTLY, "QUERY_TOO_COSTLY",
                 "Query cost 54,000 exceeds the limit 50,000 (DAGVIZ_GRAPHQL_MAX_COST)", id="cost"),
    pytest.param(TOO_LONG, "QUERY_TOO_LARGE",
                 "Query has 100,017 characters, more than the limit 100,000 (DAGVIZ_GRAPHQL_MAX_QUERY_CHARS).",
                 id="characters"),
    pytest.param(TOO_MANY_TOKENS, "QUERY_TOO_LARGE",
                 "Query has more than 1,000 tokens or comments (DAGVIZ_GRAPHQL_MAX_TOKENS).", id="tokens"),
    pytest.param(TOO_MANY_COMMENTS, "QUERY_TOO_LARGE",
                 "Query has more than 1,000 tokens or comments (DAGVIZ_GRAPHQL_MAX_TOKENS).", id="comments"),
    pytest.param(TOO_NESTED_TO_PARSE, "QUERY_TOO_DEEP",
                 "Query is nested too deeply to parse; the limit is 15 levels (DAGVIZ_GRAPHQL_MAX_DEPTH).",
                 id="nesting"),
]


# -- helpers ------------------------------------------------------------------------------------------


def post(client, query: str, variables: dict | None = None) -> tuple[int, dict]:
    """``POST /graphql`` as a script sends it (JSON, no cookies): the status and the JSON answer."""
    response = client.post("/graphql", json.dumps({"query": query, "variables": variables or {}}),
                           content_type="application/json")
    return response.status_code, response.json()


def refusal(client, query: str, variables: dict | None = None) -> list[dict]:
    """The errors of a query refused before execution: HTTP 400, no data, never an internal error."""
    status, answer = post(client, query, variables)
    assert status == 400, answer
    assert answer.get("data") is None and answer["errors"], answer
    assert not any("Internal error" in error["message"] for error in answer["errors"]), answer
    return answer["errors"]


def codes(errors: list[dict]) -> set[str]:
    return {error.get("extensions", {}).get("code") for error in errors}


def run_queries(captured: CaptureQueriesContext) -> list[str]:
    """The SQL that read runs, steps or events: what a resolver of the query would have run."""
    return [query["sql"] for query in captured.captured_queries if any(table in query["sql"] for table in RUN_TABLES)]


def make_run(events: int = 0, finished: bool = False) -> Run:
    run = Run.objects.create(job_name="gated_fanout", status=RunStatus.SUCCESS, output_store="memory://")
    now = timezone.now()
    rows = [Event(run=run, kind="LOG", timestamp=now + timedelta(microseconds=index), message=f"log {index}",
                  payload={"level": "INFO", "index": index}) for index in range(events)]
    if finished:
        rows.append(Event(run=run, kind="RUN_FINISHED", timestamp=now + timedelta(seconds=1), message="done",
                          payload={"success": True}))
    Event.objects.bulk_create(rows)
    return run


def ui_queries() -> dict[str, str]:
    """Every GraphQL document the UI sends (``static/dagviz/js``) or the pages run in-process (``runs/views.py``)."""
    found = {}
    literal = re.compile(r"const (\w+) = `((?:query|mutation|subscription)\b[^`]*)`")
    for path in sorted((ROOT / "static" / "dagviz" / "js").rglob("*.js")):
        for match in literal.finditer(path.read_text()):
            found[f"{path.name}:{match.group(1)}"] = match.group(2)
    views = (ROOT / "runs" / "views.py").read_text()
    for match in re.finditer(r'^(\w+_QUERY) = """(.*?)"""', views, re.S | re.M):
        found[f"views.py:{match.group(1)}"] = match.group(2)
    return found


# -- before execution, over HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize("query, code, message", REFUSALS)
def test_each_limit_refuses_with_its_message_and_code(client, query, code, message):
    errors = refusal(client, query)
    assert len(errors) == 1, errors
    assert errors[0]["message"].startswith(message), errors
    assert errors[0]["extensions"] == {"code": code}


def test_depth_is_limited(client, settings):
    settings.DAGVIZ_GRAPHQL_MAX_DEPTH = 5
    [error] = refusal(client, DEEP)
    assert error["message"] == "Query depth 6 exceeds the limit 5 (DAGVIZ_GRAPHQL_MAX_DEPTH)."
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP"}
    settings.DAGVIZ_GRAPHQL_MAX_DEPTH = 6
    status, answer = post(client, DEEP)  # within the limit: executed, and the run is unknown
    assert status == 200 and answer["errors"][0]["message"] == "Unknown run 'x'.", answer


@pytest.mark.parametrize("count", [300, 1000])
def test_the_attack_of_many_aliased_event_pages_is_refused_before_any_resolver_runs(client, settings, count):
    run = make_run(events=10)
    with CaptureQueriesContext(connection) as captured:
        errors = refusal(client, events_under_aliases(count), {"id": str(run.id)})
    assert codes(errors) == {"QUERY_TOO_LARGE"}  # by its length, or by its ~34 tokens an alias while it is parsed
    assert run_queries(captured) == []
    # Were the size limits to let it through, each of the other limits would refuse it too.
    settings.DAGVIZ_GRAPHQL_MAX_QUERY_CHARS = settings.DAGVIZ_GRAPHQL_MAX_TOKENS = 1_000_000
    with CaptureQueriesContext(connection) as captured:
        errors = refusal(client, events_under_aliases(count), {"id": str(run.id)})
    assert codes(errors) == {"QUERY_TOO_MANY_FIELDS", "QUERY_TOO_MANY_ALIASES", "QUERY_TOO_COSTLY"}, errors
    assert run_queries(captured) == []
    cost = next(error["message"] for error in errors if error["extensions"]["code"] == "QUERY_TOO_COSTLY")
    assert cost.startswith(f"Query cost {count * (1 + 1000 * 10):,} exceeds the limit 50,000"), cost


def test_the_cost_follows_first_from_literals_variables_and_defaults(client):
    run = make_run(events=3)
    variables = {"id": str(run.id)}
    # A page is `first` items (at most 1,000, as the resolver caps it; 100 when absent).
    assert post(client, aliased(6, RUNS_PAGE, "($first: Int)"), {"first": 10})[0] == 200
    assert post(client, aliased(6, RUNS_PAGE, "($first: Int)"), {})[0] == 200  # 6 x 100 x 9
    assert codes(refusal(client, aliased(6, RUNS_PAGE, "($first: Int)"), {"first": 1000})) == {"QUERY_TOO_COSTLY"}
    assert codes(refusal(client, aliased(6, RUNS_PAGE, "($first: Int)"), {"first": 10 ** 9})) == {"QUERY_TOO_COSTLY"}
    assert codes(refusal(client, aliased(6, RUNS_PAGE.replace("$first", "1000")))) == {"QUERY_TOO_COSTLY"}
    # Nested pages multiply: 1,000 steps x 1,000 logs each.
    nested = ("query($id: ID!) { run(id: $id) { steps(first: 1000) { edges { node { "
              "logs(first: 1000) { edges { node { message } } } } } } } }")
    [error] = refusal(client, nested, variables)
    assert error["message"].startswith("Query cost 4,003,001 exceeds the limit"), error
    status, answer = post(client, nested.replace("1000", "10"), variables)
    assert status == 200 and answer["data"]["run"]["steps"]["edges"] == [], answer


def test_fragments_count_each_time_they_are_spread(client):
    ten_aliases = "fragment Names on Job { " + " ".join(f"n{index}: name" for index in range(10)) + " }"
    four = "{ " + " ".join(f"j{index}: jobs {{ ...Names }}" for index in range(4)) + " } " + ten_aliases
    assert post(client, four)[0] == 200  # 4 + 40 aliases
    five = "{ " + " ".join(f"j{index}: jobs {{ ...Names }}" for index in range(5)) + " } " + ten_aliases
    [error] = refusal(client, five)
    assert error["message"] == "Query uses 55 aliases, more than the limit 50 (DAGVIZ_GRAPHQL_MAX_ALIASES).", error
    # Inline fragments too, and the pages above a fragment's spread multiply its cost.
    page = "fragment Page on Run { events(first: 1000) { edges { node { kind message } } } }"
    costly = aliased(13, "run(id: $id) { ... on Run { ...Page } }", "($id: ID!)") + " " + page
    assert codes(refusal(client, costly, {"id": "x"})) == {"QUERY_TOO_COSTLY"}


def test_a_fragment_bomb_is_measured_without_expanding_it(client):
    """Each fragment spreads the previous one twice: 2**40 selections, measured in a few steps."""
    fragments = ["fragment F0 on Query { jobs { name } }"]
    fragments += [f"fragment F{level} on Query {{ ...F{level - 1} ...F{level - 1} }}" for level in range(1, 41)]
    started = time.monotonic()
    errors = refusal(client, "{ ...F40 } " + " ".join(fragments))
    assert time.monotonic() - started < 2.0
    assert codes(errors) == {"QUERY_TOO_MANY_FIELDS", "QUERY_TOO_COSTLY"}, errors
    assert errors[0]["message"].startswith(f"Query selects {2 * 2 ** 40:,} fields"), errors


@pytest.mark.parametrize("document", [
    "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
    "{ ...A } fragment A on Query { jobs { name } ...A }",
    "{ ...Missing }",
], ids=["cycle", "self", "unknown"])
def test_fragment_cycles_and_unknown_fragments_are_answered_not_looped(client, document):
    errors = refusal(client, document)
    assert re.search(r"Cannot spread fragment|Unknown fragment", errors[0]["message"]), errors


def test_every_query_of_the_ui_is_within_the_default_limits():
    queries = ui_queries()
    assert {"step_index.js:STEPS", "key_table.js:STEPS", "step_drawer.js:STEP", "run.js:RUN_UPDATES",
            "views.py:RUN_QUERY"} <= set(queries)
    for name, query in queries.items():
        document, errors = parse_within_limits(schema.graphql_schema, query, {"first": MAX_PAGE})
        assert document is not None and errors == [], (name, errors)


def test_graphiql_introspection_query_is_within_the_default_limits(client):
    query = get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                    schema_description=True, input_value_deprecation=True)
    status, answer = post(client, query)
    assert status == 200 and "errors" not in answer, answer
    assert {"Run", "Step", "Query"} <= {type_["name"] for type_ in answer["data"]["__schema"]["types"]}


# -- during execution, over HTTP ----------------------------------------------------------------------


def test_a_query_past_its_time_budget_stops_with_the_budget_error(client, settings):
    run = make_run(events=1000)
    query = aliased(3, f"run(id: $id) {{ events(first: 1000) {{ edges {{ node {{ {EVENT_FIELDS} }} }} }} }}",
                    "($id: ID!)")
    status, answer = post(client, query, {"id": str(run.id)})
    assert status == 200 and "errors" not in answer  # within every limit: it runs to the end
    settings.DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS = 0.02  # well under what 3,000 events take to read and resolve
    status, answer = post(client, query, {"id": str(run.id)})
    assert status == 200 and answer["data"] is None, answer
    [error] = answer["errors"]
    assert error["message"].startswith("Query exceeded its time budget of 0.02 s (DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS)")
    assert error["extensions"] == {"code": "QUERY_TIME_BUDGET_EXCEEDED"}
    assert error["path"][0] in ("a0", "a1", "a2"), error  # where it stopped


def test_the_time_budget_holds_queries_not_mutations(client, settings):
    settings.DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS = 0
    status, answer = post(client, "{ jobs { name } }")
    assert answer["errors"][0]["extensions"]["code"] == "QUERY_TIME_BUDGET_EXCEEDED" and answer["data"] is None
    assert answer["errors"][0]["path"] == ["jobs"]
    mutation = ('mutation { deleteRun(runId: "00000000-0000-4000-8000-000000000000") { __typename '
                "... on RunNotFoundError { message } } }")
    status, answer = post(client, mutation)
    assert status == 200 and "errors" not in answer, answer
    assert answer["data"]["deleteRun"]["__typename"] == "RunNotFoundError"


def test_heavy_fields_are_resolved_a_bounded_number_of_times_per_request(client, settings):
    settings.DAGVIZ_GRAPHQL_MAX_PREVIEWS = 3
    run = make_run()
    for index in range(5):
        Step.objects.create(run=run, key=f"work[k{index}]", node="work", mapping_keys=[f"k{index}"], order=index,
                            status="FAILURE", outputs={"result": f"ref{index}"},
                            output_previews={"result": f"preview {index}"},
                            error={"message": "boom", "class_name": "ValueError", "stack": f"stack {index}"})
    query = """query($id: ID!) { run(id: $id) { steps { edges { node {
      key outputPreview error { message stack } } } } } }"""
    status, answer = post(client, query, {"id": str(run.id)})
    assert status == 200, answer
    nodes = [edge["node"] for edge in answer["data"]["run"]["steps"]["edges"]]
    assert [node["key"] for node in nodes] == [f"work[k{index}]" for index in range(5)]
    assert [node["outputPreview"] for node in nodes] == ["preview 0", "preview 1", "preview 2", None, None]
    assert [node["error"]["stack"] for node in nodes] == ["stack 0", "stack 1", "stack 2", None, None]
    assert [node["error"]["message"] for node in nodes] == ["boom"] * 5  # the rest of the page is whole
    by_path = {tuple(error["path"]): error for error in answer["errors"]}
    assert set(by_path) == {("run", "steps", "edges", 3, "node", "outputPreview"),
                            ("run", "steps", "edges", 3, "node", "error", "stack")}, answer["errors"]
    preview = by_path[("run", "steps", "edges", 3, "node", "outputPreview")]
    assert preview["message"] == ("At most 3 values of Step.outputPreview are resolved per request "
                                  "(DAGVIZ_GRAPHQL_MAX_PREVIEWS); this one and the rest are null.")
    assert preview["extensions"] == {"code": "QUERY_TOO_MANY_PREVIEWS"}


def test_first_is_capped_at_the_largest_page(client):
    run = make_run(events=MAX_PAGE + 5)
    query = "query($id: ID!) { run(id: $id) { events(first: 5000) { pageInfo { hasNextPage } edges { cursor } } } }"
    status, answer = post(client, query, {"id": str(run.id)})
    events = answer["data"]["run"]["events"]
    assert status == 200 and len(events["edges"]) == MAX_PAGE and events["pageInfo"]["hasNextPage"] is True


# -- over a real websocket ----------------------------------------------------------------------------


def subscribe_message(query: str, variables: dict | None = None, operation_id: str = "1") -> str:
    payload = {"query": query, "variables": variables or {}}
    return json.dumps({"type": "subscribe", "id": operation_id, "payload": payload})


def ws_answer(ws_url: str, query: str, variables: dict | None = None) -> dict:
    """The first message answering one operation; the connection must stay usable afterwards."""

    async def scenario() -> dict:
        ws = await ws_connect(ws_url)
        await ws_init(ws)
        await ws.send(subscribe_message(query, variables))
        answer = await ws_message(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert await ws_message(ws) == {"type": "pong"}
        await ws.close()
        return answer

    return run_async(scenario(), 30)


def assert_ws_refused(answer: dict, code: str, setting: str) -> list[dict]:
    assert answer["type"] == "error" and answer["id"] == "1", answer
    assert [error["extensions"]["code"] for error in answer["payload"]] == [code], answer
    assert setting in answer["payload"][0]["message"], answer
    return answer["payload"]


@pytest.mark.parametrize("query, code, message", REFUSALS)
def test_each_limit_refuses_over_the_websocket(server, query, code, message):
    [error] = assert_ws_refused(ws_answer(server.ws_url, query), code, re.search(r"\((\w+)\)", message).group(1))
    assert error["message"].startswith(message), error


def test_the_attack_is_refused_over_the_websocket_and_a_subscription_too(server):
    assert_ws_refused(ws_answer(server.ws_url, events_under_aliases(300), {"id": "x"}), "QUERY_TOO_LARGE",
                      "DAGVIZ_GRAPHQL_MAX_TOKENS")
    subscription = "subscription($runId: ID!) { runUpdates(runId: $runId) { steps { " + "key " * 600 + "} } }"
    assert_ws_refused(ws_answer(server.ws_url, subscription, {"runId": "x"}), "QUERY_TOO_MANY_FIELDS",
                      "DAGVIZ_GRAPHQL_MAX_FIELDS")


@pytest.fixture(scope="module")
def strict_server(django_db_setup, django_db_blocker) -> DaphneServer:
    """A server whose queries have no time at all, and whose depth limit is 3."""
    with django_db_blocker.unblock():
        started = DaphneServer(env={"DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS": "0", "DAGVIZ_GRAPHQL_MAX_DEPTH": "3"},
                               name="daphne-strict-limits")
    yield started
    started.stop()


def test_the_time_budget_and_depth_over_the_websocket_and_http(strict_server):
    [error] = assert_ws_refused(ws_answer(strict_server.ws_url, "{ jobs { name } }"), "QUERY_TIME_BUDGET_EXCEEDED",
                                "DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS")
    assert error["message"].startswith("Query exceeded its time budget of 0 s") and error["path"] == ["jobs"]
    assert_ws_refused(ws_answer(strict_server.ws_url, DEEP), "QUERY_TOO_DEEP", "DAGVIZ_GRAPHQL_MAX_DEPTH")
    answer = GraphQLHttp(strict_server).request("{ jobs { name } }")
    assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "QUERY_TIME_BUDGET_EXCEEDED"


def test_subscriptions_are_not_held_to_the_time_budget(strict_server):
    run = make_run(events=5, finished=True)

    async def stream(query: str) -> list[dict[str, Any]]:
        return [data async for data in gql_subscribe(strict_server.ws_url, query, {"runId": str(run.id)}, timeout=20)]

    events = run_async(stream("subscription($runId: ID!) { runEvents(runId: $runId) { kind message } }"))
    assert [event["runEvents"]["kind"] for event in events] == ["LOG"] * 5 + ["RUN_FINISHED"]
    [update] = run_async(stream("subscription($runId: ID!) { runUpdates(runId: $runId) { status finished } }"))
    assert update["runUpdates"] == {"status": "SUCCESS", "finished": True}
