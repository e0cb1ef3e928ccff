"""Jobs at module level (and a job factory), so ``reconstructable`` can point worker processes at them."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, Field, graph, job, op


@op(out=DynamicOut(), config_schema={"keys": Field([str], default_value=["a", "b", "c"])})
def emit(context):
    for key in context.op_config["keys"]:
        yield DynamicOutput(key, mapping_key=key)


@op(config_schema={"fail_on": Field(str, default_value="")})
def double(context, value: str) -> str:
    if value == context.op_config["fail_on"]:
        raise ValueError(f"{value} fails")
    return value * 2


@op
def total(values: list) -> str:
    return "".join(values)


@job(tags={"team": "data"})
def fanout():
    total(emit().map(double).collect())


def fail_on(key: str, keys: list[str] | None = None) -> dict:
    """In-process run config with ``double`` failing on ``key`` (and the emitter yielding ``keys``)."""
    config: dict = {"execution": {"config": {"in_process": {}}}, "ops": {"double": {"config": {"fail_on": key}}}}
    if keys is not None:
        config["ops"]["emit"] = {"config": {"keys": keys}}
    return config


@graph
def doubled_total():
    total(emit().map(double).collect())


def define_fanout_job():
    """A job built by a factory, as Dagster's ``reconstructable(define_job)`` pattern does."""
    return doubled_total.to_job(name="fanout_from_factory")


@op
def runs_ended_by_the_monitor() -> list:
    """What the run monitor ends while this op runs (the run it belongs to must not be among them)."""
    from runs.services.monitor import check_runs

    return check_runs()


@job
def checks_the_monitor():
    runs_ended_by_the_monitor()


@op
def owner_tag(context) -> str:
    return context.get_tag("owner")


@job
def reads_its_tags():
    owner_tag()
