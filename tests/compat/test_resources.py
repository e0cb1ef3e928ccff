"""Resources (``ConfigurableResource``, ``@resource``, ``ResourceParam``) as Dagster 1.13 behaves.

Every expectation here was observed by running the same job on Dagster 1.13.27. No
``from __future__ import annotations``: Dagster 1.13 rejects string annotations of ``config``
and ``context`` parameters, so code written for it uses real classes.
"""

import pytest

from dagviz import (
    ConfigurableResource,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    Definitions,
    DynamicOut,
    DynamicOutput,
    ResourceParam,
    job,
    op,
    resource,
)


class Db(ConfigurableResource):
    url: str


@op
def use_db(db: Db) -> str:
    assert isinstance(db, Db)
    return db.url


@op(out=DynamicOut())
def five_keys():
    for index in range(5):
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op
def total(values: list) -> int:
    return sum(values)


def test_configurable_resource_parameter_is_supplied_by_job_resource_defs():
    """Dagster 1.13: ``@job(resource_defs={"db": Db(url="x")})`` gives the op a Db instance."""

    @job(resource_defs={"db": Db(url="x")})
    def with_db():
        use_db()

    assert with_db.execute_in_process().output_for_node("use_db") == "x"


def test_resource_parameter_is_a_required_resource_key_not_an_input():
    """Dagster 1.13: ``use_db.ins == {}`` and ``use_db.required_resource_keys == {"db"}``."""
    assert dict(use_db.ins) == {}
    assert set(use_db.required_resource_keys) == {"db"}


def test_definitions_resources_are_bound_to_the_job_it_returns():
    """Dagster 1.13: ``Definitions(jobs=[j], resources=...).get_job_def("j")`` runs with those resources."""

    @job
    def needs_db():
        use_db()

    defs = Definitions(jobs=[needs_db], resources={"db": Db(url="from_defs")})

    assert defs.get_job_def("needs_db").execute_in_process().output_for_node("use_db") == "from_defs"


def test_run_config_sets_resource_fields_over_the_constructor_values():
    """Dagster 1.13: ``resources: {db: {config: {url: "rc"}}}`` wins over ``Db(url="x")``."""

    @job(resource_defs={"db": Db(url="x")})
    def with_db():
        use_db()

    result = with_db.execute_in_process(run_config={"resources": {"db": {"config": {"url": "rc"}}}})

    assert result.output_for_node("use_db") == "rc"


def test_function_resource_gets_its_config_and_tears_down_after_the_op():
    """Dagster 1.13: ``@resource(config_schema=...)`` generator: init with run config, yield value, teardown."""
    calls = []

    @resource(config_schema={"n": int})
    def counter(init_context):
        calls.append(("init", init_context.resource_config))
        yield {"n": init_context.resource_config["n"]}
        calls.append(("teardown",))

    @op(required_resource_keys={"r"})
    def use_r(context) -> int:
        calls.append(("op", context.resources.r))
        return context.resources.r["n"]

    @job(resource_defs={"r": counter})
    def with_counter():
        use_r()

    result = with_counter.execute_in_process(run_config={"resources": {"r": {"config": {"n": 2}}}})

    assert result.output_for_node("use_r") == 2
    assert calls == [("init", {"n": 2}), ("op", {"n": 2}), ("teardown",)]


def test_missing_resource_config_is_an_invalid_config_error():
    """Dagster 1.13: no run config for ``@resource(config_schema={"n": int})`` -> 'Missing required config entry "resources"'."""

    @resource(config_schema={"n": int})
    def needs_n(init_context):
        return init_context.resource_config["n"]

    @op(required_resource_keys={"r"})
    def use_r(context):
        return context.resources.r

    @job(resource_defs={"r": needs_n})
    def with_needs_n():
        use_r()

    with pytest.raises(DagsterInvalidConfigError, match="resources"):
        with_needs_n.execute_in_process()


def test_resource_param_annotation_takes_a_plain_object():
    """Dagster 1.13: ``client: ResourceParam[Client]`` with ``resource_defs={"client": Client(...)}`` gets that object."""

    class Client:
        def __init__(self, name: str) -> None:
            self.name = name

    plain = Client("plain")

    @op
    def use_client(client: ResourceParam[Client]) -> str:
        assert client is plain
        return client.name

    @job(resource_defs={"client": plain})
    def with_client():
        use_client()

    assert with_client.execute_in_process().output_for_node("use_client") == "plain"
    assert dict(use_client.ins) == {}
    assert set(use_client.required_resource_keys) == {"client"}


def test_unknown_resource_on_context_raises_naming_the_key():
    """Dagster 1.13: ``context.resources.nope`` raises 'Unknown resource `nope`. ...' inside the op."""
    seen = {}

    @op(required_resource_keys={"db"})
    def peeks(context):
        seen["db"] = context.resources.db.url
        try:
            context.resources.nope
        except Exception as error:
            seen["error"] = str(error)

    @job(resource_defs={"db": Db(url="u")})
    def with_db():
        peeks()

    with_db.execute_in_process()
    assert seen["db"] == "u"
    assert "nope" in seen["error"]


def test_resource_is_set_up_once_per_run_not_per_key_and_torn_down_after_the_last_step():
    """Dagster 1.13 in process, fan-out of 5 keys: init 1, teardown 1, after every step and before the call returns."""
    calls = []

    @resource
    def tracked(_):
        calls.append("init")
        yield "R"
        calls.append("teardown")

    @op(required_resource_keys={"r"})
    def work(context, value: int) -> int:
        calls.append(f"work[{context.get_mapping_key()}]")
        return value

    @op
    def summed(values: list) -> int:
        calls.append("summed")
        return sum(values)

    @job(resource_defs={"r": tracked})
    def fan_out():
        summed(five_keys().map(work).collect())

    result = fan_out.execute_in_process()
    returned_at = len(calls)

    assert result.output_for_node("summed") == 10
    assert calls.count("init") == 1 and calls.count("teardown") == 1
    assert calls[0] == "init"
    assert calls[-1] == "teardown" and returned_at == len(calls)
    assert sorted(calls[1:-1]) == sorted([f"work[k{index}]" for index in range(5)] + ["summed"])


def test_resource_is_torn_down_when_the_run_fails():
    """Dagster 1.13: one mapped key fails; teardown still runs once, after the last step."""
    calls = []

    @resource
    def tracked(_):
        calls.append("init")
        yield "R"
        calls.append("teardown")

    @op(required_resource_keys={"r"})
    def fails_on_three(value: int) -> int:
        calls.append(f"work {value}")
        if value == 3:
            raise ValueError("k3 fails")
        return value

    @job(resource_defs={"r": tracked})
    def fan_out():
        five_keys().map(fails_on_three)

    result = fan_out.execute_in_process(raise_on_error=False)

    assert not result.success
    assert calls.count("init") == 1 and calls.count("teardown") == 1
    assert calls[-1] == "teardown" and calls.count("work 3") == 1


def test_configurable_resource_hooks_run_once_and_every_key_sees_the_set_up_instance():
    """Dagster 1.13: ``setup_for_execution`` and ``teardown_after_execution`` once per run; 5 keys share one instance."""
    calls = []

    class Hooked(ConfigurableResource):
        label: str = "h"

        def setup_for_execution(self, context) -> None:
            calls.append(("setup", id(self)))

        def teardown_after_execution(self, context) -> None:
            calls.append(("teardown", id(self)))

    @op
    def uses_hooked(hooked: Hooked, value: int) -> int:
        calls.append(("op", id(hooked)))
        return value

    @job(resource_defs={"hooked": Hooked()})
    def fan_out():
        total(five_keys().map(uses_hooked).collect())

    assert fan_out.execute_in_process().output_for_node("total") == 10

    kinds = [kind for kind, _ in calls]
    assert kinds == ["setup"] + ["op"] * 5 + ["teardown"]
    assert len({instance for _, instance in calls}) == 1


def test_a_resource_no_op_requires_is_not_initialised():
    """Dagster 1.13: a resource in ``resource_defs`` that no op requires is never built."""
    calls = []

    @resource
    def unused(_):
        calls.append("init")
        return 1

    @op
    def plain() -> int:
        return 1

    @job(resource_defs={"unused": unused})
    def with_unused():
        plain()

    assert with_unused.execute_in_process().success
    assert calls == []


def test_missing_resource_key_is_a_definition_error_when_the_job_is_defined():
    """Dagster 1.13: "resource with key 'nope' required by op 'needs_nope' was not provided. ..."."""

    @op(required_resource_keys={"nope"})
    def needs_nope():
        pass

    @resource
    def other(_):
        return 1

    with pytest.raises(DagsterInvalidDefinitionError) as caught:

        @job(resource_defs={"r": other})
        def broken():
            needs_nope()

    assert "'nope'" in str(caught.value) and "'needs_nope'" in str(caught.value)


def test_missing_resource_of_a_typed_parameter_is_a_definition_error():
    """Dagster 1.13: "resource with key 'db' required by op 'use_db' was not provided. ..."."""

    @resource
    def other(_):
        return 1

    with pytest.raises(DagsterInvalidDefinitionError) as caught:

        @job(resource_defs={"other": other})
        def broken():
            use_db()

    assert "'db'" in str(caught.value) and "'use_db'" in str(caught.value)


def test_job_without_resource_defs_is_checked_when_it_runs():
    """Dagster 1.13: a bare ``@job`` missing a resource defines fine and raises DagsterInvalidDefinitionError on execute."""

    @job
    def needs_db():
        use_db()

    with pytest.raises(DagsterInvalidDefinitionError) as caught:
        needs_db.execute_in_process()

    assert "'db'" in str(caught.value) and "'use_db'" in str(caught.value)


def test_resource_keys_in_both_decorator_and_parameters_are_rejected():
    """Dagster 1.13: 'Cannot specify resource requirements in both @op decorator and as arguments ...'."""
    with pytest.raises(Exception, match="both"):

        @op(required_resource_keys={"other"})
        def mixed(context, db: Db):
            return db.url
