"""Benchmark: what Dask alone costs on this machine, to read the dask figures of fanout.py against.

Without dagviz: start a LocalCluster of 2 process workers with one thread each (spawned, as
Dask does by default, and forked from a forkserver that has imported distributed, as the
dask executor does), run 100 plain tasks that sleep 50 ms on it, and close it. Each
repetition runs in a fresh interpreter and prints one JSON line; the last line is the median.

    python bench/dask_floor.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def nap(index: int, seconds: float) -> int:
    time.sleep(seconds)
    return index


def run_once(method: str, n: int, sleep_ms: int) -> dict:
    import multiprocessing
    import multiprocessing.forkserver

    began = time.perf_counter()
    if method == "forkserver":
        multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed"])
        multiprocessing.forkserver.ensure_running()
    import dask
    from distributed import Client, LocalCluster

    imported = time.perf_counter()
    settings = {"distributed.worker.multiprocessing-method": method,
                "distributed.scheduler.worker-saturation": float("inf")}
    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(2)
    started = time.perf_counter()
    results = client.gather(client.map(nap, range(n), seconds=sleep_ms / 1000, pure=False))
    computed = time.perf_counter()
    client.close()
    cluster.close()
    closed = time.perf_counter()
    assert results == list(range(n))
    return {"method": method, "n": n, "sleep_ms": sleep_ms, "import_s": round(imported - began, 3),
            "start_s": round(started - imported, 3), "tasks_s": round(computed - started, 3),
            "close_s": round(closed - computed, 3), "total_s": round(closed - began, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--sleep-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=["spawn", "forkserver"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child, args.n, args.sleep_ms)))
        return
    rows: dict[str, list[dict]] = {"spawn": [], "forkserver": []}
    for _ in range(args.repeat):
        for method in rows:  # interleaved, so both see the same machine
            output = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--sleep-ms", str(args.sleep_ms),
                                     "--child", method], check=True, capture_output=True, text=True)
            row = json.loads(output.stdout.strip().splitlines()[-1])
            rows[method].append(row)
            print(json.dumps(row), flush=True)
    for method, runs in rows.items():
        median = {key: statistics.median(run[key] for run in runs)
                  for key in ("import_s", "start_s", "tasks_s", "close_s", "total_s")}
        print(json.dumps({"median_of": len(runs), "method": method, "n": args.n, "sleep_ms": args.sleep_ms, **median}))


if __name__ == "__main__":
    main()
