"""Compact event rows through the real server: ``runEvents`` and the ``events`` connection show every event.

A ``big_fanout`` run launched through the API stores each quick step's start, output and success as
one row; the subscription (from the start and resumed at cursors inside such rows) and the paged
``events`` query must still show each event once, in order, with the payloads and messages the
database rows rebuild to.
"""

from __future__ import annotations

import asyncio

import pytest

from runs import event_rows
from runs.models import Event
from tests.graphql.conftest import Live, gql_subscribe

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = "cursor timestamp kind stepKey mappingKey message payload"
SUBSCRIPTION = f"subscription($runId: ID!, $after: String) {{ runEvents(runId: $runId, after: $after) {{ {FIELDS} }} }}"
PAGE = f"""query($id: ID!, $after: String, $first: Int) {{ run(id: $id) {{ events(after: $after, first: $first) {{
    totalCount edges {{ node {{ {FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"""


def subscribed(live: Live, run_id: str, after: str | None) -> list[dict]:
    async def collect() -> list[dict]:
        return [data["runEvents"] async for data in gql_subscribe(live.ws_url, SUBSCRIPTION,
                                                                  {"runId": run_id, "after": after})]
    return asyncio.run(collect())


def paged(live: Live, run_id: str, size: int) -> tuple[list[dict], int]:
    events, after, total = [], None, None
    while True:
        connection = live.api(PAGE, {"id": run_id, "after": after, "first": size})["run"]["events"]
        total = connection["totalCount"] if total is None else total
        events += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return events, total
        after = connection["pageInfo"]["endCursor"]


def test_subscription_and_pages_show_every_event_of_folded_rows(live: Live):
    run_id = live.run_to_end("big_fanout", {"ops": {"emit_many": {"config": {"n": 60}}}})
    kinds = list(Event.objects.filter(run_id=run_id).values_list("kind", flat=True))
    assert kinds.count("STEP_RUN_3") >= 50  # most keys' steps are one row

    stored = event_rows.run_events(run_id)
    assert sum(e["kind"] == "DYNAMIC_OUTPUT" for e in stored) == 60 and stored[-1]["kind"] == "RUN_FINISHED"
    streamed = subscribed(live, run_id, None)
    assert [int(event["cursor"]) for event in streamed] == [event["id"] for event in stored]
    assert [(e["kind"], e["stepKey"], e["message"]) for e in streamed] == \
        [(e["kind"], e["step_key"], e["message"]) for e in stored]
    per_key = [e for e in streamed if e["stepKey"] == "add_one[k7]"]
    assert [e["kind"] for e in per_key] == ["STEP_STARTED", "STEP_OUTPUT", "STEP_SUCCESS"]
    assert [e["mappingKey"] for e in per_key] == ["k7"] * 3
    assert '"attempt": 1' in per_key[0]["payload"] and '"output_name": "result"' in per_key[1]["payload"]

    for size in (7, 1000):
        pages, total = paged(live, run_id, size)
        assert pages == streamed and total == len(streamed)

    cursors = [event["cursor"] for event in streamed]
    for position in range(len(cursors) - 12, len(cursors) - 1):  # inside and at the edges of folded rows
        assert subscribed(live, run_id, cursors[position]) == streamed[position + 1:]
