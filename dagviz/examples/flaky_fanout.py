"""A fan-out where some keys fail in the original run and succeed when the run is re-executed."""

from __future__ import annotations

import time

from dagviz import DynamicOut, DynamicOutput, Failure, Field, job, op


@op(
    out=DynamicOut(),
    config_schema={"n": Field(int, default_value=20, description="Number of keys.")},
)
def emit_keys(context):
    """Yield keys k0..k(n-1)."""
    for index in range(context.op_config["n"]):
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op(config_schema={
    "fail_keys": Field([str], default_value=["k3", "k7"], description="Keys that fail unless re-executed."),
    "sleep_ms": Field(int, default_value=200, description="Work per key, in milliseconds."),
})
def flaky_work(context, index: int) -> int:
    """Sleep, then fail for the configured keys unless this run is a re-execution."""
    time.sleep(context.op_config["sleep_ms"] / 1000)
    key = context.get_mapping_key()
    if key in context.op_config["fail_keys"] and context.parent_run_id is None:
        raise Failure(f"key {key} failed on purpose (it succeeds when the run is re-executed)")
    context.log.info(f"key {key} done")
    return index * index


@op
def total(squares: list) -> int:
    """Sum of all keys' results."""
    return sum(squares)


@job(description="20 keys; k3 and k7 fail in the original run and succeed on re-execution.")
def flaky_fanout():
    total(emit_keys().map(flaky_work).collect())
