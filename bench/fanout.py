"""Benchmark: emit n keys -> map trivial work -> collect the sum.

Each repetition runs in a fresh interpreter and prints one JSON line: wall seconds of the
run (not counting interpreter start), ms per key, peak RSS of the coordinator and of the
workers, and the delay between the first key being yielded and its mapped step starting.
The last line is the median over the repetitions.

    python bench/fanout.py --mode in_process --n 10000 --repeat 5
    python bench/fanout.py --mode in_process --n 10000 --repeat 5 --job fanout_pythonic
    python bench/fanout.py --mode multiprocess --workers 2 --n 10000
    python bench/fanout.py --mode multiprocess --workers 2 --n 100 --sleep-ms 50
    python bench/fanout.py --mode in_process --n 100000 --repeat 1
    python bench/fanout.py --mode dask --workers 2 --n 10000 --repeat 3
    python bench/fanout.py --mode dask --workers 2 --n 100 --sleep-ms 50 --repeat 3
    python bench/fanout.py --mode dask --dask-cluster running --workers 2 --n 100 --sleep-ms 50 --repeat 3

With ``--mode dask`` the run starts its own LocalCluster (process workers, one thread each)
and closes it, inside the timed region; with ``--dask-cluster running`` the LocalCluster is
started before the clock starts and the run connects to it by address, as a run does on a
long-lived cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOBS_FILE = str(Path(__file__).with_name("fanout_jobs.py"))


def run_once(args: argparse.Namespace) -> dict:
    from dagviz import execute_job
    from dagviz.execution.events import DynamicOutputYielded, StepStarted
    from dagviz.workspace import Workspace

    workspace = Workspace.load(files=[JOBS_FILE])
    job = workspace.get(args.job)
    run_config = {"ops": {"emit": {"config": {"n": args.n, "interval_ms": args.interval_ms}},
                          "work": {"config": {"sleep_ms": args.sleep_ms}}}}
    executor = "in_process"
    store = "memory://"
    if args.mode == "multiprocess":
        run_config["execution"] = {"multiprocess": {"max_concurrent": args.workers}}
        executor = "multiprocess"
        store = f"file://{tempfile.mkdtemp(prefix='dagviz-bench-')}"
    cluster = None
    if args.mode == "dask":
        # A LocalCluster of process workers with one thread each, started (and closed) by the run,
        # or already running (configured as the executor configures its own).
        run_config["execution"] = {"dask": {"n_workers": args.workers, "threads_per_worker": 1}}
        executor = "dask"
        store = f"file://{tempfile.mkdtemp(prefix='dagviz-bench-')}"
        if args.dask_cluster == "running":
            import dask
            from distributed import Client, LocalCluster

            from dagviz.execution.executors.dask import LOCAL_SCHEDULER_CONFIG

            with dask.config.set(LOCAL_SCHEDULER_CONFIG):
                cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
            with Client(cluster, set_as_default=False) as client:
                client.wait_for_workers(args.workers)
            run_config["execution"] = {"dask": {"address": cluster.scheduler_address}}
    began = time.perf_counter()
    result = execute_job(job, run_config, executor=executor, output_store=store, pointer=workspace.pointers[args.job])
    wall = time.perf_counter() - began
    if cluster is not None:
        cluster.close()
    assert result.success, result.failure_reason
    assert result.output_for_node("total") == args.n * (args.n + 1) // 2
    yielded = {e.mapping_key: e.timestamp for e in result.events if isinstance(e, DynamicOutputYielded)}
    started = {e.step_key[5:-1]: e.timestamp for e in result.events
               if isinstance(e, StepStarted) and e.step_key.startswith("work[")}
    first_yield = min(yielded.values())
    first_mapped = min(started.values())
    key_to_start = [started[key] - yielded[key] for key in yielded]
    return {
        "mode": args.mode, "workers": args.workers if args.mode in ("multiprocess", "dask") else 1, "n": args.n,
        "sleep_ms": args.sleep_ms, "interval_ms": args.interval_ms, "wall_s": round(wall, 3),
        "ms_per_key": round(wall * 1000 / args.n, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "first_key_to_mapped_start_ms": round((first_mapped - first_yield) * 1000, 2),
        "median_key_to_start_ms": round(statistics.median(key_to_start) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["in_process", "multiprocess", "dask"], default="in_process")
    parser.add_argument("--job", choices=["fanout", "fanout_pythonic"], default="fanout",
                        help="fanout_pythonic: the same work with Config classes and a ConfigurableResource")
    parser.add_argument("--dask-cluster", choices=["own", "running"], default="own",
                        help="dask mode: the run starts its own LocalCluster, or uses one started before the clock")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sleep-ms", type=int, default=0)
    parser.add_argument("--interval-ms", type=int, default=0, help="pause between two yielded keys")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args)))
        return
    child_args = [a for a in sys.argv[1:] if a != "--child"] + ["--child"]
    rows = []
    for _ in range(args.repeat):
        output = subprocess.run([sys.executable, __file__, *child_args], check=True, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
        row = json.loads(output.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    median = {key: statistics.median(row[key] for row in rows) for key in
              ("wall_s", "ms_per_key", "peak_rss_mb", "worker_peak_rss_mb", "first_key_to_mapped_start_ms",
               "median_key_to_start_ms")}
    print(json.dumps({"median_of": len(rows), "job": args.job,
                      **{k: rows[0][k] for k in ("mode", "workers", "n", "sleep_ms")},
                      **({"dask_cluster": args.dask_cluster} if args.mode == "dask" else {}), **median}))


if __name__ == "__main__":
    main()
