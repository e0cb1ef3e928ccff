"""A subscription sent with ``POST /graphql`` is told where subscriptions are served (HTTP 400), not an internal error."""

from __future__ import annotations

import pytest

from tests.graphql.conftest import UNKNOWN_RUN_ID, GraphQLHttp

pytestmark = pytest.mark.django_db(transaction=True)

RUN_UPDATES = "subscription Follow($runId: ID!) { runUpdates(runId: $runId) { status cursor finished } }"


@pytest.mark.parametrize("body", [
    {"query": RUN_UPDATES, "variables": {"runId": UNKNOWN_RUN_ID}},
    {"query": "subscription { runUpdates(runId: \"%s\") { status } }" % UNKNOWN_RUN_ID},
    {"query": "query Status { runs { totalCount } } " + RUN_UPDATES, "operationName": "Follow",
     "variables": {"runId": UNKNOWN_RUN_ID}},
], ids=["named", "anonymous", "chosen-among-several"])
def test_a_subscription_over_http_is_a_typed_client_error_naming_the_websocket(api: GraphQLHttp, body):
    response = api.post(body)
    assert response.status == 400, (response.status, response.text)
    answer = response.json()
    assert "data" not in answer or answer["data"] is None
    [error] = answer["errors"]
    assert error["message"].startswith(
        "Subscriptions are served over the websocket at /graphql (graphql-transport-ws); HTTP POST cannot run them.")
    assert "Internal error" not in response.text and "TypeError" not in response.text
    assert error["extensions"] == {"code": "SUBSCRIPTION_OVER_HTTP", "websocket": "/graphql",
                                   "subprotocol": "graphql-transport-ws"}
    if body.get("operationName"):
        assert "'Follow'" in error["message"]


def test_a_query_beside_a_subscription_in_one_document_still_runs_over_http(api: GraphQLHttp):
    response = api.post({"query": "query Status { runs { totalCount } } " + RUN_UPDATES, "operationName": "Status"})
    assert response.status == 200, response.text
    assert response.json() == {"data": {"runs": {"totalCount": 0}}}
