"""Composing ops into jobs and graphs: node names, aliases, graphs, and shapes dagviz refuses."""

from __future__ import annotations

import pytest

from dagviz import (
    DynamicOut,
    DynamicOutput,
    GraphDefinition,
    InvalidConfigError,
    InvalidDefinitionError,
    JobDefinition,
    Out,
    graph,
    job,
    op,
)


@op
def one():
    return 1


@op
def add(x):
    return x + 1


@op
def ident(value):
    return value


@op
def two_inputs(a, b):
    return (a, b)


@op
def gather(values):
    return values


@op(out=DynamicOut())
def emit():
    for key in ("a", "b"):
        yield DynamicOutput(key, mapping_key=key)


@op(out=DynamicOut())
def emit_other():
    for key in ("x", "y"):
        yield DynamicOutput(key, mapping_key=key)


def test_the_same_op_invoked_several_times_is_named_add_add_2_add_3_in_call_order():
    @job
    def chain():
        add(add(add(one())))

    assert list(chain.nodes) == ["one", "add", "add_2", "add_3"]
    result = chain.execute_in_process()
    assert result.output_for_node("add") == 2
    assert result.output_for_node("add_2") == 3
    assert result.output_for_node("add_3") == 4
    started = [event.step_key for event in result.events if event.kind == "STEP_STARTED"]
    assert started == ["one", "add", "add_2", "add_3"]


def test_alias_names_the_node_and_its_output():
    @job
    def aliased():
        add.alias("first")(add.alias("second")(one()))

    assert list(aliased.nodes) == ["one", "second", "first"]
    result = aliased.execute_in_process()
    assert result.output_for_node("second") == 2
    assert result.output_for_node("first") == 3


def test_an_alias_used_twice_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="twice"):

        @job
        def duplicate_alias():
            add.alias("same")(one())
            add.alias("same")(one())


def test_job_decorator_forms_and_arguments():
    @job(name="named_job", description="does things", tags={"owner": "me"})
    def body():
        one()

    @job
    def bare():
        one()

    assert isinstance(body, JobDefinition)
    assert (body.name, body.description, body.tags) == ("named_job", "does things", {"owner": "me"})
    assert bare.name == "bare"


def test_invalid_job_and_graph_names_are_definition_errors():
    with pytest.raises(InvalidDefinitionError):

        @job(name="bad-name")
        def body():
            one()

    with pytest.raises(InvalidDefinitionError):

        @graph(name="class")
        def graph_body():
            one()


def test_a_job_without_ops_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="no ops"):

        @job
        def empty():
            pass


def test_ops_inside_a_graph_get_dotted_handles_and_their_outputs_are_addressed_by_path():
    @graph
    def inner_graph(x):
        return add(add(x))

    @job
    def with_graph():
        gather.alias("final")(inner_graph(one()))

    assert list(with_graph.nodes) == ["one", "inner_graph.add", "inner_graph.add_2", "final"]
    result = with_graph.execute_in_process()
    assert result.output_for_node("inner_graph.add") == 2
    assert result.output_for_node("inner_graph.add_2") == 3
    assert result.output_for_node("final") == 3


def test_graphs_nest_and_can_be_aliased():
    @graph
    def leaf(x):
        return add(x)

    @graph
    def middle(x):
        return leaf(x)

    @job
    def nested_graphs():
        middle.alias("m2")(middle(one()))

    assert list(nested_graphs.nodes) == ["one", "middle.leaf.add", "m2.leaf.add"]
    result = nested_graphs.execute_in_process()
    assert result.output_for_node("m2.leaf.add") == 3


def test_graph_to_job_runs_the_graph():
    @graph
    def standalone():
        add(one())

    assert isinstance(standalone, GraphDefinition)
    result = standalone.to_job(name="standalone_job").execute_in_process()
    assert result.output_for_node("add") == 2


def test_invoking_a_graph_outside_a_job_is_a_definition_error():
    @graph
    def standalone():
        add(one())

    with pytest.raises(InvalidDefinitionError):
        standalone()


def test_passing_a_constant_as_an_input_inside_a_job_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="config"):

        @job
        def constant_input():
            add(5)


def test_an_unconnected_input_without_default_is_read_from_run_config():
    """As in Dagster 1.13: the job is valid; the run config must then give the input."""

    @job
    def unconnected():
        add()

    with pytest.raises(InvalidConfigError, match=r"missing required field 'ops' \(\{add: \{inputs"):
        unconnected.execute_in_process()
    given_as_value = {"ops": {"add": {"inputs": {"x": {"value": 2}}}}}
    assert unconnected.execute_in_process(run_config=given_as_value).output_for_node("add") == 3
    with pytest.raises(InvalidConfigError, match=r"ops\.add\.inputs\.x: expected a dict \{value: \.\.\.\}"):
        unconnected.execute_in_process(run_config={"ops": {"add": {"inputs": {"x": 1}}}})  # untyped: selector only


def test_unknown_keyword_input_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="nope"):

        @job
        def unknown_kwarg():
            add(nope=one())


def test_multiple_outputs_unpack_as_a_tuple():
    @op(out={"left": Out(), "right": Out()})
    def split():
        return 1, 2

    @job
    def unpacked():
        left, right = split()
        two_inputs(left, right)

    assert unpacked.execute_in_process().output_for_node("two_inputs") == (1, 2)


def test_dynamic_output_passed_straight_to_an_op_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match=r"directly.*\.map\(\.\.\.\).*\.collect\(\)"):

        @job
        def not_unpacked():
            ident(emit())


def test_mapped_result_passed_to_an_op_outside_map_without_collect_is_a_definition_error():
    # Dagster: "received the dynamic output result from op 'ident' directly. Dynamic output must be
    # unpacked by invoking map or collect."
    with pytest.raises(InvalidDefinitionError):

        @job
        def mapped_not_collected():
            gather(emit().map(ident))


def test_op_downstream_of_two_unrelated_dynamic_outputs_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="cannot be downstream of more than one dynamic output"):

        @job
        def nested_unrelated():
            emit().map(lambda a: emit_other().map(lambda b: two_inputs(a, b)))


def test_two_mapped_results_from_different_fan_outs_into_one_op_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="cannot be downstream of more than one dynamic output"):

        @job
        def two_mapped():
            two_inputs(emit().map(ident), emit_other().map(ident))


def test_collect_of_an_unmapped_output_and_map_of_a_collect_are_definition_errors():
    with pytest.raises(InvalidDefinitionError, match="collect"):

        @job
        def collect_plain():
            gather(one().collect())

    with pytest.raises(InvalidDefinitionError, match="map"):

        @job
        def map_collected():
            emit().collect().map(ident)


def test_map_function_returning_a_non_output_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="returned"):

        @job
        def returns_constant():
            emit().map(lambda value: 5)


def test_mapped_nodes_record_the_fan_out_they_run_in():
    @job
    def mapped():
        gather(emit().map(add).collect())

    assert mapped.nodes["emit"].scope == ()
    assert mapped.nodes["add"].scope == (("emit", "result"),)
    assert mapped.nodes["gather"].scope == ()
    assert mapped.is_dynamic
