"""Subscriptions through a real daphne server and the ``gql`` websocket client (graphql-transport-ws).

``runEvents`` must deliver every event of a run exactly once, in order, live and across a
reconnect with a cursor; what it delivers is compared with the ``events`` query at the end.
Runs are held at gate files (see ``tests/graphql/jobs.py``) so that "live" and "mid-run" are
facts of each test, not timing luck.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.graphql.conftest import (
    RUN_EVENTS,
    DaphneServer,
    UNKNOWN_RUN_ID,
    Gates,
    Live,
    collect_events,
    gql_subscribe,
    ws_connect,
    ws_init,
    ws_message,
)

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = ["delta", "alpha", "charlie", "bravo", "echo"]
EVENT_FIELDS = ("cursor", "timestamp", "kind", "stepKey", "mappingKey", "message")


def comparable(events: list[dict]) -> list[tuple]:
    return [tuple(event[name] for name in EVENT_FIELDS) for event in events]


def assert_complete_run(events: list[dict], keys: list[str]) -> None:
    """One run's whole story: cursors increasing, every key yielded and mapped, RUN_FINISHED last."""
    cursors = [int(event["cursor"]) for event in events]
    assert cursors == sorted(set(cursors)), cursors
    assert events[0]["kind"] == "RUN_STARTED"
    assert [event["kind"] for event in events].count("RUN_FINISHED") == 1 and events[-1]["kind"] == "RUN_FINISHED"
    dynamic = [(e["stepKey"], e["mappingKey"]) for e in events if e["kind"] == "DYNAMIC_OUTPUT"]
    assert dynamic == [("emit_gated", key) for key in keys]
    mapped = {e["stepKey"]: e["mappingKey"] for e in events if e["kind"] == "STEP_SUCCESS"
              and e["stepKey"].startswith("square[")}
    assert mapped == {f"square[{key}]": key for key in keys}


def test_run_events_deliver_every_event_live_to_the_end(live: Live, gates: Gates):
    run_id = live.launch("gated_fanout", gates.config(KEYS, before=[0]))

    async def watch() -> list[dict]:
        events = []
        async for data in gql_subscribe(live.ws_url, RUN_EVENTS, {"runId": run_id, "after": None}):
            event = data["runEvents"]
            events.append(event)
            if event["kind"] == "STEP_STARTED" and event["stepKey"] == "emit_gated":
                gates.open(0)  # every key is yielded from now on, while we watch
        return events

    events = asyncio.run(watch())
    assert_complete_run(events, KEYS)
    gate_opened = next(i for i, e in enumerate(events) if e["kind"] == "STEP_STARTED" and e["stepKey"] == "emit_gated")
    assert all(e["kind"] != "DYNAMIC_OUTPUT" for e in events[:gate_opened])
    assert live.status(run_id) == "SUCCESS"
    every = live.events(run_id)
    assert comparable(events) == comparable(every)


def test_reconnecting_with_a_cursor_gets_exactly_the_missing_events(live: Live, gates: Gates):
    """Disconnect mid-run, let the run write events meanwhile, reconnect with the last cursor seen."""
    run_id = live.launch("gated_fanout", gates.config(KEYS, before=[2, 4]))

    async def scenario() -> tuple[list[dict], list[dict], list[dict]]:
        before = await collect_events(live.ws_url, run_id, stop=lambda e: e["mappingKey"] == "alpha"
                                      and e["kind"] == "DYNAMIC_OUTPUT")
        cursor = before[-1]["cursor"]
        gates.open(2)  # charlie and bravo are yielded while nobody watches
        written = await asyncio.to_thread(
            lambda: _wait_for_event(live, run_id, lambda e: e["kind"] == "DYNAMIC_OUTPUT" and e["mappingKey"] == "bravo"))
        missed = [event for event in written if int(event["cursor"]) > int(cursor)]

        after = []
        async for data in gql_subscribe(live.ws_url, RUN_EVENTS, {"runId": run_id, "after": cursor}):
            event = data["runEvents"]
            after.append(event)
            if event["kind"] == "DYNAMIC_OUTPUT" and event["mappingKey"] == "bravo":
                gates.open(4)  # the rest arrives live on the new connection
        return before, missed, after

    before, missed, after = asyncio.run(scenario())
    assert before[-1]["kind"] == "DYNAMIC_OUTPUT" and "RUN_FINISHED" not in [e["kind"] for e in before]
    assert int(after[0]["cursor"]) > int(before[-1]["cursor"])
    every = live.events(run_id)
    assert comparable(before + after) == comparable(every)  # no gap, no duplicate
    assert_complete_run(before + after, KEYS)
    # The reconnection replayed what was written while disconnected, then went on live.
    assert comparable(missed) == comparable(after[:len(missed)])


def test_several_subscribers_on_one_run_each_get_every_event(live: Live, gates: Gates):
    run_id = live.launch("gated_fanout", gates.config(KEYS, before=[0]))
    opened = []

    async def one(index: int) -> list[dict]:
        events = []
        async for data in gql_subscribe(live.ws_url, RUN_EVENTS, {"runId": run_id, "after": None}):
            events.append(data["runEvents"])
            if len(events) == 1:
                opened.append(index)
                if len(opened) == 5:
                    gates.open(0)  # all five are subscribed before the keys come
        return events

    async def watch_all() -> list[list[dict]]:
        return list(await asyncio.gather(*(one(index) for index in range(5))))

    results = asyncio.run(watch_all())
    every = comparable(live.events(run_id))
    assert [comparable(events) for events in results] == [every] * 5
    assert_complete_run(results[0], KEYS)


def test_a_server_restart_loses_no_event(committed, gates: Gates):
    """The server dies mid-run (the run goes on); a client reconnects to a new server with its last cursor."""
    from gql.transport.exceptions import TransportError
    from websockets.exceptions import ConnectionClosed

    first = DaphneServer(name="daphne-restart-1")
    second = None
    try:
        live = Live(first)
        run_id = live.launch("gated_fanout", gates.config(KEYS, before=[1]))

        async def until_killed() -> list[dict]:
            events = []
            try:
                async for data in gql_subscribe(first.ws_url, RUN_EVENTS, {"runId": run_id, "after": None}):
                    events.append(data["runEvents"])
                    if events[-1]["kind"] == "DYNAMIC_OUTPUT":
                        first.process.kill()  # a crash, with the subscription open
            except (TransportError, ConnectionClosed, OSError):
                return events
            raise AssertionError(f"the subscription ended normally although its server was killed: {events}")

        before = asyncio.run(until_killed())
        assert [e["mappingKey"] for e in before if e["kind"] == "DYNAMIC_OUTPUT"] == KEYS[:1]
        gates.open(1)
        second = DaphneServer(name="daphne-restart-2")
        after = asyncio.run(collect_events(second.ws_url, run_id, after=before[-1]["cursor"]))
        live = Live(second)
        assert comparable(before + after) == comparable(live.events(run_id))
        assert_complete_run(before + after, KEYS)
        assert live.status(run_id) == "SUCCESS"
    finally:
        first.stop()
        if second is not None:
            second.stop()


def _wait_for_event(live: Live, run_id: str, condition) -> list[dict]:
    """Poll the ``events`` query until an event satisfies ``condition``; every event up to it."""
    deadline = time.monotonic() + 30
    while True:
        events = live.events(run_id)
        for index, event in enumerate(events):
            if condition(event):
                return events[: index + 1]
        assert time.monotonic() < deadline, f"no such event in {events}"
        time.sleep(0.05)


RUN_UPDATES = """subscription($runId: ID!) { runUpdates(runId: $runId) {
  runId status cursor finished
  nodeStats { node total pending running succeeded failed skipped reused }
  steps { key node mappingKey status } } }"""

FINAL = """query($id: ID!) { run(id: $id) { status
  nodeStats { node total pending running succeeded failed skipped reused }
  steps { edges { node { key status } } } } }"""


def test_run_updates_are_coalesced_and_end_with_the_final_state(live: Live):
    config = {"ops": {"emit_keys": {"config": {"n": 10}}, "flaky_work": {"config": {"fail_keys": [], "sleep_ms": 60}}}}
    run_id = live.launch("flaky_fanout", config)

    async def watch() -> list[tuple[float, dict]]:
        return [(time.monotonic(), data["runUpdates"])
                async for data in gql_subscribe(live.ws_url, RUN_UPDATES, {"runId": run_id})]

    updates = asyncio.run(watch())
    final = live.api(FINAL, {"id": run_id})["run"]
    events = live.events(run_id)
    assert final["status"] == "SUCCESS"

    first, last = updates[0][1], updates[-1][1]
    assert first["runId"] == run_id and not first["finished"]
    assert [stats["node"] for stats in first["nodeStats"]] == ["emit_keys", "flaky_work", "total"]
    assert last["finished"]  # and no other: see the next test
    assert last["cursor"] == events[-1]["cursor"]

    # Coalesced: far fewer updates than events, at most one per 250 ms (the last one may come sooner).
    assert 2 <= len(updates) < len(events) / 3, (len(updates), len(events))
    gaps = [later[0] - earlier[0] for earlier, later in zip(updates[:-2], updates[1:-1])]
    assert all(gap >= 0.2 for gap in gaps), gaps

    latest_stats = {}
    latest_status = {}
    for _, update in updates:
        latest_stats.update({stats["node"]: stats for stats in update["nodeStats"]})
        latest_status.update({step["key"]: step["status"] for step in update["steps"]})
    assert list(latest_stats.values()) == final["nodeStats"]
    assert latest_status == {edge["node"]["key"]: edge["node"]["status"] for edge in final["steps"]["edges"]}
    mapped = [step for _, update in updates for step in update["steps"] if step["node"] == "flaky_work"]
    assert all(step["mappingKey"] == step["key"][len("flaky_work["):-1] for step in mapped)


def test_the_last_update_alone_says_finished_and_carries_the_final_status(live: Live):
    """The worker records RUN_FINISHED, then sets the run's status: updates must not fall in between.

    Exactly one update says finished, the last one, and it has the run's final status. A race,
    so as many runs as the server runs at once are watched together, each one a chance to fall in the window.
    """
    failing = {"ops": {"emit_keys": {"config": {"n": 2}},
                       "flaky_work": {"config": {"fail_keys": ["k1"], "sleep_ms": 1}}}}
    runs = {live.launch("gated_fanout"): "SUCCESS", live.launch("flaky_fanout", failing): "FAILURE",
            live.launch("gated_fanout"): "SUCCESS", live.launch("flaky_fanout", failing): "FAILURE"}

    async def updates(run_id: str) -> list[dict]:
        return [data["runUpdates"] async for data in gql_subscribe(live.ws_url, RUN_UPDATES, {"runId": run_id})]

    async def watch_all() -> list[list[dict]]:
        return list(await asyncio.gather(*(updates(run_id) for run_id in runs)))

    every = dict(zip(runs, asyncio.run(watch_all())))
    assert [live.status(run_id) for run_id in runs] == list(runs.values())
    story = {run_id: [(u["status"], u["finished"], u["cursor"]) for u in updates] for run_id, updates in every.items()}
    early = {run_id: flags for run_id, flags in story.items() if [f for _, f, _ in flags].count(True) != 1}
    assert not early, f"updates that say finished before the last one (status, finished, cursor): {early}"
    wrong = {run_id: (updates[-1]["status"], runs[run_id]) for run_id, updates in every.items()
             if updates[-1]["status"] != runs[run_id]}
    assert not wrong, f"the finished update has another status than the run's final one (sent, final): {wrong}"
    assert all(updates[-1]["finished"] and updates[-1]["runId"] == run_id for run_id, updates in every.items())


LOUD_UPDATES = """subscription($runId: ID!) { runUpdates(runId: $runId) {
  finished steps { key status error { message } } } }"""


def test_a_burst_of_big_errors_comes_in_several_updates_each_under_the_client_message_limit(live: Live, gates: Gates):
    """60 steps fail at once with 50 KB messages (3 MB): without ``maxSteps`` every one is delivered, in
    updates that each stay under 1 MiB (daphne refuses to send a bigger message, and websocket clients, the
    ``gql`` client here among them, to take one)."""
    keys = [f"k{index}" for index in range(60)]
    config = gates.config(keys, before=[0])
    config["ops"]["fail_loudly"] = {"config": {"message_chars": 50_000}}
    run_id = live.launch("loud_failures", config)

    async def watch() -> list[dict]:
        updates = []
        async for data in gql_subscribe(live.ws_url, LOUD_UPDATES, {"runId": run_id}):
            updates.append(data["runUpdates"])
            gates.open(0)  # subscribed: the failures come now, while we watch
        return updates

    updates = asyncio.run(watch())
    assert live.status(run_id) == "FAILURE"
    failed = {step["key"]: step["error"]["message"] for update in updates for step in update["steps"]
              if step["status"] == "FAILURE"}
    assert sorted(failed) == sorted(f"fail_loudly[{key}]" for key in keys)
    assert all(len(message) > 50_000 and key[len("fail_loudly["):-1] in message for key, message in failed.items())
    sizes = [len(json.dumps(update)) for update in updates]
    assert max(sizes) < 1024 * 1024 and sum(sizes) > 3_000_000, sizes
    assert [update["finished"] for update in updates].count(True) == 1 and updates[-1]["finished"]


def test_subscriptions_to_a_finished_run_replay_and_complete(live: Live):
    run_id = live.run_to_end("gated_fanout")
    every = live.events(run_id)
    assert comparable(asyncio.run(collect_events(live.ws_url, run_id, timeout=10))) == comparable(every)
    middle = every[len(every) // 2]["cursor"]
    replayed = asyncio.run(collect_events(live.ws_url, run_id, after=middle, timeout=10))
    assert comparable(replayed) == comparable(every[len(every) // 2 + 1:])

    async def updates() -> list[dict]:
        return [data["runUpdates"] async for data in gql_subscribe(live.ws_url, RUN_UPDATES, {"runId": run_id},
                                                                  timeout=10)]

    [update] = asyncio.run(updates())
    assert update["finished"] and update["status"] == "SUCCESS"
    assert update["nodeStats"] == live.api(FINAL, {"id": run_id})["run"]["nodeStats"]


def test_run_events_after_the_final_event_complete_at_once(live: Live):
    """A client that saw RUN_FINISHED but not ``complete`` reconnects with its last cursor: nothing more will come."""
    run_id = live.run_to_end("gated_fanout")
    last = live.events(run_id)[-1]
    assert last["kind"] == "RUN_FINISHED"

    async def resubscribe() -> dict:
        ws = await ws_connect(live.ws_url)
        try:
            await ws_init(ws)
            await ws.send(json.dumps({"type": "subscribe", "id": "again", "payload": {
                "query": RUN_EVENTS, "variables": {"runId": run_id, "after": last["cursor"]}}}))
            try:
                return await ws_message(ws, timeout=5)
            except TimeoutError:
                return {"type": "nothing within 5 s: the subscription stays open after the run's last event"}
        finally:
            await ws.close()

    assert asyncio.run(resubscribe()) == {"type": "complete", "id": "again"}


@pytest.mark.parametrize("subscription", [
    "subscription($id: ID!) { runEvents(runId: $id) { cursor } }",
    "subscription($id: ID!) { runUpdates(runId: $id) { status } }",
], ids=["runEvents", "runUpdates"])
@pytest.mark.parametrize("run_id", [UNKNOWN_RUN_ID, "not-a-run-id"], ids=["unknown-id", "malformed-id"])
def test_subscribing_to_an_unknown_run_is_a_graphql_error_naming_it(live: Live, subscription, run_id):
    async def subscribe() -> dict:
        ws = await ws_connect(live.ws_url)
        try:
            await ws_init(ws)
            await ws.send(json.dumps({"type": "subscribe", "id": "s1",
                                      "payload": {"query": subscription, "variables": {"id": run_id}}}))
            answer = await ws_message(ws)
            await ws.send(json.dumps({"type": "ping"}))
            assert await ws_message(ws) == {"type": "pong"}  # the connection stays usable
            return answer
        finally:
            await ws.close()

    answer = asyncio.run(subscribe())
    assert answer["type"] == "error" and answer["id"] == "s1", answer
    assert "Traceback" not in json.dumps(answer)
    assert any(f"Unknown run '{run_id}'" in error["message"] for error in answer["payload"]), answer
