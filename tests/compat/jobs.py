"""Jobs at module level, so ``execute_job(reconstructable(...))`` can load them again (re-execution tests)."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, Field, job, op


@op(out=DynamicOut())
def emit():
    for key in ("a", "b", "c"):
        yield DynamicOutput(key, mapping_key=key)


@op
def double(value):
    return value * 2


@op
def total(values):
    return "".join(values)


@job
def fanout():
    total(emit().map(double).collect())


@op(config_schema={"fail_on": Field(str, default_value="")})
def flaky_double(context, value):
    if value == context.op_config["fail_on"]:
        raise ValueError(f"{value} fails")
    return value * 2


@job
def flaky_fanout():
    total(emit().map(flaky_double).collect())


def run_config(fail_on: str = "") -> dict:
    """In-process execution, with ``flaky_double`` failing on the value ``fail_on``."""
    return {"execution": {"config": {"in_process": {}}}, "ops": {"flaky_double": {"config": {"fail_on": fail_on}}}}


IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
