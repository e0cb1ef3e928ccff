"""Dynamic mapping and collect, in process: .map with ops, graphs and lambdas, collect order, context."""

from __future__ import annotations

import pytest

from dagviz import DagvizError, DynamicOut, DynamicOutput, Field, Out, Output, StepStatus, graph, job, op


@op(out=DynamicOut())
def emit():
    # Deliberately not alphabetical: yield order must win over any sorting.
    for key in ("c", "a", "b"):
        yield DynamicOutput(key, mapping_key=key)


@op
def ident(value):
    return value


@op
def upper(value: str) -> str:
    return value.upper()


@op
def exclaim(value: str) -> str:
    return value + "!"


@op
def suffix() -> str:
    return "?"


@op
def cat(value: str, end: str) -> str:
    return value + end


@op
def gather(values: list) -> list:
    return values


def test_map_runs_the_op_once_per_key_and_collect_gives_the_values_in_yield_order():
    @job
    def basic():
        gather(emit().map(upper).collect())

    result = basic.execute_in_process()
    assert result.success
    assert result.output_for_node("gather") == ["C", "A", "B"]
    assert {"upper[c]", "upper[a]", "upper[b]"} <= set(result.steps)
    assert all(result.steps[f"upper[{key}]"].status == StepStatus.SUCCESS for key in "cab")


def test_output_for_node_of_a_mapped_op_is_a_dict_by_mapping_key_in_yield_order():
    @job
    def basic():
        emit().map(upper)

    result = basic.execute_in_process()
    mapped = result.output_for_node("upper")
    assert mapped == {"c": "C", "a": "A", "b": "B"}
    assert list(mapped) == ["c", "a", "b"]


def test_output_for_node_of_the_emitter_is_its_dynamic_values_by_key():
    @job
    def basic():
        emit().map(upper)

    assert list(basic.execute_in_process().output_for_node("emit").items()) == [("c", "c"), ("a", "a"), ("b", "b")]


def test_collect_directly_on_a_dynamic_output_gathers_the_yielded_values():
    @job
    def direct():
        gather(emit().collect())

    assert direct.execute_in_process().output_for_node("gather") == ["c", "a", "b"]


def test_map_over_a_graph_gives_step_keys_inside_the_graph_path():
    @graph
    def shout_graph(value):
        return exclaim(upper(value))

    @job
    def mapped_graph():
        gather(emit().map(shout_graph).collect())

    result = mapped_graph.execute_in_process()
    assert {"shout_graph.upper[c]", "shout_graph.exclaim[c]", "shout_graph.upper[b]"} <= set(result.steps)
    assert result.output_for_node("shout_graph.upper") == {"c": "C", "a": "A", "b": "B"}
    assert result.output_for_node("shout_graph.exclaim") == {"c": "C!", "a": "A!", "b": "B!"}
    assert result.output_for_node("gather") == ["C!", "A!", "B!"]


def test_output_for_node_of_a_mapped_graph_is_the_graph_output_by_key():
    # Dagster: output_for_node("my_graph") returns the graph's output, a dict keyed by mapping key.
    @graph
    def shout_graph(value):
        return exclaim(upper(value))

    @job
    def mapped_graph():
        emit().map(shout_graph)

    assert mapped_graph.execute_in_process().output_for_node("shout_graph") == {"c": "C!", "a": "A!", "b": "B!"}


def test_map_lambda_composes_several_ops_with_an_extra_non_dynamic_input():
    @job
    def with_extra():
        end = suffix()
        gather(emit().map(lambda value: exclaim(cat(value, end))).collect())

    result = with_extra.execute_in_process()
    assert result.output_for_node("gather") == ["c?!", "a?!", "b?!"]
    assert result.steps["suffix"].attempts == 1


def test_mapped_step_whose_extra_input_is_already_computed_when_its_key_arrives_runs_once_per_key():
    # The emitter is invoked first, so suffix has finished before emit yields its first key.
    @job
    def extra_ready_first():
        items = emit()
        end = suffix()
        gather(items.map(lambda value: cat(value, end)).collect())

    result = extra_ready_first.execute_in_process()
    assert result.output_for_node("gather") == ["c?", "a?", "b?"]
    started = [event.step_key for event in result.events if event.kind == "STEP_STARTED"]
    assert sorted(started) == sorted(["emit", "suffix", "cat[c]", "cat[a]", "cat[b]", "gather"])


def test_an_op_invoked_inside_a_map_lambda_without_the_mapped_value_runs_once():
    @job
    def static_inside_map():
        gather(emit().map(lambda value: cat(value, suffix())).collect())

    result = static_inside_map.execute_in_process()
    assert result.output_for_node("gather") == ["c?", "a?", "b?"]
    assert "suffix" in result.steps and not any(key.startswith("suffix[") for key in result.steps)


def test_several_dynamic_outs_on_one_op_unpack_as_a_tuple_and_map_independently():
    @op(out={"evens": DynamicOut(), "odds": DynamicOut()})
    def split():
        for number in (3, 0, 1, 2):
            name = "evens" if number % 2 == 0 else "odds"
            yield DynamicOutput(number, mapping_key=f"n{number}", output_name=name)

    @op
    def double(value: int) -> int:
        return value * 2

    @job
    def unpacked():
        evens, odds = split()
        gather.alias("even_values")(evens.map(double).collect())
        gather.alias("odd_values")(odds.map(ident).collect())

    result = unpacked.execute_in_process()
    assert result.output_for_node("even_values") == [0, 4]
    assert result.output_for_node("odd_values") == [3, 1]
    assert result.output_for_node("double") == {"n0": 0, "n2": 4}
    assert result.output_for_node("ident") == {"n3": 3, "n1": 1}
    assert result.output_for_node("split", "odds") == {"n3": 3, "n1": 1}


def test_a_dynamic_op_may_also_yield_a_plain_output():
    @op(out={"items": DynamicOut(), "count": Out()})
    def items_and_count():
        for key in ("x", "y"):
            yield DynamicOutput(key, mapping_key=key, output_name="items")
        yield Output(2, output_name="count")

    @job
    def mixed():
        items, count = items_and_count()
        gather(items.map(upper).collect())
        ident(count)

    result = mixed.execute_in_process()
    assert result.output_for_node("gather") == ["X", "Y"]
    assert result.output_for_node("ident") == 2


def test_the_same_dynamic_output_mapped_twice_gives_two_independent_mapped_nodes():
    @job
    def mapped_twice():
        items = emit()
        gather.alias("uppers")(items.map(upper).collect())
        gather.alias("exclaimed")(items.map(exclaim).collect())

    result = mapped_twice.execute_in_process()
    assert result.output_for_node("uppers") == ["C", "A", "B"]
    assert result.output_for_node("exclaimed") == ["c!", "a!", "b!"]
    emitted = [event for event in result.events if event.kind == "DYNAMIC_OUTPUT"]
    assert [event.mapping_key for event in emitted] == ["c", "a", "b"]  # the emitter ran once


def test_fan_out_again_after_a_collect():
    @op(out=DynamicOut())
    def refan(values: list):
        for value in values:
            yield DynamicOutput(value, mapping_key=f"again_{value.lower()}")

    @job
    def twice():
        gather(refan(emit().map(upper).collect()).map(exclaim).collect())

    result = twice.execute_in_process()
    assert result.output_for_node("gather") == ["C!", "A!", "B!"]
    assert result.output_for_node("exclaim") == {"again_c": "C!", "again_a": "A!", "again_b": "B!"}


def test_chained_maps_keep_the_same_keys():
    @job
    def chained():
        gather(emit().map(upper).map(exclaim).collect())

    result = chained.execute_in_process()
    assert result.output_for_node("gather") == ["C!", "A!", "B!"]
    assert result.output_for_node("exclaim") == {"c": "C!", "a": "A!", "b": "B!"}
    assert {"upper[a]", "exclaim[a]"} <= set(result.steps)


def test_a_fan_out_inside_a_graph_has_graph_step_keys():
    @graph
    def inner_fanout():
        return gather(emit().map(upper).collect())

    @job
    def outer():
        ident(inner_fanout())

    result = outer.execute_in_process()
    assert {"inner_fanout.emit", "inner_fanout.upper[c]", "inner_fanout.gather"} <= set(result.steps)
    assert result.output_for_node("ident") == ["C", "A", "B"]


def test_returning_a_list_of_dynamic_outputs_works_like_yielding_them():
    @op(out=DynamicOut())
    def returns_list():
        return [DynamicOutput(1, mapping_key="x"), DynamicOutput(2, mapping_key="y")]

    @job
    def returned():
        gather(returns_list().map(ident).collect())

    result = returned.execute_in_process()
    assert result.output_for_node("gather") == [1, 2]
    assert result.output_for_node("ident") == {"x": 1, "y": 2}


def test_context_gives_op_config_run_id_mapping_key_retry_number_and_step_key():
    seen = {}

    @op(out=DynamicOut(), config_schema={"keys": Field([str], default_value=["p", "q"])})
    def configured_emit(context):
        seen["emit"] = (context.get_mapping_key(), context.retry_number, context.run_id)
        for key in context.op_config["keys"]:
            yield DynamicOutput(key, mapping_key=key)

    @op(config_schema={"factor": int})
    def inspect_context(context, value):
        return {
            "config": context.op_config,
            "key": context.get_mapping_key(),
            "retry": context.retry_number,
            "run_id": context.run_id,
            "step_key": context.step_key,
        }

    @job
    def contextual():
        configured_emit().map(inspect_context)

    result = contextual.execute_in_process({"ops": {"inspect_context": {"config": {"factor": 3}}}})
    seen_by_key = result.output_for_node("inspect_context")
    assert list(seen_by_key) == ["p", "q"]
    for key, seen_here in seen_by_key.items():
        assert seen_here == {"config": {"factor": 3}, "key": key, "retry": 0, "run_id": result.run_id,
                             "step_key": f"inspect_context[{key}]"}
    assert seen["emit"] == (None, 0, result.run_id)


def test_context_log_records_info_warning_and_error_as_events_of_the_step():
    @op
    def chatty(context, value):
        context.log.info(f"info {value}")
        context.log.warning("careful")
        context.log.error("bad")
        return value

    @job
    def logging_job():
        emit().map(chatty)

    result = logging_job.execute_in_process()
    logs = [(event.step_key, event.level, event.text) for event in result.events if event.kind == "LOG"]
    assert ("chatty[a]", "INFO", "info a") in logs
    assert ("chatty[a]", "WARNING", "careful") in logs
    assert ("chatty[a]", "ERROR", "bad") in logs
    assert len(logs) == 9


def test_run_ids_are_unique_per_run_and_can_be_given():
    @job
    def basic():
        emit().map(upper)

    first, second = basic.execute_in_process(), basic.execute_in_process()
    assert first.run_id != second.run_id
    assert basic.execute_in_process(run_id="fixed_run").run_id == "fixed_run"


def test_output_for_node_of_an_unknown_node_names_the_nodes_there_are():
    @job
    def basic():
        emit().map(upper)

    result = basic.execute_in_process()
    with pytest.raises(DagvizError, match="no node 'nope'"):
        result.output_for_node("nope")
    with pytest.raises(DagvizError, match="no output 'other'"):
        result.output_for_node("upper", "other")
