"""Benchmark: the GraphQL API and live updates on a 10,000-key run, through a real daphne server.

1. Query times for a finished 10,000-key run: ``run { nodeStats }`` and a 100-step page.
2. Event-to-subscriber latency: a run is launched while a ``runEvents`` subscription is open;
   latency = time received - event timestamp (same host clock). p50/p95 over every event.
3. Fan-out to 20 subscribers of one 10,000-key run: every subscriber receives every event.

    python bench/graphql_live.py                     # SQLite, polling
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_bench python bench/graphql_live.py   # NOTIFY
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import daphne, graphql_post  # noqa: E402

KEYS = 10_000


def timed(url: str, query: str, variables: dict, repeat: int = 15) -> float:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = graphql_post(url, query, variables)
        samples.append((time.perf_counter() - began) * 1000)
        assert "errors" not in result, result
    return round(statistics.median(samples), 1)


async def subscribe_all(ws_url: str, run_id: str, subscribers: int) -> list[list[float]]:
    from gql import Client, gql
    from gql.transport.websockets import WebsocketsTransport

    query = gql("subscription($id: ID!) { runEvents(runId: $id) { cursor timestamp kind } }")

    async def one() -> list[float]:
        transport = WebsocketsTransport(url=ws_url, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
        latencies = []
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            async for item in session.subscribe(query, variable_values={"id": run_id}):
                event = item["runEvents"]
                sent = datetime.fromisoformat(event["timestamp"]).timestamp()
                latencies.append(time.time() - sent)
        return latencies

    return await asyncio.gather(*(one() for _ in range(subscribers)))


def main() -> None:
    os.environ.setdefault("DAGVIZ_HOME", tempfile.mkdtemp(prefix="dagviz-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dagviz.server.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from runs.live.hints import wakeup_method
    from runs.management.commands._base import wait_for_run
    from runs.models import Event
    from runs.services.launch import database_url_for_workers, launch_run

    call_command("migrate", verbosity=0)
    env = {**os.environ, "DATABASE_URL": database_url_for_workers()}
    with daphne(env) as base:
        url, ws_url = f"{base}/graphql", base.replace("http://", "ws://") + "/graphql"
        config = {"ops": {"emit_many": {"config": {"n": KEYS}}}}
        finished = wait_for_run(launch_run("big_fanout", config).id)
        run_id = str(finished.id)
        stats_ms = timed(url, "query($id: ID!) { run(id: $id) { nodeStats { node total succeeded failed } } }",
                         {"id": run_id})
        page_ms = timed(url, "query($id: ID!) { run(id: $id) { steps(node: \"add_one\", first: 100, after: \"5000\") "
                             "{ edges { cursor node { key status durationMs attemptCount error { message } } } } } }",
                        {"id": run_id})
        filtered_ms = timed(url, "query($id: ID!) { run(id: $id) { steps(status: [SUCCESS], keyContains: \"k99\", "
                                 "first: 100) { totalCount edges { node { key } } } } }", {"id": run_id})
        print(json.dumps({"what": "queries on a finished run", "keys": KEYS, "node_stats_ms": stats_ms,
                          "page_of_100_steps_ms": page_ms, "filtered_page_with_total_ms": filtered_ms}), flush=True)

        # Latency: subscribe first, then launch (a paced run so events arrive over time).
        paced = {"ops": {"slow_emitter": {"config": {"n": 40, "interval_ms": 25}}, "work": {"config": {"work_ms": 10}}}}

        async def latency_run() -> list[float]:
            run = await asyncio.to_thread(lambda: launch_run("streaming_fanout", paced))
            (latencies,) = await subscribe_all(ws_url, str(run.id), 1)
            return latencies

        latencies = asyncio.run(latency_run())
        latencies.sort()
        print(json.dumps({"what": "event to subscriber latency", "wakeup": wakeup_method(),
                          "database": django.db.connection.vendor, "events": len(latencies),
                          "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
                          "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1)}), flush=True)

        if os.environ.get("BENCH_SKIP_FANOUT"):
            return
        # 20 subscribers of one 10,000-key run, subscribed before it starts.
        async def fan_out() -> tuple[list[int], str]:
            run = await asyncio.to_thread(lambda: launch_run("big_fanout", config))
            results = await subscribe_all(ws_url, str(run.id), 20)
            return [len(r) for r in results], str(run.id)

        began = time.perf_counter()
        counts, fan_run = asyncio.run(fan_out())
        stored = Event.objects.filter(run_id=fan_run).count()
        print(json.dumps({"what": "20 subscribers, one 10,000-key run", "events_stored": stored,
                          "every_subscriber_got_all": all(c == stored for c in counts), "min_received": min(counts),
                          "wall_s": round(time.perf_counter() - began, 2)}), flush=True)


if __name__ == "__main__":
    main()
