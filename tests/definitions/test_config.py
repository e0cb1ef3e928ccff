"""Op config schemas (shorthand, Field, nested, lists, optional, defaults) and path-precise errors."""

from __future__ import annotations

from typing import Optional

import pytest

from dagviz import (
    Array,
    DynamicOut,
    DynamicOutput,
    Field,
    InvalidConfigError,
    InvalidDefinitionError,
    Noneable,
    Permissive,
    graph,
    job,
    op,
)


@op(config_schema={
    "n": int,
    "db": {"host": str, "port": Field(int, default_value=5432, description="TCP port")},
    "names": [str],
    "label": Field(str, is_required=False),
    "maybe": Optional[int],
    "ratio": Field(float, default_value=0.5),
})
def configured(context):
    return context.op_config


@job
def config_job():
    configured()


def _run(op_config):
    return config_job.execute_in_process({"ops": {"configured": {"config": op_config}}})


def _error(op_config) -> InvalidConfigError:
    with pytest.raises(InvalidConfigError) as raised:
        _run(op_config)
    return raised.value


VALID = {"n": 1, "db": {"host": "localhost"}, "names": ["a", "b"]}


def test_op_config_has_defaults_filled_in_and_omitted_optional_fields_absent():
    config = _run(VALID).output_for_node("configured")
    assert config == {"n": 1, "db": {"host": "localhost", "port": 5432}, "names": ["a", "b"],
                      "maybe": None, "ratio": 0.5}
    assert "label" not in config


def test_given_values_override_defaults_and_optional_fields_are_passed_when_set():
    config = _run({**VALID, "db": {"host": "h", "port": 1}, "label": "x", "maybe": 3, "ratio": 2}).output_for_node(
        "configured"
    )
    assert config["db"] == {"host": "h", "port": 1}
    assert config["label"] == "x"
    assert config["maybe"] == 3
    assert config["ratio"] == 2.0 and isinstance(config["ratio"], float)


def test_wrong_scalar_type_names_the_path_and_the_value():
    error = _error({**VALID, "n": "x"})
    assert "ops.configured.config.n: expected int, got str 'x'" in str(error)
    assert error.errors == [("ops.configured.config.n", "expected int, got str 'x'")]
    assert error.job_name == "config_job"


def test_bool_is_not_accepted_as_int():
    error = _error({**VALID, "n": True})
    assert "ops.configured.config.n: expected int, got bool True" in str(error)


def test_errors_in_nested_dicts_and_list_items_have_their_full_path():
    error = _error({**VALID, "db": {"host": "h", "port": "p"}, "names": ["a", 3]})
    paths = dict(error.errors)
    assert paths["ops.configured.config.db.port"] == "expected int, got str 'p'"
    assert paths["ops.configured.config.names[1]"] == "expected str, got int 3"
    assert "ops.configured.config.db.port" in str(error) and "ops.configured.config.names[1]" in str(error)


def test_a_list_field_given_a_scalar_is_an_error_at_the_field():
    error = _error({**VALID, "names": "a"})
    assert error.errors == [("ops.configured.config.names", "expected a list of str, got str 'a'")]


def test_unknown_key_is_reported_with_the_valid_fields():
    error = _error({**VALID, "extra": 2})
    (path, message), = error.errors
    assert path == "ops.configured.config"
    assert "unknown field 'extra'" in message
    assert "n, db, names" in message


def test_missing_required_fields_are_reported_at_their_parent_path():
    error = _error({"db": {}, "names": []})
    assert ("ops.configured.config", "missing required field 'n' (int)") in error.errors
    assert ("ops.configured.config.db", "missing required field 'host' (str)") in error.errors


def test_unknown_op_in_run_config_is_an_error():
    with pytest.raises(InvalidConfigError, match=r"ops: unknown field 'nope'"):
        config_job.execute_in_process({"ops": {"nope": {}, "configured": {"config": VALID}}})


def test_missing_run_config_for_a_required_op_config_is_an_error():
    with pytest.raises(InvalidConfigError, match="missing required field 'ops'"):
        config_job.execute_in_process()


def test_config_errors_are_raised_before_any_op_runs():
    ran = []

    @op(config_schema={"n": int})
    def records(context):
        ran.append(context.op_config)

    @op
    def first():
        ran.append("first")

    @job
    def two_ops():
        first()
        records()

    with pytest.raises(InvalidConfigError):
        two_ops.execute_in_process({"ops": {"records": {"config": {"n": "bad"}}}})
    assert ran == []


def test_scalar_config_schema_and_field_default_for_the_whole_config():
    @op(config_schema=int)
    def scalar(context):
        return context.op_config

    @op(config_schema=Field(str, default_value="fallback"))
    def defaulted(context):
        return context.op_config

    @job
    def scalars():
        scalar()
        defaulted()

    result = scalars.execute_in_process({"ops": {"scalar": {"config": 3}}})
    assert result.output_for_node("scalar") == 3
    assert result.output_for_node("defaulted") == "fallback"
    with pytest.raises(InvalidConfigError, match=r"ops\.scalar\.config: expected int, got str '3'"):
        scalars.execute_in_process({"ops": {"scalar": {"config": "3"}}})


def test_op_with_only_defaulted_fields_needs_no_run_config():
    @op(config_schema={"n": Field(int, default_value=7), "names": Field([str], default_value=["z"])})
    def defaults_only(context):
        return context.op_config

    @job
    def no_config_needed():
        defaults_only()

    assert no_config_needed.execute_in_process().output_for_node("defaults_only") == {"n": 7, "names": ["z"]}


def test_noneable_array_and_permissive_types():
    @op(config_schema={"maybe": Noneable(str), "nums": Array(int), "extra": Permissive({"known": int})})
    def typed(context):
        return context.op_config

    @job
    def typed_job():
        typed()

    config = {"nums": [1, 2], "extra": {"known": 1, "anything": "goes"}}
    result = typed_job.execute_in_process({"ops": {"typed": {"config": config}}})
    assert result.output_for_node("typed") == {"maybe": None, "nums": [1, 2], "extra": {"known": 1, "anything": "goes"}}
    with pytest.raises(InvalidConfigError, match=r"ops\.typed\.config\.extra\.known: expected int"):
        typed_job.execute_in_process({"ops": {"typed": {"config": {"nums": [], "extra": {"known": "x"}}}}})


def test_config_of_an_op_inside_a_graph_sits_under_the_graph_ops():
    @op(config_schema={"n": int})
    def inner(context):
        return context.op_config["n"]

    @graph
    def wrapper():
        return inner()

    @job
    def graph_config():
        wrapper()

    result = graph_config.execute_in_process({"ops": {"wrapper": {"ops": {"inner": {"config": {"n": 5}}}}}})
    assert result.output_for_node("wrapper.inner") == 5
    with pytest.raises(InvalidConfigError, match=r"ops\.wrapper\.ops\.inner\.config\.n: expected int, got str 'x'"):
        graph_config.execute_in_process({"ops": {"wrapper": {"ops": {"inner": {"config": {"n": "x"}}}}}})


def test_op_config_applies_to_every_mapped_copy():
    @op(out=DynamicOut())
    def keys():
        for key in ("a", "b", "c"):
            yield DynamicOutput(key, mapping_key=key)

    @op(config_schema={"suffix": str})
    def decorate(context, value):
        return value + context.op_config["suffix"]

    @job
    def mapped_config():
        keys().map(decorate)

    result = mapped_config.execute_in_process({"ops": {"decorate": {"config": {"suffix": "!"}}}})
    assert result.output_for_node("decorate") == {"a": "a!", "b": "b!", "c": "c!"}


def test_execution_section_is_validated_and_dagster_config_wrapper_is_accepted():
    @op
    def trivial():
        return 1

    @job
    def executor_config():
        trivial()

    assert executor_config.execute_in_process(
        {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    ).success
    assert executor_config.execute_in_process({"execution": {"in_process": {}}}).success
    with pytest.raises(InvalidConfigError, match="execution: unknown field 'bogus'"):
        executor_config.execute_in_process({"execution": {"bogus": {}}})
    with pytest.raises(InvalidConfigError, match=r"execution\.multiprocess\.max_concurrent: expected int"):
        executor_config.execute_in_process({"execution": {"multiprocess": {"max_concurrent": "two"}}})


def test_invalid_schemas_are_definition_errors():
    with pytest.raises(InvalidDefinitionError):
        Field(int, default_value="not an int")
    with pytest.raises(InvalidDefinitionError):
        Field(int, default_value=1, is_required=True)
    with pytest.raises(InvalidDefinitionError):

        @op(config_schema={"n": [int, str]})
        def two_item_list(context):
            return None

    with pytest.raises(InvalidDefinitionError):

        @op(config_schema={"n": set})
        def unsupported(context):
            return None
