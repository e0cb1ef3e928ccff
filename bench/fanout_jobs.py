"""The benchmark workload: emit n keys -> map trivial (or sleeping) work -> collect the sum."""

import time

from dagviz import DynamicOut, DynamicOutput, Field, job, op


@op(out=DynamicOut(), config_schema={"n": int, "interval_ms": Field(int, default_value=0)})
def emit(context):
    interval = context.op_config["interval_ms"] / 1000
    for index in range(context.op_config["n"]):
        if interval and index:
            time.sleep(interval)
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op(config_schema={"sleep_ms": Field(int, default_value=0)})
def work(context, value: int) -> int:
    if context.op_config["sleep_ms"]:
        time.sleep(context.op_config["sleep_ms"] / 1000)
    return value + 1


@op
def total(values: list) -> int:
    return sum(values)


@job
def fanout():
    total(emit().map(work).collect())
