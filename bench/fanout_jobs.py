"""The benchmark workload: emit n keys -> map trivial (or sleeping) work -> collect the sum.

``fanout`` uses ``config_schema`` dicts; ``fanout_pythonic`` is the same work with ``Config`` classes
and a ``ConfigurableResource`` (``bench/fanout.py --job fanout_pythonic``).
"""

import time

from dagviz import Config, ConfigurableResource, DynamicOut, DynamicOutput, Field, job, op


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


# The same workload written as a Dagster team writes it today: Pythonic config and a resource.

class EmitConfig(Config):
    n: int
    interval_ms: int = 0


class WorkConfig(Config):
    sleep_ms: int = 0


class Offset(ConfigurableResource):
    amount: int = 1


@op(name="emit", out=DynamicOut())
def emit_from_config(config: EmitConfig):
    interval = config.interval_ms / 1000
    for index in range(config.n):
        if interval and index:
            time.sleep(interval)
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op(name="work")
def work_with_resource(config: WorkConfig, offset: Offset, value: int) -> int:
    if config.sleep_ms:
        time.sleep(config.sleep_ms / 1000)
    return value + offset.amount


@job(resource_defs={"offset": Offset()})
def fanout_pythonic():
    total(emit_from_config().map(work_with_resource).collect())
