"""Benchmark: how long a real daphne server takes to refuse the oversized queries of issue 13.

The attack: ``run(id) { events(first: 1000) { edges { node { ... } } } }`` under 300 and 1,000
aliases (before the query limits, 300 aliases ran for 25 s and answered 52 MB). Each query is
posted 20 times; the figure is the median round trip, from the request to the refusal received.
Two servers: one with the default limits (the parser stops such documents at
``DAGVIZ_GRAPHQL_MAX_TOKENS``), one with the size limits lifted, so the whole document is parsed
and refused by the field, alias and cost limits. A trivial query gives the HTTP round trip itself.
On a shared host the round trips grow with its load, so the same requests are also made in process
through Django's test client, timing the request thread's CPU time as well as the wall clock.

    python bench/graphql_limits.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_limits python bench/graphql_limits.py
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import daphne  # noqa: E402

REPEAT = 20
TARGET_MS = 100.0
LIFTED = {"DAGVIZ_GRAPHQL_MAX_QUERY_CHARS": "10000000", "DAGVIZ_GRAPHQL_MAX_TOKENS": "10000000"}


def attack(aliases: int) -> str:
    fields = "cursor timestamp kind stepKey message payload"
    selection = f"run(id: $id) {{ events(first: 1000) {{ edges {{ node {{ {fields} }} }} }} }}"
    return "query($id: ID!) { " + " ".join(f"a{index}: {selection}" for index in range(aliases)) + " }"


def post(url: str, query: str) -> tuple[int, dict]:
    body = json.dumps({"query": query, "variables": {"id": str(uuid.uuid4())}}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def measure(url: str, name: str, query: str) -> dict:
    samples, answer, status = [], {}, 0
    for _ in range(REPEAT):
        began = time.perf_counter()
        status, answer = post(url, query)
        samples.append((time.perf_counter() - began) * 1000)
    codes = sorted({error.get("extensions", {}).get("code", "-") for error in answer.get("errors", [])})
    median = statistics.median(samples)
    return {"query": name, "chars": len(query), "status": status, "refused_by": codes,
            "median_ms": round(median, 1), "max_ms": round(max(samples), 1), "under_target": median < TARGET_MS}


def measure_in_process(name: str, query: str) -> dict:
    """The same request through Django's test client: wall clock and the CPU time of this thread."""
    from django.test import Client

    client, wall, cpu, status = Client(HTTP_HOST="127.0.0.1"), [], [], 0
    body = json.dumps({"query": query, "variables": {"id": str(uuid.uuid4())}})
    for _ in range(REPEAT):
        began, began_cpu = time.perf_counter(), time.thread_time()
        status = client.post("/graphql", body, content_type="application/json").status_code
        cpu.append((time.thread_time() - began_cpu) * 1000)
        wall.append((time.perf_counter() - began) * 1000)
    return {"server": "in process, default limits", "query": name, "status": status,
            "median_ms": round(statistics.median(wall), 1), "median_cpu_ms": round(statistics.median(cpu), 1),
            "under_target": statistics.median(wall) < TARGET_MS}


def main() -> None:
    os.environ.setdefault("DAGVIZ_HOME", tempfile.mkdtemp(prefix="dagviz-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dagviz.server.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from runs.services.launch import database_url_for_workers

    call_command("migrate", verbosity=0)
    logging.getLogger("django.request").setLevel(logging.ERROR)  # each refusal is a logged "Bad Request"
    base_env = {**os.environ, "DATABASE_URL": database_url_for_workers()}
    queries = (("trivial { __typename }", "{ __typename }"), ("300 aliases", attack(300)),
               ("1000 aliases", attack(1000)))
    for name, query in queries:
        print(json.dumps(measure_in_process(name, query)), flush=True)
    for limits, env in (("default limits", base_env), ("size limits lifted", {**base_env, **LIFTED})):
        with daphne(env) as base:
            url = f"{base}/graphql"
            for name, query in queries:
                print(json.dumps({"server": limits, **measure(url, name, query)}), flush=True)


if __name__ == "__main__":
    main()
