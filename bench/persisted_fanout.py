"""Benchmark: a persisted run of ``big_fanout`` (10,000 keys by default), launched and waited for.

Prints one JSON line per run: the run's own time (worker marked STARTED -> run ended, so
the interpreter start of the worker is not counted), ms per key, the end-to-end time from
launch to finished, and how many events and step rows were written. Uses a fresh
DAGVIZ_HOME (SQLite) unless DATABASE_URL is set.

    python bench/persisted_fanout.py --executor in_process --n 10000 --repeat 3
    python bench/persisted_fanout.py --executor multiprocess --n 10000 --repeat 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dagviz_bench python bench/persisted_fanout.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DAGVIZ_HOME", tempfile.mkdtemp(prefix="dagviz-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dagviz.server.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from runs.management.commands._base import wait_for_run
    from runs.models import Event, Step
    from runs.services.launch import launch_run

    call_command("migrate", verbosity=0)
    rows = []
    for _ in range(args.repeat):
        config = {"ops": {"emit_many": {"config": {"n": args.n}}}}
        if args.executor == "multiprocess":
            config["execution"] = {"multiprocess": {"max_concurrent": 2}}
        began = time.perf_counter()
        run = launch_run("big_fanout", config, executor=args.executor)
        run = wait_for_run(run.id, poll_seconds=0.05)
        end_to_end = time.perf_counter() - began
        assert run.status == "SUCCESS", run.failure_reason
        run_seconds = (run.ended_at - run.started_at).total_seconds()
        row = {
            "executor": args.executor, "n": args.n, "database": django.db.connection.vendor,
            "run_s": round(run_seconds, 3), "ms_per_key": round(run_seconds * 1000 / args.n, 4),
            "end_to_end_s": round(end_to_end, 3),
            "events": Event.objects.filter(run=run).count(), "steps": Step.objects.filter(run=run).count(),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"median_of": len(rows), "executor": args.executor, "n": args.n, "database": rows[0]["database"],
                      **{key: statistics.median(r[key] for r in rows) for key in ("run_s", "ms_per_key", "end_to_end_s")}}))


if __name__ == "__main__":
    main()
