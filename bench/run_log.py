"""Benchmark: the run log (``Run.eventLog``) of a run with 400,000 events, first page and each filter.

A run shaped like a 100,000-key fan-out is written straight into the database (``bulk_create``
in batches; the events are the engine's own event classes, so kinds, messages and payloads are
the real ones): the emitter's ``DYNAMIC_OUTPUT`` per key, then the key's ``STEP_STARTED``,
``STEP_OUTPUT`` and ``STEP_SUCCESS``; every 10th key logs a line, every 100th fails
(``LOG`` at ERROR and ``STEP_FAILURE`` of one of three causes), and one key fails with a cause
no other key has (the "rare" text). Then each query is posted through Django's test client
(the whole GraphQL view: limits, middleware, JSON) ``--repeat`` times, median reported.

    python bench/run_log.py [--events 400000] [--repeat 7]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_bench python bench/run_log.py

Prints one JSON object: the median (and every time) per query, in ms, with the rows each returned.
Uses a fresh DAGVIZ_HOME (SQLite) unless DATABASE_URL is set; the run is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import setup_django, timed_graphql  # noqa: E402  (bench/ is on sys.path when run as a script)

TARGET_MS = 100.0
BATCH = 5_000
RARE_TEXT = "checksum mismatch in shard 7731"
FAILURE_CAUSES = ("ConnectionResetError: peer closed the connection", "TimeoutError: read timed out after 30 s",
                  "ValueError: negative amount in row 12")

LOG_QUERY = """query($id: ID!, $first: Int, $after: String, $kinds: [String!], $stepKey: String,
                     $stepKeyPrefix: String, $text: String) {
  run(id: $id) { eventLog(first: $first, after: $after, kinds: $kinds, stepKey: $stepKey,
                          stepKeyPrefix: $stepKeyPrefix, text: $text) {
    totalCount scanLimited pageInfo { hasNextPage endCursor }
    edges { cursor node { id timestamp kind level stepKey message } } } }
}"""


def engine_events(total: int, run_id: str) -> Iterator[Any]:
    """``total`` engine events of a big fan-out run, in the order a run would write them."""
    from dagviz.execution import events as ev

    store = f"file:///var/dagviz/runs/{run_id}"
    yield ev.RunStarted(None, run_id=run_id, job_name="big_fanout", executor="multiprocess")
    yield ev.StepStarted("emit")
    count, key = 2, 0
    closing = 4  # emit's success, the collect's start and skip, the run's end
    while True:
        name = f"k{key}"
        step = f"work[{name}]"
        per_key = [ev.DynamicOutputYielded("emit", mapping_key=name, ref=f"{store}/emit/result/{name}"),
                   ev.StepStarted(step)]
        if key % 10 == 0:
            text = f"processing {name}: 1,250 rows from bucket b{key % 97}"
            per_key.append(ev.LogMessage(step, level="INFO", text=text))
        if key % 100 == 50:
            cause = RARE_TEXT if key == 77_750 else FAILURE_CAUSES[(key // 100) % 3]
            error = ev.ErrorInfo(class_name=cause.split(":")[0], message=cause, stack="Traceback ...")
            per_key += [ev.LogMessage(step, level="ERROR", text=f"giving up on {name}"),
                        ev.StepFailed(step, error=error, op_name="work", duration_ms=812.0)]
        else:
            per_key += [ev.StepOutput(step, ref=f"{store}/{step}/result", preview=str(key * 3)),
                        ev.StepSucceeded(step, duration_ms=41.0 + key % 13)]
        if count + len(per_key) + closing > total:
            break
        yield from per_key
        count += len(per_key)
        key += 1
    yield ev.StepSucceeded("emit", duration_ms=600_000.0)
    yield ev.StepStarted("total")
    yield ev.StepSkipped("total", reason="upstream step failed", upstream_failed=True)
    yield ev.RunFinished(None, success=False, failure_reason="steps failed")
    for _ in range(total - count - closing):
        yield ev.LogMessage(None, text="engine: padding")


def create_run(total: int) -> Any:
    """A finished run of ``total`` events, written in batches of BATCH rows."""
    from runs.models import Event, Run

    run = Run.objects.create(job_name="big_fanout", status="FAILURE", executor="multiprocess",
                             output_store="file:///var/dagviz/runs")
    start = time.time() - total * 0.002
    batch = []
    for number, event in enumerate(engine_events(total, str(run.id))):
        when = datetime.fromtimestamp(start + number * 0.002, tz=timezone.utc)
        batch.append(Event(run=run, step_key=event.step_key, kind=event.kind, timestamp=when,
                           message=event.message, payload=event.payload()))
        if len(batch) == BATCH:
            Event.objects.bulk_create(batch)
            batch = []
    Event.objects.bulk_create(batch)
    return run


def timed(client: Any, run_id: str, variables: dict, repeat: int) -> dict:
    times, data = timed_graphql(client, LOG_QUERY, {"id": run_id, "first": 100, **variables}, repeat)
    log = data["run"]["eventLog"]
    return {**times,
            "rows": len(log["edges"]), "total_count": log["totalCount"], "has_next": log["pageInfo"]["hasNextPage"],
            "scan_limited": log["scanLimited"], "end_cursor": log["pageInfo"]["endCursor"]}


def scan_to_end(client: Any, run_id: str, variables: dict) -> dict:
    """Follow a filter's cursors to the end of the log: how many requests, rows and ms it takes."""
    after, requests, rows = None, 0, 0
    began = time.perf_counter()
    while True:
        body = json.dumps({"query": LOG_QUERY, "variables": {"id": run_id, "first": 100, "after": after, **variables}})
        log = client.post("/graphql", body, content_type="application/json").json()["data"]["run"]["eventLog"]
        requests += 1
        rows += len(log["edges"])
        if not log["pageInfo"]["hasNextPage"]:
            break
        after = log["pageInfo"]["endCursor"]
    return {"requests": requests, "rows": rows, "total_ms": round((time.perf_counter() - began) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the run (its id is printed) instead of deleting it")
    parser.add_argument("--run", help="measure this run (made by an earlier --keep) instead of writing a new one")
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test import Client

    from runs.models import Event, Run

    began = time.perf_counter()
    run = Run.objects.get(id=args.run) if args.run else create_run(args.events)
    written_s = 0.0 if args.run else time.perf_counter() - began
    client = Client(HTTP_HOST="127.0.0.1")
    run_id = str(run.id)
    queries = {
        "first_page": {},
        "kind_STEP_FAILURE": {"kinds": ["STEP_FAILURE"]},
        "kinds_LOG_STEP_FAILURE": {"kinds": ["LOG", "STEP_FAILURE"]},
        "step_key_mapped": {"stepKey": "work[k64000]"},
        "step_key_emitter": {"stepKey": "emit"},
        "step_prefix_one_key": {"stepKeyPrefix": "work[k64000]"},
        "step_prefix_node": {"stepKeyPrefix": "work["},
        "text_common": {"text": "succeeded"},
        "text_rare": {"text": RARE_TEXT.upper()},
        "text_none": {"text": "no event says this"},
        "text_rare_and_kind": {"text": "shard 7731", "kinds": ["STEP_FAILURE"]},
    }
    results = {name: timed(client, run_id, variables, args.repeat) for name, variables in queries.items()}
    middle = Event.objects.filter(run=run).order_by("id").values_list("id", flat=True)[args.events // 2]
    results["page_after_half"] = timed(client, run_id, {"after": str(middle)}, args.repeat)
    scans = {name: scan_to_end(client, run_id, queries[name]) for name in ("text_rare", "text_none")}
    print(json.dumps({
        "database": connection.vendor, "events": args.events, "write_s": round(written_s, 1), "repeat": args.repeat,
        "target_ms": TARGET_MS, "queries": results, "scan_to_end": scans,
        "over_target": [name for name, result in results.items() if result["median_ms"] > TARGET_MS],
        "run_id": run_id,
    }, indent=1))
    if not args.keep and not args.run:
        run.delete()


if __name__ == "__main__":
    main()
