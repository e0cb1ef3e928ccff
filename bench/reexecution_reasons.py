"""Benchmark: the reasons of a re-execution preview at 100,000 keys.

A synthetic parent (emit -> work[k] -> check[k] -> collect), 100,000 keys, 3,000 of them failed in
``work`` (``check`` skipped there, the collect skipped), is previewed with and without reasons, so
the cost of explaining every step shows beside the cost of planning it. Nothing runs user code or
touches a database: this is the engine's own work, which the GraphQL preview and the CLI add to.

    python bench/reexecution_reasons.py --n 100000 --failed 3000 --repeat 5

Prints one JSON line per strategy: median seconds of the plain preview, of the preview with
reasons, and of the reasons alone (``step_reasons``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from dagviz import DynamicOut, DynamicOutput, job, op
from dagviz.execution.reexecution import (
    ParentRecord,
    parent_run_for,
    parse_selection,
    preview_reexecution,
    preview_with_reasons,
    step_reasons,
)
from dagviz.execution.status import StepStatus


@op(out=DynamicOut())
def emit():
    yield DynamicOutput(0, mapping_key="k0")


@op
def work(value: int) -> int:
    return value


@op
def check(value: int) -> int:
    return value


@op
def collect(values: list) -> int:
    return len(values)


@job
def reasons_bench():
    collect(emit().map(work).map(check).collect())


def synthetic_parent(n: int, failed: int) -> ParentRecord:
    keys = [f"k{i}" for i in range(n)]
    broken = {f"k{i}" for i in range(0, n, max(1, n // failed))}
    statuses = {"emit": StepStatus.SUCCESS, "collect": StepStatus.SKIPPED}
    outputs = {"emit": {}}
    for key in keys:
        ok = key not in broken
        statuses[f"work[{key}]"] = StepStatus.SUCCESS if ok else StepStatus.FAILURE
        statuses[f"check[{key}]"] = StepStatus.SUCCESS if ok else StepStatus.SKIPPED
        if ok:
            outputs[f"work[{key}]"] = {"result": f"ref/work/{key}"}
            outputs[f"check[{key}]"] = {"result": f"ref/check/{key}"}
    dynamic = {("emit", "result"): [(key, f"ref/emit/{key}") for key in keys]}
    return ParentRecord("parent", "reasons_bench", False, statuses, outputs, dynamic)


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--failed", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    record = synthetic_parent(args.n, args.failed)
    selected = [f"work[k{i}]" for i in range(1, args.n, max(1, args.n // args.failed))]
    for strategy, keys in (("FROM_FAILURE", None), ("FROM_SELECTED", selected), ("ALL", None)):
        plain, explained, reasons_only = [], [], []
        for _ in range(args.repeat):
            plain.append(timed(lambda: preview_reexecution(reasons_bench, None,
                                                           parent_run_for(reasons_bench, record, strategy, keys))))
            plan = None

            def with_reasons():
                nonlocal plan
                plan = preview_with_reasons(reasons_bench, None, record, strategy, keys)

            explained.append(timed(with_reasons))
            selection = parse_selection(reasons_bench, keys, record.step_statuses) if keys else []
            reasons_only.append(timed(lambda: step_reasons(reasons_bench, record, strategy, selection,
                                                           plan.to_execute)))
        print(json.dumps({"strategy": strategy, "n": args.n, "steps_run": len(plan.to_execute),
                          "preview_s": round(statistics.median(plain), 3),
                          "preview_with_reasons_s": round(statistics.median(explained), 3),
                          "reasons_only_s": round(statistics.median(reasons_only), 3)}))


if __name__ == "__main__":
    main()
