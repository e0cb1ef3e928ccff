"""Nested fan-out: regions, then the customers of each region, scored and totalled per region."""

from __future__ import annotations

import zlib

from dagviz import DynamicOut, DynamicOutput, Field, job, op


@op(out=DynamicOut(), config_schema={
    "regions": Field([str], default_value=["eu", "us", "apac"], description="Region keys."),
    "customers_per_region": Field(int, default_value=4, description="Customers yielded per region."),
})
def regions(context):
    for region in context.op_config["regions"]:
        yield DynamicOutput({"region": region, "customers": context.op_config["customers_per_region"]},
                           mapping_key=region)


@op(out=DynamicOut())
def customers(region: dict):
    """The customers of one region: a second fan-out inside the first."""
    for index in range(region["customers"]):
        yield DynamicOutput(f"{region['region']}-{index}", mapping_key=f"c{index}")


@op
def score(customer: str) -> int:
    """A deterministic score per customer."""
    return zlib.crc32(customer.encode()) % 100


@op
def region_total(scores: list) -> int:
    """Runs once per region (region_total[eu]), over that region's customers."""
    return sum(scores)


@op
def overall(region_totals: list) -> dict:
    return {"regions": len(region_totals), "total": sum(region_totals)}


@job(description="regions -> customers of each region -> score -> total per region -> overall.")
def nested_fanout():
    totals = regions().map(lambda region: region_total(customers(region).map(score).collect()))
    overall(totals.collect())
