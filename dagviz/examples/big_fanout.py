"""A very wide fan-out with trivial work per key: 10,000 keys by default."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, Field, job, op


@op(out=DynamicOut(), config_schema={"n": Field(int, default_value=10_000, description="Number of keys.")})
def emit_many(context):
    """Yield keys k0..k(n-1)."""
    for index in range(context.op_config["n"]):
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op
def add_one(value: int) -> int:
    return value + 1


@op
def sum_all(values: list) -> int:
    return sum(values)


@job(description="10,000 keys of trivial work, collected into a sum.")
def big_fanout():
    sum_all(emit_many().map(add_one).collect())
