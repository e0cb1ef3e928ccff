"""Composition as Dagster 1.13 behaves: ``In(Nothing)``, multi-output graphs, list fan-in, inputs from run config.

Every expectation here was observed by running the same job on Dagster 1.13.27. Where
Dagster records nothing for a step (downstream of a failure), the tests only pin that the
op never ran.
"""

import re

import pytest

from dagviz import (
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DynamicOut,
    DynamicOutput,
    Failure,
    GraphOut,
    In,
    Nothing,
    Out,
    Output,
    StepStatus,
    graph,
    job,
    op,
)


@op(out=DynamicOut())
def emit_abc():
    for key in ("a", "b", "c"):
        yield DynamicOutput(key, mapping_key=key)


@op(out=DynamicOut())
def emit_123():
    for number in (1, 2, 3):
        yield DynamicOutput(number, mapping_key=f"k{number}")


@op
def one() -> int:
    return 1


@op
def two() -> int:
    return 2


@op
def inc(value: int) -> int:
    return value + 1


@op
def dbl(value: int) -> int:
    return value * 2


@op
def add(x: int, y: int) -> int:
    return x + y


@op
def gather(values: list) -> list:
    return values


@op
def inc_letter(value: str) -> str:
    return value + "+"


@op(out=Out(is_required=False))
def nothing_produced():
    if False:
        yield Output(1)


@op
def fails():
    raise Failure(description="boom")


# -- In(Nothing) -------------------------------------------------------------------------------------------


def _ordering_ops(order: list):
    @op
    def before() -> int:
        order.append("before")
        return 1

    @op(ins={"start": In(Nothing)})
    def after() -> str:
        order.append("after")
        return "after-ran"

    @op
    def visit(value: str) -> str:
        order.append(f"visit[{value}]")
        return value

    return before, after, visit


def test_nothing_input_orders_the_op_after_its_upstream_and_passes_no_value():
    """Dagster 1.13: ``after(start=before())`` runs before, then after; ``after()`` takes no argument."""
    order = []
    before, after, _ = _ordering_ops(order)

    @job
    def ordered():
        after(start=before())

    result = ordered.execute_in_process()

    assert order == ["before", "after"]
    assert result.output_for_node("after") == "after-ran"


def test_nothing_input_after_a_collect_waits_for_every_mapped_step():
    """Dagster 1.13: ``after(start=emit().map(x).collect())`` runs after x[a], x[b] and x[c]."""
    order = []
    _, after, visit = _ordering_ops(order)

    @job
    def after_collect():
        after(start=emit_abc().map(visit).collect())

    assert after_collect.execute_in_process().success
    assert order == ["visit[a]", "visit[b]", "visit[c]", "after"]


def test_unconnected_nothing_input_runs_the_op():
    """Dagster 1.13: ``after()`` with its Nothing input left unconnected simply runs."""
    order = []
    _, after, _ = _ordering_ops(order)

    @job
    def alone():
        after()

    assert alone.execute_in_process().success
    assert order == ["after"]


def test_nothing_input_after_a_skipped_upstream_is_skipped():
    """Dagster 1.13: upstream's optional output not produced -> ``after`` gets STEP_SKIPPED; the run succeeds."""
    order = []
    _, after, _ = _ordering_ops(order)

    @job
    def after_skip():
        after(start=nothing_produced())

    result = after_skip.execute_in_process()

    assert result.success
    assert result.step_status("after") == StepStatus.SKIPPED
    assert order == []


def test_nothing_input_after_a_failed_upstream_never_runs():
    """Dagster 1.13: upstream raises Failure -> ``after`` never starts; the run fails."""
    order = []
    _, after, _ = _ordering_ops(order)

    @job
    def after_failure():
        after(start=fails())

    result = after_failure.execute_in_process(raise_on_error=False)

    assert not result.success
    assert order == []


def test_nothing_input_after_a_collect_with_one_failed_key_never_runs():
    """Dagster 1.13: x[b] fails, x[a] and x[c] succeed -> ``after`` never starts."""
    order = []
    _, after, _ = _ordering_ops(order)

    @op
    def fails_on_b(value: str) -> str:
        if value == "b":
            raise ValueError("b fails")
        return value

    @job
    def after_partial():
        after(start=emit_abc().map(fails_on_b).collect())

    result = after_partial.execute_in_process(raise_on_error=False)

    assert not result.success
    assert result.step_status("fails_on_b[a]") == StepStatus.SUCCESS
    assert result.step_status("fails_on_b[c]") == StepStatus.SUCCESS
    assert order == []


def test_nothing_input_after_an_empty_dynamic_output_skips_only_when_the_output_is_optional():
    """Dagster 1.13: optional DynamicOut with no keys -> ``after`` skipped; required DynamicOut with no keys -> ``after`` runs."""
    order = []
    _, after, visit = _ordering_ops(order)

    @op(out=DynamicOut(is_required=False))
    def emit_none_optional():
        if False:
            yield DynamicOutput("x", mapping_key="x")

    @op(out=DynamicOut())
    def emit_none_required():
        if False:
            yield DynamicOutput("x", mapping_key="x")

    @job
    def after_optional():
        after(start=emit_none_optional().map(visit).collect())

    @job
    def after_required():
        after(start=emit_none_required().map(visit).collect())

    optional = after_optional.execute_in_process()
    assert optional.success and optional.step_status("after") == StepStatus.SKIPPED
    assert order == []

    required = after_required.execute_in_process()
    assert required.success and required.step_status("after") == StepStatus.SUCCESS
    assert order == ["after"]


def test_nothing_input_takes_a_list_of_upstreams_and_sits_beside_value_inputs():
    """Dagster 1.13: ``start=[before(), before()]`` waits for both; ``mixed(v=..., start=...)`` gets only ``v``."""
    order = []
    before, _, _ = _ordering_ops(order)

    @op(ins={"start": In(Nothing)})
    def after_many() -> None:
        order.append("after_many")

    @op(ins={"start": In(Nothing), "v": In(int)})
    def mixed(v: int) -> int:
        return v + 1

    @job
    def many():
        after_many(start=[before(), before()])
        mixed(v=one(), start=emit_abc().map(inc_letter).collect())

    result = many.execute_in_process()

    assert order == ["before", "before", "after_many"]
    assert result.output_for_node("mixed") == 2


def test_nothing_output_orders_a_downstream_nothing_input():
    """Dagster 1.13: ``@op(out=Out(Nothing))`` then ``after(start=side())``; the output's value is None."""
    order = []
    _, after, _ = _ordering_ops(order)

    @op(out=Out(Nothing))
    def side() -> None:
        order.append("side")

    @job
    def side_effect():
        after(start=side())

    result = side_effect.execute_in_process()

    assert order == ["side", "after"]
    assert result.output_for_node("side") is None


# -- Graphs with several outputs ---------------------------------------------------------------------------


@graph(out={"a": GraphOut(), "b": GraphOut()})
def pair():
    return {"a": one(), "b": two()}


@graph(out={"a": GraphOut(), "b": GraphOut()})
def split(value):
    return {"a": inc(value), "b": dbl(value)}


@graph
def inc_then_dbl(value):
    return dbl(inc(value))


def test_graph_with_two_outputs_unpacks_into_two_handles():
    """Dagster 1.13: ``a, b = pair(); add(a, b)`` -> 3; ``output_for_node("pair", "a")`` -> 1, ``("pair", "b")`` -> 2."""

    @job
    def unpacked():
        a, b = pair()
        add(a, b)

    result = unpacked.execute_in_process()

    assert result.output_for_node("add") == 3
    assert result.output_for_node("pair", "a") == 1
    assert result.output_for_node("pair", "b") == 2
    assert result.output_for_node("pair.one") == 1


def test_graph_outputs_are_also_attributes_of_the_invocation():
    """Dagster 1.13: ``outs = pair(); add(outs.a, outs.b)`` -> 3."""

    @job
    def by_attribute():
        outs = pair()
        add(outs.a, outs.b)

    assert by_attribute.execute_in_process().output_for_node("add") == 3


def test_a_graph_invoked_twice_gets_a_numbered_second_handle():
    """Dagster 1.13: the second ``pair()`` is node ``pair_2`` (steps ``pair_2.one``, ``pair_2.two``)."""

    @job
    def twice():
        a, _ = pair()
        _, b = pair()
        add(a, b)

    result = twice.execute_in_process()

    assert result.output_for_node("add") == 3
    assert result.output_for_node("pair_2", "b") == 2
    assert result.output_for_node("pair_2.two") == 2


def test_graph_returning_a_tuple_maps_its_outputs_in_order():
    """Dagster 1.13: ``return one(), two()`` from a graph with outputs a, b maps a=1, b=2."""

    @graph(out={"a": GraphOut(), "b": GraphOut()})
    def as_tuple():
        return one(), two()

    @job
    def from_tuple():
        a, b = as_tuple()
        add(a, b)

    result = from_tuple.execute_in_process()

    assert result.output_for_node("add") == 3
    assert result.output_for_node("as_tuple", "b") == 2


def test_graph_that_leaves_an_output_unmapped_is_a_definition_error():
    """Dagster 1.13: "@graph 'half' has unmapped output 'b'. Remove it or return a value from the appropriate ..."."""
    with pytest.raises(DagsterInvalidDefinitionError) as caught:

        @graph(out={"a": GraphOut(), "b": GraphOut()})
        def half():
            return {"a": one()}

    assert "'half'" in str(caught.value) and "'b'" in str(caught.value)


def test_single_output_graph_mapped_over_keys():
    """Dagster 1.13: ``gather(emit().map(inc_then_dbl).collect())`` -> [4, 6, 8]; graph output by key."""

    @job
    def mapped_graph():
        gather(emit_123().map(inc_then_dbl).collect())

    result = mapped_graph.execute_in_process()

    assert result.output_for_node("gather") == [4, 6, 8]
    assert result.output_for_node("inc_then_dbl") == {"k1": 4, "k2": 6, "k3": 8}
    assert result.output_for_node("inc_then_dbl.inc") == {"k1": 2, "k2": 3, "k3": 4}


def test_multi_output_graph_mapped_gives_one_handle_per_output_collected_separately():
    """Dagster 1.13: ``a, b = emit().map(split)`` (a tuple); a.collect() -> [2, 3, 4], b.collect() -> [2, 4, 6]."""

    @op
    def gather_a(values: list) -> list:
        return values

    @op
    def gather_b(values: list) -> list:
        return values

    @job
    def mapped_split():
        a, b = emit_123().map(split)
        gather_a(a.collect())
        gather_b(b.collect())

    result = mapped_split.execute_in_process()

    assert result.output_for_node("gather_a") == [2, 3, 4]
    assert result.output_for_node("gather_b") == [2, 4, 6]
    assert result.output_for_node("split", "a") == {"k1": 2, "k2": 3, "k3": 4}
    assert result.output_for_node("split", "b") == {"k1": 2, "k2": 4, "k3": 6}


def test_multi_output_graph_mapped_through_a_lambda_unpacks_the_same_way():
    """Dagster 1.13: ``a, b = emit().map(lambda v: split(v))`` behaves as ``.map(split)``."""

    @op
    def gather_a(values: list) -> list:
        return values

    @op
    def gather_b(values: list) -> list:
        return values

    @job
    def mapped_lambda():
        a, b = emit_123().map(lambda value: split(value))
        gather_a(a.collect())
        gather_b(b.collect())

    result = mapped_lambda.execute_in_process()

    assert result.output_for_node("gather_a") == [2, 3, 4]
    assert result.output_for_node("gather_b") == [2, 4, 6]


# -- Fan-in of a list --------------------------------------------------------------------------------------


def test_list_of_outputs_arrives_as_a_list_in_the_order_written():
    """Dagster 1.13: ``gather([one(), two()])`` -> [1, 2]."""

    @job
    def fan_in():
        gather([one(), two()])

    assert fan_in.execute_in_process().output_for_node("gather") == [1, 2]


def test_the_same_op_twice_in_a_list_gets_a_numbered_handle():
    """Dagster 1.13: ``gather([one(), two(), one()])`` -> nodes one, two, one_2; [1, 2, 1]."""

    @job
    def repeated():
        gather([one(), two(), one()])

    result = repeated.execute_in_process()

    assert result.output_for_node("gather") == [1, 2, 1]
    assert result.output_for_node("one_2") == 1


def test_list_member_that_produced_nothing_is_left_out_and_the_op_runs():
    """Dagster 1.13: an optional output not produced -> ``gather`` runs with the partial list [2]."""

    @job
    def partial():
        gather([nothing_produced(), two()])

    result = partial.execute_in_process()

    assert result.success
    assert result.output_for_node("gather") == [2]


def test_list_whose_only_member_produced_nothing_skips_the_op():
    """Dagster 1.13: ``gather([nothing_produced()])`` -> STEP_SKIPPED, run succeeds."""

    @job
    def empty():
        gather([nothing_produced()])

    result = empty.execute_in_process()

    assert result.success
    assert result.step_status("gather") == StepStatus.SKIPPED


def test_list_member_that_failed_keeps_the_op_from_running():
    """Dagster 1.13: ``gather([fails(), two()])`` -> two succeeds, gather never starts, run fails."""
    ran = []

    @op
    def records(values: list) -> list:
        ran.append(values)
        return values

    @job
    def with_failure():
        records([fails(), two()])

    result = with_failure.execute_in_process(raise_on_error=False)

    assert not result.success
    assert result.output_for_node("two") == 2
    assert ran == []


def test_collect_of_keys_where_one_produced_nothing_is_the_partial_list():
    """Dagster 1.13: a mapped op whose optional output is skipped for key b -> collect gets ['a', 'c']."""

    @op(out=Out(is_required=False))
    def all_but_b(value: str):
        if value != "b":
            yield Output(value)

    @job
    def skip_b():
        gather(emit_abc().map(all_but_b).collect())

    result = skip_b.execute_in_process()

    assert result.success
    assert result.output_for_node("gather") == ["a", "c"]


# -- Unconnected inputs from run config --------------------------------------------------------------------


@job
def add_alone():
    add()


def _inputs(**inputs) -> dict:
    return {"ops": {"add": {"inputs": inputs}}}


@pytest.mark.parametrize(
    "inputs",
    [
        {"x": 1, "y": {"value": 2}},
        {"x": {"value": 1}, "y": {"value": 2}},
        {"x": 1, "y": 2},
    ],
)
def test_scalar_typed_inputs_accept_a_bare_value_or_a_value_selector(inputs):
    """Dagster 1.13: ``ops: {add: {inputs: {x: 1, y: {value: 2}}}}`` and the other two shapes all give 3."""
    assert add_alone.execute_in_process(run_config=_inputs(**inputs)).output_for_node("add") == 3


def test_required_input_neither_connected_nor_configured_is_a_config_error():
    """Dagster 1.13: 'Missing required config entry "y" at path root:ops:add:inputs.' (DagsterInvalidConfigError at run)."""
    with pytest.raises(DagsterInvalidConfigError) as caught:
        add_alone.execute_in_process(run_config=_inputs(x=1))

    assert re.search(r"add.inputs\b", str(caught.value))
    assert "'y'" in str(caught.value) or '"y"' in str(caught.value)


def test_no_run_config_for_unconnected_inputs_is_a_config_error():
    """Dagster 1.13: 'Missing required config entry "ops" at the root.'."""
    with pytest.raises(DagsterInvalidConfigError):
        add_alone.execute_in_process()


def test_wrongly_typed_or_unknown_configured_inputs_are_config_errors():
    """Dagster 1.13: ``x: "1"`` -> 'Invalid scalar at path root:ops:add:inputs:x'; ``z: 3`` -> 'unexpected config entry "z"'."""
    with pytest.raises(DagsterInvalidConfigError) as wrong_type:
        add_alone.execute_in_process(run_config=_inputs(x="1", y=2))
    with pytest.raises(DagsterInvalidConfigError) as unknown:
        add_alone.execute_in_process(run_config=_inputs(x=1, y=2, z=3))

    assert re.search(r"add.inputs.x\b", str(wrong_type.value))
    assert "'z'" in str(unknown.value) or '"z"' in str(unknown.value)


def test_untyped_inputs_take_only_the_value_selector():
    """Dagster 1.13: ``{a: {value: [1, 2]}}`` -> [1, 2]; bare ``a: [1, 2]`` -> 'Value for selector type ... must be a dict'."""

    @op
    def untyped(a, b) -> list:
        return [a, b]

    @job
    def untyped_alone():
        untyped()

    result = untyped_alone.execute_in_process(
        run_config={"ops": {"untyped": {"inputs": {"a": {"value": [1, 2]}, "b": {"value": {"k": "v"}}}}}}
    )
    assert result.output_for_node("untyped") == [[1, 2], {"k": "v"}]

    with pytest.raises(DagsterInvalidConfigError):
        untyped_alone.execute_in_process(run_config={"ops": {"untyped": {"inputs": {"a": [1, 2], "b": "s"}}}})


def test_only_the_unconnected_input_is_configurable():
    """Dagster 1.13: ``add(x=one())`` + ``inputs: {y: 5}`` -> 6; configuring the connected ``x`` too is an error."""

    @job
    def half_connected():
        add(x=one())

    assert half_connected.execute_in_process(run_config=_inputs(y=5)).output_for_node("add") == 6
    with pytest.raises(DagsterInvalidConfigError):
        half_connected.execute_in_process(run_config=_inputs(x=4, y=5))


def test_input_defaults_need_no_run_config():
    """Dagster 1.13: ``In(int, default_value=10)`` -> 10 and ``def f(x: int = 7)`` -> 7 with no run config."""

    @op(ins={"x": In(int, default_value=10)})
    def with_in_default(x):
        return x

    @op
    def with_python_default(x: int = 7):
        return x

    @job
    def defaults():
        with_in_default()
        with_python_default()

    result = defaults.execute_in_process()

    assert result.output_for_node("with_in_default") == 10
    assert result.output_for_node("with_python_default") == 7


def test_inputs_of_an_op_inside_a_graph_sit_under_the_graph_ops():
    """Dagster 1.13: ``ops: {wrapper: {ops: {add: {inputs: {x: 1, y: 2}}}}}`` -> 3."""

    @graph
    def wrapper():
        add()

    @job
    def wrapped():
        wrapper()

    result = wrapped.execute_in_process(run_config={"ops": {"wrapper": {"ops": {"add": {"inputs": {"x": 1, "y": 2}}}}}})

    assert result.output_for_node("wrapper.add") == 3


def test_configured_input_of_a_mapped_op_is_the_same_for_every_key():
    """Dagster 1.13: ``emit().map(lambda v: suffixed(v))`` + ``inputs: {end: {value: "!"}}`` -> {'a': 'a!', ...}."""

    @op
    def suffixed(value, end):
        return value + end

    @job
    def mapped_with_input():
        emit_abc().map(lambda value: suffixed(value))

    result = mapped_with_input.execute_in_process(run_config={"ops": {"suffixed": {"inputs": {"end": {"value": "!"}}}}})

    assert result.output_for_node("suffixed") == {"a": "a!", "b": "b!", "c": "c!"}
