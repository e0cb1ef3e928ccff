"""Benchmark: ``Run.failureGroups`` on a 100,000-key run with 3,000 failed keys of 3 causes.

The run is written straight into the database (``bulk_create`` of Step rows in batches, shaped
like a finished ``emit -> work[k] -> total`` fan-out): every key succeeded except 3,000, which
failed with one of three causes whose messages name the key, a number or an address (so every
message differs, and only the normalised message groups them): 1,500 ``ConnectionResetError``,
1,000 ``TimeoutError``, 500 ``KeyError``. Each failed row gets the error signature the event sink
would give it. Then the GraphQL query is posted through Django's test client (the whole view:
limits, middleware, JSON) ``--repeat`` times and the median reported, with the page of a group's
keys the UI reads when a group is clicked (``steps(errorSignature:, first: 1000)``), and the service
call alone (the GROUP BY and the samples query, without the GraphQL view).

    python bench/failure_groups.py [--keys 100000] [--failures 3000] [--repeat 7]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_bench python bench/failure_groups.py

Prints one JSON object (times in ms). Uses a fresh DAGVIZ_HOME (SQLite) unless DATABASE_URL is set;
the run is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import setup_django, timed_graphql  # noqa: E402  (bench/ is on sys.path when run as a script)

TARGET_MS = 100.0
BATCH = 5_000

GROUPS_QUERY = """query($id: ID!) { run(id: $id) {
  failureGroups { signature errorClass message count sampleKeys firstFailedAt lastFailedAt } } }"""
GROUP_KEYS_QUERY = """query($id: ID!, $signature: String) { run(id: $id) {
  steps(errorSignature: $signature, first: 1000) { totalCount edges { node { key } } } } }"""


def cause(number: int, key: int) -> tuple[str, str]:
    """The (class, message) of the ``number``-th failure (key ``key``): causes cycle 3 x reset, 2 x timeout, 1 x KeyError."""
    kind = (0, 0, 0, 1, 1, 2)[number % 6]
    if kind == 0:
        return "ConnectionResetError", f"peer 10.0.{key % 256}.{key % 7} closed the connection (socket 0x7f{key:08x})"
    if kind == 1:
        return "TimeoutError", f"read timed out after {30 + key % 5} s on shard {key}"
    return "KeyError", f"'customer_{key}'"


def build_run(keys: int, failures: int) -> Any:
    """A finished FAILURE run of ``keys`` mapped steps (plus emitter and collect), ``failures`` of them failed."""
    from dagviz.execution.error_signature import error_signature
    from runs.models import Run, Step

    run = Run.objects.create(job_name="big_fanout", status="FAILURE", executor="multiprocess",
                             output_store="file:///var/dagviz/runs")
    start = datetime.now(timezone.utc) - timedelta(seconds=keys * 0.01)
    failing = {round(index * keys / failures) for index in range(failures)}
    assert len(failing) == failures
    rows = [Step(run=run, key="emit", node="emit", order=0, status="SUCCESS", attempts=1,
                 started_at=start, ended_at=start + timedelta(seconds=keys * 0.01), outputs={"result": "ref"})]
    number = 0
    for key in range(keys):
        began = start + timedelta(seconds=key * 0.01)
        ended = began + timedelta(milliseconds=40)
        step = Step(run=run, key=f"work[k{key}]", node="work", mapping_keys=[f"k{key}"], order=key + 1, attempts=1,
                    started_at=began, ended_at=ended)
        if key in failing:
            class_name, message = cause(number, key)
            number += 1
            step.status = "FAILURE"
            step.error = {"class_name": class_name, "message": message, "stack": "Traceback (most recent call last): ..."}
            step.error_signature = error_signature(class_name, message)
            step.attempt_history = [{"number": 1, "status": "FAILURE", "started_at": began.timestamp(),
                                     "ended_at": ended.timestamp(), "error": step.error}]
        else:
            step.status = "SUCCESS"
            step.outputs = {"result": f"file:///var/dagviz/runs/{run.id}/work[k{key}]/result"}
            step.output_previews = {"result": str(key * 3)}
        rows.append(step)
        if len(rows) >= BATCH:
            Step.objects.bulk_create(rows)
            rows = []
    rows.append(Step(run=run, key="total", node="total", order=keys + 1, status="SKIPPED",
                     skip_reason="upstream step failed"))
    Step.objects.bulk_create(rows)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--failures", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client

    from runs.services.failure_groups import failure_groups

    began = time.perf_counter()
    run = build_run(args.keys, args.failures)
    written_s = time.perf_counter() - began
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE runs_step")  # fresh statistics, as autovacuum would give a real table
    client = Client(HTTP_HOST="127.0.0.1")
    try:
        groups_time, data = timed_graphql(client, GROUPS_QUERY, {"id": str(run.id)}, args.repeat)
        groups = data["run"]["failureGroups"]
        largest = groups[0]["signature"]
        keys_time, keys_data = timed_graphql(client, GROUP_KEYS_QUERY, {"id": str(run.id), "signature": largest}, args.repeat)
        service_times = []
        for _ in range(args.repeat):  # the two queries alone, without the GraphQL view around them
            began = time.perf_counter()
            failure_groups(run)
            service_times.append((time.perf_counter() - began) * 1000)
        print(json.dumps({
            "database": connection.vendor, "keys": args.keys, "failures": args.failures, "write_s": round(written_s, 1),
            "repeat": args.repeat, "target_ms": TARGET_MS,
            "failure_groups": {**groups_time, "groups": [(g["errorClass"], g["count"], g["message"]) for g in groups]},
            "service_only": {"median_ms": round(statistics.median(service_times), 1),
                             "times_ms": [round(t, 1) for t in service_times]},
            "largest_group_keys_first_page": {**keys_time, "total_count": keys_data["run"]["steps"]["totalCount"],
                                              "rows": len(keys_data["run"]["steps"]["edges"])},
            "over_target": groups_time["median_ms"] > TARGET_MS,
        }, indent=1))
    finally:
        run.delete()


if __name__ == "__main__":
    main()
