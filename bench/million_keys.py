"""Benchmark: a persisted ``big_fanout`` run of a million keys, end to end, with its memory, disk and API.

Launches ``manage.py launch big_fanout --wait --json`` (the command a user types) in a fresh
DAGVIZ_HOME (SQLite unless DATABASE_URL is set) and, while it runs, samples the resident memory
of the run worker (``run_worker``) and of any step worker processes under it every 0.2 s. Then it
reports, as one JSON object:

- ``end_to_end_s``: the launch command's wall time; ``run_s`` and ``ms_per_key``: the worker's own
  time (STARTED -> ended: execution plus every event and step row committed);
- ``worker_peak_rss_mb`` (the run worker) and ``step_workers_peak_rss_mb`` (multiprocess);
- ``home_bytes`` / ``home_bytes_per_key``: what DAGVIZ_HOME holds afterwards (allocated blocks, so
  a 15-byte file counts 4 KB), split into the database and the output store; on PostgreSQL the
  database's own size is given as ``postgres_bytes``;
- ``events``, ``event_rows``, ``steps``: the run's visible events, stored event rows and step rows;
- ``api_ms``: medians of GraphQL queries on the finished run through the Django test client:
  ``nodeStats``, the first and a deep 100-step page of the mapped op, and ``keyContains`` searches.

    python bench/million_keys.py --n 1000000
    python bench/million_keys.py --n 1000000 --executor multiprocess
    python bench/million_keys.py --n 100000 --executor dask
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_bench python bench/million_keys.py --n 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import ROOT, setup_django, timed_graphql  # noqa: E402  (bench/ is on sys.path when run as a script)

MB = 1024 * 1024
NODE_STATS = "query($id: ID!) { run(id: $id) { nodeStats { node total succeeded failed running pending skipped } } }"
PAGE = """query($id: ID!, $after: String, $text: String) { run(id: $id) {
  steps(node: "add_one", first: 100, after: $after, keyContains: $text) {
    totalCount pageInfo { endCursor hasNextPage } edges { node { key status } } } } }"""


class MemorySampler(threading.Thread):
    """Peak RSS of the run worker and of the step workers it starts, sampled until stopped."""

    def __init__(self, launcher: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.launcher = launcher
        self.worker_peak = 0
        self.step_workers_peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                processes = self.launcher.children(recursive=True)
            except psutil.Error:
                continue
            for process in processes:
                try:
                    rss, command = process.memory_info().rss, " ".join(process.cmdline())
                except psutil.Error:
                    continue
                if "run_worker" in command:
                    self.worker_peak = max(self.worker_peak, rss)
                else:
                    self.step_workers_peak = max(self.step_workers_peak, rss)


def allocated_bytes(path: Path) -> int:
    """Bytes the files under ``path`` occupy on disk (allocated blocks, not their lengths)."""
    return sum(item.stat().st_blocks * 512 for item in path.rglob("*") if item.is_file())


def launch(n: int, executor: str, workers: int, env: dict[str, str]) -> tuple[dict, float, MemorySampler]:
    config: dict = {"ops": {"emit_many": {"config": {"n": n}}}}
    if executor == "multiprocess":
        config["execution"] = {"multiprocess": {"max_concurrent": workers}}
    elif executor == "dask":  # the run starts its own LocalCluster (process workers) and closes it
        config["execution"] = {"dask": {"n_workers": workers, "threads_per_worker": 1}}
    command = [sys.executable, "manage.py", "launch", "big_fanout", "--executor", executor, "--wait", "--json",
               "--config", json.dumps(config)]
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    sampler = MemorySampler(psutil.Process(process.pid))
    sampler.start()
    output, _ = process.communicate()
    elapsed = time.perf_counter() - began
    sampler.stop.set()
    sampler.join()
    assert process.returncode == 0, output
    return json.loads(output), elapsed, sampler


def api_timings(run_id: str, repeat: int) -> dict:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    timings = {}
    timings["nodeStats"], _ = timed_graphql(client, NODE_STATS, {"id": run_id}, repeat)
    timings["first_page"], data = timed_graphql(client, PAGE, {"id": run_id}, repeat)
    # A deep page: follow the cursors a few hundred pages in (keyset cursors make it as fast as the first).
    after = data["run"]["steps"]["pageInfo"]["endCursor"]
    for _ in range(300):
        _, data = timed_graphql(client, PAGE, {"id": run_id, "after": after}, 1)
        after = data["run"]["steps"]["pageInfo"]["endCursor"]
    timings["deep_page"], _ = timed_graphql(client, PAGE, {"id": run_id, "after": after}, repeat)
    # Texts of three characters or more use the trigram index; a shorter one ("k1") scans the node.
    searches = (("keyContains_common", "k12"), ("keyContains_rare", "k999999"), ("keyContains_none", "zzz"),
                ("keyContains_short", "k1"))
    for label, text in searches:
        timings[label], _ = timed_graphql(client, PAGE, {"id": run_id, "text": text}, repeat)
    return {label: value["median_ms"] for label, value in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--executor", choices=["in_process", "multiprocess", "dask"], default="in_process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="requests per API timing")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dagviz-million-"))
    os.environ["DAGVIZ_HOME"] = str(home)
    setup_django()
    from django.db import connection

    from runs.models import Event, Run, Step

    env = {**os.environ, "DAGVIZ_HOME": str(home)}
    launched, elapsed, sampler = launch(args.n, args.executor, args.workers, env)
    run = Run.objects.get(id=launched["run_id"])
    assert run.status == "SUCCESS", run.failure_reason
    run_seconds = (run.ended_at - run.started_at).total_seconds()
    row = {
        "n": args.n, "executor": args.executor, "database": connection.vendor,
        "end_to_end_s": round(elapsed, 1), "run_s": round(run_seconds, 1),
        "ms_per_key": round(run_seconds * 1000 / args.n, 4),
        "worker_peak_rss_mb": round(sampler.worker_peak / MB), "step_workers_peak_rss_mb": round(sampler.step_workers_peak / MB),
        "steps": Step.objects.filter(run=run).count(), "event_rows": Event.objects.filter(run=run).count(),
    }
    storage = allocated_bytes(home) - sum(allocated_bytes(path) if path.is_dir() else path.stat().st_blocks * 512
                                          for path in home.glob("dagviz.sqlite3*"))
    row["storage_bytes"] = storage
    if connection.vendor == "sqlite":
        row["database_bytes"] = sum(path.stat().st_blocks * 512 for path in home.glob("dagviz.sqlite3*"))
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            row["postgres_bytes"] = cursor.fetchone()[0]
    row["home_bytes"] = allocated_bytes(home)
    row["home_bytes_per_key"] = round(row["home_bytes"] / args.n)
    print(json.dumps(row), flush=True)
    row["api_ms"] = api_timings(str(run.id), args.repeat)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
