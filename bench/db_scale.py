"""Benchmark: the API's queries on a finished run of 1,000,000 steps and 4,000,000 events (SQLite or PostgreSQL).

The run is written straight into the database with bulk SQL (multi-row INSERTs on SQLite, COPY on
PostgreSQL), shaped like a finished ``big_fanout`` (``emit_many -> add_one[k] -> sum_all``): every key's
step row, its three events (started, output, success) and the emitter's DYNAMIC_OUTPUT event per key. One key in 1,000 failed, with one of three causes (so failure groups have work).
Then each query the run page and the API make is posted through Django's test client (the whole GraphQL
view) ``--repeat`` times and the median reported: nodeStats, the first and a deep 100-step page of the
big node (the key table's query, with totalCount), keyContains with a common, a rare and no match, the
status-tiles GROUP BY (SQL), failureGroups and an eventLog page.

    python bench/db_scale.py [--steps 1000000] [--repeat 5] [--explain] [--keep]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_dbscale python bench/db_scale.py

Prints one JSON object (times in ms); on SQLite also the database's bytes per step, by table and
index (dbstat). ``--explain`` prints each query's plan (EXPLAIN QUERY PLAN / EXPLAIN) on stderr.
The run is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import setup_django, timed_graphql  # noqa: E402  (bench/ is on sys.path when run as a script)

NODE = "add_one"
ROWS_PER_INSERT = 500
FAIL_EVERY = 1000
TILES = 4096

STEPS_QUERY = """query($id: ID!, $node: String, $key: String, $after: String, $first: Int) { run(id: $id) {
  steps(node: $node, keyContains: $key, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { key status attemptCount durationMs error { message } } } } } }"""
NODE_STATS_QUERY = """query($id: ID!) { run(id: $id) {
  nodeStats { node total pending running succeeded failed skipped reused canceled } } }"""
GROUPS_QUERY = """query($id: ID!) { run(id: $id) {
  failureGroups { signature errorClass message count sampleKeys firstFailedAt lastFailedAt } } }"""
GROUP_KEYS_QUERY = """query($id: ID!, $signature: String) { run(id: $id) {
  steps(errorSignature: $signature, first: 1000) { totalCount edges { node { key } } } } }"""
EVENT_LOG_QUERY = """query($id: ID!, $after: String, $kinds: [String!]) { run(id: $id) {
  eventLog(first: 100, after: $after, kinds: $kinds) { totalCount totalCountCapped pageInfo { hasNextPage endCursor }
    edges { node { id kind level stepKey message timestamp } } } } }"""
PAGE_ONLY_QUERY = """query($id: ID!, $node: String, $after: String) { run(id: $id) {
  steps(node: $node, first: 100, after: $after) { pageInfo { hasNextPage endCursor }
    edges { cursor node { key status attemptCount durationMs error { message } } } } } }"""
TILES_QUERY = """query($id: ID!, $node: String!, $tiles: Int!) { run(id: $id) {
  statusTiles(node: $node, tiles: $tiles) { total tileCount } } }"""
TILES_SQL = """SELECT (CAST("order" - %s AS BIGINT) * %s) / %s AS tile, status, COUNT(*) FROM runs_step
WHERE run_id = %s AND node = %s GROUP BY 1, 2"""


# -- the synthetic run --------------------------------------------------------------------------------------


def cause(key: int) -> tuple[str, str]:
    """A failed key's (class, message): three causes whose messages all differ (only normalising groups them)."""
    kind = key // FAIL_EVERY % 3
    if kind == 0:
        return "ConnectionResetError", f"peer 10.0.{key % 256}.{key % 7} closed the connection"
    if kind == 1:
        return "TimeoutError", f"read timed out after {30 + key % 5} s on shard {key}"
    return "KeyError", f"'customer_{key}'"


def step_rows(run_id: str, steps: int, start: float) -> Iterator[tuple]:
    """(run_id, key, node, mapping_keys, order, status, attempts, attempt_history, started_at, ended_at, error,
    outputs, skip_reason, output_previews, error_signature) for every step, as the event sink writes them."""
    from dagviz.execution.error_signature import error_signature

    yield (run_id, "emit_many", "emit_many", "[]", 0, "SUCCESS", 1, json.dumps(
        [{"number": 1, "status": "SUCCESS", "started_at": start, "ended_at": start + steps * 1e-4, "error": None}]),
        start, start + steps * 1e-4, None, json.dumps({"result": f"{run_id}/emit_many/result"}), "", "{}", "")
    for index in range(steps):
        key = f"{NODE}[k{index}]"
        began = start + index * 1e-4
        ended = began + 5e-5
        if index % FAIL_EVERY == FAIL_EVERY - 1:
            class_name, message = cause(index)
            error = {"class_name": class_name, "message": message, "stack": "Traceback (most recent call last): ..."}
            history = [{"number": 1, "status": "FAILURE", "started_at": began, "ended_at": ended, "error": error}]
            yield (run_id, key, NODE, json.dumps([f"k{index}"]), index + 1, "FAILURE", 1, json.dumps(history), began,
                   ended, json.dumps(error), "{}", "", "{}", error_signature(class_name, message))
            continue
        history = [{"number": 1, "status": "SUCCESS", "started_at": began, "ended_at": ended, "error": None}]
        outputs, previews = {"result": f"{run_id}/{key}/result"}, {"result": str(index + 1)}
        yield (run_id, key, NODE, json.dumps([f"k{index}"]), index + 1, "SUCCESS", 1, json.dumps(history), began,
               ended, None, json.dumps(outputs), "", json.dumps(previews), "")
    yield (run_id, "sum_all", "sum_all", "[]", steps + 1, "SKIPPED", 0, "[]", None, start + steps * 1e-4, None,
           "{}", "upstream step failed", "{}", "")


def event_rows(run_id: str, steps: int, start: float) -> Iterator[tuple]:
    """(run_id, step_key, kind, timestamp, message, payload): a big_fanout run's events, 4 per key."""
    yield run_id, None, "RUN_STARTED", start, "Started the run.", "{}"
    yield run_id, "emit_many", "STEP_STARTED", start, "Started step 'emit_many' (attempt 1).", '{"attempt": 1}'
    for index in range(steps):
        key = f"{NODE}[k{index}]"
        began = start + index * 1e-4
        yield (run_id, "emit_many", "DYNAMIC_OUTPUT", began, f"Step 'emit_many' yielded key 'k{index}' of 'result'.",
               json.dumps({"output_name": "result", "mapping_key": f"k{index}",
                           "ref": f"{run_id}/emit_many/result/k{index}"}))
        yield run_id, key, "STEP_STARTED", began, f"Started step '{key}' (attempt 1).", '{"attempt": 1}'
        if index % FAIL_EVERY == FAIL_EVERY - 1:
            class_name, message = cause(index)
            yield (run_id, key, "STEP_FAILURE", began + 5e-5, f"Step '{key}' failed: {class_name}: {message}",
                   json.dumps({"error": {"class_name": class_name, "message": message}}))
            yield run_id, key, "LOG", began, f"retrying {key}", '{"level": "WARNING"}'
            continue
        yield (run_id, key, "STEP_OUTPUT", began, f"Step '{key}' stored output 'result'.",
               json.dumps({"output_name": "result", "ref": f"{run_id}/{key}/result", "preview": str(index + 1)}))
        yield (run_id, key, "STEP_SUCCESS", began + 5e-5, f"Step '{key}' succeeded in 0 ms.",
               '{"attempt": 1, "duration_ms": 0.05}')
    yield run_id, None, "RUN_FINISHED", start + steps * 1e-4, "Run failed.", '{"success": false}'


STEP_COLUMNS = ("run_id", "key", "node", "mapping_keys", "order", "status", "attempts", "attempt_history",
                "started_at", "ended_at", "error", "outputs", "skip_reason", "output_previews", "error_signature")
EVENT_COLUMNS = ("run_id", "step_key", "kind", "timestamp", "message", "payload")
TIME_COLUMNS = {"started_at", "ended_at", "timestamp"}


def write_rows(table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> int:
    """Bulk-insert ``rows`` (epoch seconds in time columns): COPY on PostgreSQL, multi-row INSERTs on SQLite."""
    from django.db import connection

    times = [index for index, column in enumerate(columns) if column in TIME_COLUMNS]
    if connection.vendor == "postgresql":
        return _copy(table, columns, rows, times)
    return _insert(table, columns, rows, times)


def _sqlite_time(ts: float | None) -> str | None:
    # What Django's SQLite backend stores for an aware datetime: naive UTC, str()-formatted.
    return None if ts is None else str(datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None))


def _insert(table: str, columns: tuple[str, ...], rows: Iterator[tuple], times: list[int]) -> int:
    from django.db import connection, transaction

    quoted = ", ".join(f'"{column}"' for column in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    count, chunk = 0, []
    with transaction.atomic(), connection.cursor() as cursor:
        def flush() -> None:
            cursor.execute(f"INSERT INTO {table} ({quoted}) VALUES {', '.join([one] * len(chunk))}",
                           [value for row in chunk for value in row])
        for row in rows:
            row = list(row)
            for index in times:
                row[index] = _sqlite_time(row[index])
            chunk.append(row)
            if len(chunk) == ROWS_PER_INSERT:
                flush()
                count += len(chunk)
                chunk = []
        if chunk:
            flush()
            count += len(chunk)
    return count


def _copy(table: str, columns: tuple[str, ...], rows: Iterator[tuple], times: list[int]) -> int:
    from django.db import connection, transaction

    count = 0
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            quoted = ", ".join(f'"{column}"' for column in columns)
            with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    row = list(row)
                    for index in times:
                        row[index] = None if row[index] is None else datetime.fromtimestamp(row[index], tz=timezone.utc)
                    copy.write_row(row)
                    count += 1
    return count


def build_run(steps: int) -> Any:
    """A finished FAILURE run of ``steps`` mapped steps (plus emitter and collect), with 4 events per key."""
    from django.db import connection

    from runs.models import Run

    run = Run.objects.create(job_name="big_fanout", status="FAILURE", executor="in_process",
                             output_store="file:///var/dagviz/runs",
                             run_config={"ops": {"emit_many": {"config": {"n": steps}}}})
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).timestamp()
    run_id = run.id.hex if connection.vendor == "sqlite" else run.id
    written = {}
    for name, table, columns, rows in (
            ("steps", "runs_step", STEP_COLUMNS, step_rows(run_id, steps, start)),
            ("events", "runs_event", EVENT_COLUMNS, event_rows(run_id, steps, start))):
        began = time.perf_counter()
        written[name] = {"rows": write_rows(table, columns, rows), "s": round(time.perf_counter() - began, 1)}
    Run.objects.filter(pk=run.pk).update(started_at=datetime.fromtimestamp(start, tz=timezone.utc),
                                         ended_at=datetime.fromtimestamp(start + steps * 1e-4, tz=timezone.utc))
    analyze()
    return run, written


def analyze() -> None:
    """Fresh statistics, as autovacuum (PostgreSQL) or ``PRAGMA optimize`` (SQLite) would give a real database."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE runs_step")  # VACUUM too: index-only scans need the visibility map
            cursor.execute("VACUUM ANALYZE runs_event")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a run's small commits keep the WAL small


# -- measuring ----------------------------------------------------------------------------------------------


def timed_sql(sql: str, params: list, repeat: int) -> tuple[dict[str, Any], list]:
    from django.db import connection

    times, rows = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 1), "times_ms": [round(t, 1) for t in times]}, rows


def run_id_param(run: Any) -> Any:
    from django.db import connection

    return run.id.hex if connection.vendor == "sqlite" else run.id


def measure(run: Any, steps: int, repeat: int) -> dict[str, Any]:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    run_id = str(run.id)
    results: dict[str, Any] = {}

    def graphql(name: str, query: str, **variables: Any) -> dict:
        timing, data = timed_graphql(client, query, {"id": run_id, **variables}, repeat)
        results[name] = timing["median_ms"]
        return data["run"]

    stats = graphql("node_stats", NODE_STATS_QUERY)["nodeStats"]
    assert sum(node["total"] for node in stats) == steps + 2, stats
    first = graphql("first_page", STEPS_QUERY, node=NODE)["steps"]
    assert first["totalCount"] == steps and len(first["edges"]) == 100
    deep_cursor = str(steps * 9 // 10)
    deep = graphql("deep_page", STEPS_QUERY, node=NODE, after=deep_cursor)["steps"]
    assert deep["edges"][0]["node"]["key"] == f"{NODE}[k{steps * 9 // 10}]", deep["edges"][0]
    graphql("first_page_without_count", PAGE_ONLY_QUERY, node=NODE)
    graphql("deep_page_without_count", PAGE_ONLY_QUERY, node=NODE, after=deep_cursor)
    graphql("first_page_all_nodes", STEPS_QUERY)
    graphql("small_node_page", STEPS_QUERY, node="sum_all")
    rare = str(steps // 7)  # k142857: itself and the keys that start with it
    for name, text, expect in (("key_common", "K1", None), ("key_rare", f"k{rare}]", 1), ("key_none", "zzz", 0)):
        found = graphql(name, STEPS_QUERY, node=NODE, key=text)["steps"]
        assert expect is None or found["totalCount"] == expect, (name, found["totalCount"])
    graphql("key_rare_any_node", STEPS_QUERY, key=f"k{rare}]")
    tiles, rows = timed_sql(TILES_SQL, [1, TILES, steps, run_id_param(run), NODE], repeat)
    assert sum(row[2] for row in rows) == steps
    results["tiles_sql"] = tiles["median_ms"]
    try:
        graphql("status_tiles", TILES_QUERY, node=NODE, tiles=TILES)
    except AssertionError as error:  # the API may not have the field (yet)
        results["status_tiles"] = f"not measured: {str(error)[:80]}"
    groups = graphql("failure_groups", GROUPS_QUERY)["failureGroups"]
    graphql("failure_group_keys", GROUP_KEYS_QUERY, signature=groups[0]["signature"])
    log = graphql("event_log_first", EVENT_LOG_QUERY)["eventLog"]
    assert len(log["edges"]) == 100
    graphql("event_log_deep", EVENT_LOG_QUERY, after=str(int(log["pageInfo"]["endCursor"]) + steps * 3))
    graphql("event_log_failures", EVENT_LOG_QUERY, kinds=["STEP_FAILURE"])
    return results


# -- plans and sizes ----------------------------------------------------------------------------------------


def explain(run: Any, steps: int) -> None:
    """The plan of each main query, on stderr."""
    from django.db import connection
    from django.db.models import Count

    from runs.models import Step
    from runs.services.failure_groups import _failed_steps

    def show(name: str, sql: str, params: list | tuple) -> None:
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql, params)
            plan = [" | ".join(str(value) for value in row) for row in cursor.fetchall()]
        print(f"-- {name}\n{sql}\n  " + "\n  ".join(plan) + "\n", file=sys.stderr)

    def show_query(name: str, queryset: Any) -> None:
        sql, params = queryset.query.sql_with_params()
        show(name, sql, params)

    steps_of = Step.objects.filter(run=run)
    show_query("node stats", steps_of.values_list("node", "status").annotate(n=Count("id")).order_by())
    show_query("first page (node)", steps_of.filter(node=NODE).order_by("order")[:101])
    show_query("deep page (node)", steps_of.filter(node=NODE, order__gt=steps * 9 // 10).order_by("order")[:101])
    show_query("page count (node)", steps_of.filter(node=NODE).order_by().values("id"))
    show_query("failure groups", _failed_steps(run).order_by().values("error_signature").annotate(n=Count("id")))
    show_query("failure group keys", _failed_steps(run).filter(error_signature="x").order_by("order"))
    show("tiles", TILES_SQL, [1, TILES, steps, run_id_param(run), NODE])
    try:
        from runs.services.key_search import explain_queries
    except ImportError:
        return
    for name, sql, params in explain_queries(run, NODE, f"k{steps // 7}]"):
        show(name, sql, params)


def sqlite_sizes(steps: int) -> dict[str, Any]:
    """Bytes per step of each table and index (dbstat), and of the whole file."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        by_name = {name: size for name, size in cursor.fetchall() if size > 1_000_000}
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        page_size = cursor.fetchone()[0]
    return {"file_bytes_per_step": round(pages * page_size / steps, 1),
            "bytes_per_step": {name: round(size / steps, 1) for name, size in by_name.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the run (and the database) afterwards")
    parser.add_argument("--run", help="measure this existing run (made by an earlier --keep) instead of a new one")
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from runs.models import Run

    report: dict[str, Any] = {"vendor": connection.vendor, "steps": args.steps}
    if args.run:
        run = Run.objects.get(pk=uuid.UUID(args.run))
    else:
        began = time.perf_counter()
        run, written = build_run(args.steps)
        report["written"] = written
        report["write_s"] = round(time.perf_counter() - began, 1)
    report["run_id"] = str(run.id)
    if connection.vendor == "sqlite":
        report["sizes"] = sqlite_sizes(args.steps)
    if args.explain:
        explain(run, args.steps)
    report["ms"] = measure(run, args.steps, args.repeat)
    if not args.keep and not args.run:
        began = time.perf_counter()
        run.delete()
        report["delete_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
