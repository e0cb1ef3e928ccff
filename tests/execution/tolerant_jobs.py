"""Jobs with tolerant collects (``.collect(min_success_ratio=...)``), importable by worker processes."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, Field, job, op


@op(out=DynamicOut(), config_schema={"keys": Field(int, default_value=10)})
def emit_numbers(context):
    for number in range(context.op_config["keys"]):
        yield DynamicOutput(number, mapping_key=f"k{number}")


@op(config_schema={"bad": Field([int], default_value=[])})
def check(context, number: int) -> int:
    if number in context.op_config["bad"]:
        raise ValueError(f"row {number} is malformed")
    return number * 10


@op
def summarize(values: list) -> list:
    return values


@job
def tolerant_80():
    summarize(emit_numbers().map(check).collect(min_success_ratio=0.8))


@job
def strict_collect():
    summarize(emit_numbers().map(check).collect())


@op(out=DynamicOut())
def regions():
    for region in ("eu", "us"):
        yield DynamicOutput(region, mapping_key=region)


@op(out=DynamicOut(), config_schema={"per_region": Field(int, default_value=4)})
def customers(context, region: str):
    for index in range(context.op_config["per_region"]):
        yield DynamicOutput(f"{region}{index}", mapping_key=f"c{index}")


@op(config_schema={"bad": Field([str], default_value=[])})
def score(context, customer: str) -> str:
    if customer in context.op_config["bad"]:
        raise ValueError(f"customer {customer} has no history")
    return customer.upper()


@op
def region_summary(scores: list) -> int:
    return len(scores)


@op
def overall(counts: list) -> list:
    return counts


@job
def nested_tolerant():
    """Each region tolerates one bad customer in four; the overall collect tolerates one failed region."""
    counts = regions().map(
        lambda region: region_summary(customers(region).map(score).collect(min_success_ratio=0.75)))
    overall(counts.collect(min_success_ratio=0.5))
