"""The @op decorator: its forms, what it infers from the function, and what it refuses."""

from __future__ import annotations

import pytest

from dagviz import (
    DagvizError,
    DynamicOut,
    DynamicOutput,
    In,
    InvalidDefinitionError,
    InvalidMappingKeyError,
    OpDefinition,
    Out,
    Output,
    RetryPolicy,
    build_op_context,
    job,
    op,
)


def test_bare_decorator_names_the_op_after_the_function_with_one_result_output():
    @op
    def add_one(x):
        return x + 1

    assert isinstance(add_one, OpDefinition)
    assert add_one.name == "add_one"
    assert list(add_one.ins) == ["x"]
    assert list(add_one.outs) == ["result"]
    assert not add_one.outs["result"].is_dynamic


def test_decorator_with_empty_parentheses_is_the_same_as_bare():
    @op()
    def add_one(x):
        return x + 1

    assert add_one.name == "add_one"
    assert list(add_one.ins) == ["x"]


def test_decorator_arguments_set_name_description_tags_and_retry_policy():
    policy = RetryPolicy(max_retries=3, delay=0.5)

    @op(name="renamed", description="explicit text", tags={"team": "data"}, retry_policy=policy)
    def original():
        """Docstring that the explicit description overrides."""

    assert original.name == "renamed"
    assert original.description == "explicit text"
    assert original.tags == {"team": "data"}
    assert original.retry_policy == policy
    assert (policy.max_retries, policy.delay) == (3, 0.5)


def test_docstring_is_the_description_when_none_is_given():
    @op
    def documented():
        """Counts things."""

    assert documented.description == "Counts things."


def test_inputs_are_inferred_from_parameters_and_context_is_not_an_input():
    @op
    def with_context(context, a, b):
        return a + b

    @op
    def without_context(a, b):
        return a + b

    assert with_context.takes_context
    assert list(with_context.ins) == ["a", "b"]
    assert not without_context.takes_context
    assert list(without_context.ins) == ["a", "b"]


def test_first_parameter_annotated_as_execution_context_is_the_context_whatever_its_name():
    from dagviz import OpExecutionContext

    @op
    def annotated(ctx_obj: OpExecutionContext, value):
        return value

    assert annotated.takes_context
    assert list(annotated.ins) == ["value"]


def test_ins_add_descriptions_and_parameter_defaults_become_input_defaults():
    @op(ins={"a": In(description="the first")})
    def combine(a, b=10):
        return a + b

    assert combine.ins["a"].description == "the first"
    assert not combine.ins["a"].has_default
    assert combine.ins["b"].has_default
    assert combine.ins["b"].default_value == 10


def test_ins_naming_a_missing_parameter_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="nope"):

        @op(ins={"nope": In()})
        def only_a(a):
            return a


def test_var_args_are_refused_as_inputs():
    with pytest.raises(InvalidDefinitionError, match=r"\*args"):

        @op
        def variadic(*values):
            return values


def test_unconnected_input_with_a_default_uses_the_default_in_a_job():
    @op
    def start():
        return 1

    @op
    def plus(a, b=41):
        return a + b

    @job
    def uses_default():
        plus(start())

    assert uses_default.execute_in_process().output_for_node("plus") == 42


def test_out_forms_single_out_dynamic_out_and_dict_of_outs():
    @op(out=Out(description="one"))
    def single():
        return 1

    @op(out=DynamicOut())
    def dynamic():
        yield DynamicOutput(1, mapping_key="a")

    @op(out={"left": Out(), "right": DynamicOut(is_required=False)})
    def several():
        yield Output(1, "left")

    assert list(single.outs) == ["result"] and single.outs["result"].description == "one"
    assert dynamic.outs["result"].is_dynamic and dynamic.outs["result"].is_required
    assert list(several.outs) == ["left", "right"]
    assert several.dynamic_output_names == ["right"]
    assert several.outs["right"].is_required is False


def test_out_that_is_not_an_out_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="out must be"):

        @op(out="result")
        def wrong():
            return 1


@pytest.mark.parametrize("bad_name", ["my-op", "has space", "class", "context", "config", "é"])
def test_invalid_op_names_are_definition_errors(bad_name):
    with pytest.raises(InvalidDefinitionError):

        @op(name=bad_name)
        def fine():
            return 1


def test_invalid_output_names_are_definition_errors():
    with pytest.raises(InvalidDefinitionError):

        @op(out={"bad-name": Out()})
        def fine():
            return 1


def test_config_schema_on_an_op_without_context_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="context"):

        @op(config_schema={"n": int})
        def no_context():
            return 1


def test_negative_max_retries_is_a_definition_error():
    with pytest.raises(InvalidDefinitionError, match="max_retries"):
        RetryPolicy(max_retries=-1)


def test_alias_with_an_invalid_name_is_a_definition_error():
    @op
    def fine():
        return 1

    with pytest.raises(InvalidDefinitionError):
        fine.alias("not valid")


def test_calling_an_op_outside_a_job_runs_its_function():
    @op
    def add(a, b):
        return a + b

    @op(config_schema={"n": int})
    def configured(context, x):
        return x * context.op_config["n"], context.get_mapping_key()

    assert add(2, 3) == 5
    assert configured(build_op_context({"n": 4}, mapping_key="k1"), 5) == (20, "k1")


def test_dynamic_output_exposes_value_mapping_key_output_name_and_metadata():
    item = DynamicOutput({"v": 1}, mapping_key="k_1", output_name="files", metadata={"size": 3})
    assert item.value == {"v": 1}
    assert item.mapping_key == "k_1"
    assert item.output_name == "files"
    assert item.metadata == {"size": 3}
    default = DynamicOutput(5, mapping_key="a")
    assert default.output_name == "result"
    assert default.metadata == {}


def test_dynamic_output_properties_are_read_only():
    item = DynamicOutput(1, mapping_key="a")
    with pytest.raises(AttributeError):
        item.value = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        item.mapping_key = "b"  # type: ignore[misc]


@pytest.mark.parametrize("key", ["a-b", "a b", "", "é", "k[1]", "a.b"])
def test_mapping_keys_outside_the_allowed_characters_are_rejected_at_construction(key):
    with pytest.raises(InvalidMappingKeyError, match=r"\^\[A-Za-z0-9_\]\+\$"):
        DynamicOutput(1, mapping_key=key)


@pytest.mark.parametrize("key", ["class", "context", "config", "input", "type", "None", "yield"])
def test_reserved_words_are_rejected_as_mapping_keys(key):
    with pytest.raises(InvalidMappingKeyError, match="reserved"):
        DynamicOutput(1, mapping_key=key)


@pytest.mark.parametrize("key", [5, None, b"bytes"])
def test_non_string_mapping_keys_are_rejected(key):
    with pytest.raises(InvalidMappingKeyError, match="string"):
        DynamicOutput(1, mapping_key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["result", "ok_1", "1abc", "K" * 300, "_"])
def test_valid_mapping_keys_are_accepted(key):
    assert DynamicOutput(1, mapping_key=key).mapping_key == key


def test_every_dagviz_error_is_a_dagviz_error():
    assert issubclass(InvalidDefinitionError, DagvizError)
    assert issubclass(InvalidMappingKeyError, DagvizError)
    from dagviz import DuplicateMappingKeyError, InvalidConfigError, InvalidStepKeyError, StepOutputError

    for cls in (InvalidConfigError, InvalidStepKeyError, StepOutputError, DuplicateMappingKeyError):
        assert issubclass(cls, DagvizError)
