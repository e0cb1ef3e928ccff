"""An emitter that yields slowly: mapped steps start while it is still running."""

from __future__ import annotations

import time

from dagviz import DynamicOut, DynamicOutput, Field, job, op


@op(out=DynamicOut(), config_schema={
    "n": Field(int, default_value=10, description="Number of keys."),
    "interval_ms": Field(int, default_value=100, description="Pause between two keys."),
})
def slow_emitter(context):
    """Yield one key every interval_ms."""
    for index in range(context.op_config["n"]):
        if index:
            time.sleep(context.op_config["interval_ms"] / 1000)
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op(config_schema={"work_ms": Field(int, default_value=300, description="Work per key.")})
def work(context, index: int) -> int:
    time.sleep(context.op_config["work_ms"] / 1000)
    return index


@op
def gather(values: list) -> list:
    return values


@job(description="Keys arrive every 100 ms; each mapped step works 300 ms and starts as soon as its key exists.")
def streaming_fanout():
    gather(slow_emitter().map(work).collect())
