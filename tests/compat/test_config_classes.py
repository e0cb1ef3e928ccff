"""Pythonic config (``Config`` subclasses as an op's ``config`` parameter), as Dagster 1.13 behaves.

Every expectation here was observed by running the same job on Dagster 1.13.27. No
``from __future__ import annotations``: Dagster 1.13 rejects string annotations of ``config``
and ``context`` parameters, so code written for it uses real classes.
"""

import enum
import re

import pytest

from dagviz import (
    Config,
    DagsterInvalidConfigError,
    DynamicOut,
    DynamicOutput,
    OpExecutionContext,
    job,
    op,
)


class Mode(enum.Enum):
    A = "a"
    B = "b"


class Inner(Config):
    x: int = 1
    y: str = "why"


class MyConfig(Config):
    n: int = 3
    name: str
    tags: list[str] = []
    mode: Mode = Mode.A
    nested: Inner = Inner()


@op
def takes_config(config: MyConfig) -> MyConfig:
    return config


@op
def takes_context_and_config(context: OpExecutionContext, config: MyConfig) -> dict:
    return {"config": config, "op_config": context.op_config}


@job
def config_job():
    takes_config()


@job
def context_config_job():
    takes_context_and_config()


def _run_config(op_name: str, config: dict) -> dict:
    return {"ops": {op_name: {"config": config}}}


def _config_error(run_config: dict | None) -> DagsterInvalidConfigError:
    with pytest.raises(DagsterInvalidConfigError) as caught:
        config_job.execute_in_process(run_config=run_config)
    return caught.value


def test_op_receives_an_instance_of_its_config_class_with_defaults_filled():
    """Dagster 1.13: ``ops: {op: {config: {...}}}`` gives a MyConfig instance, every default applied."""
    result = config_job.execute_in_process(run_config=_run_config("takes_config", {"name": "x"}))

    config = result.output_for_node("takes_config")
    assert isinstance(config, MyConfig)
    assert (config.n, config.name, config.tags, config.mode) == (3, "x", [], Mode.A)
    assert isinstance(config.nested, Inner)
    assert (config.nested.x, config.nested.y) == (1, "why")


def test_enum_is_given_by_member_name_and_arrives_as_the_member():
    """Dagster 1.13: run config ``mode: "B"`` (the member's name) gives ``Mode.B`` to the op."""
    result = config_job.execute_in_process(run_config=_run_config("takes_config", {"name": "x", "mode": "B"}))

    assert result.output_for_node("takes_config").mode is Mode.B


def test_enum_value_instead_of_name_is_a_config_error_at_the_field_path():
    """Dagster 1.13: ``mode: "b"`` (the value) -> 'Value at path root:ops:takes_config:config:mode not in enum type'."""
    error = _config_error(_run_config("takes_config", {"name": "x", "mode": "b"}))

    assert re.search(r"takes_config.config.mode\b", str(error))


def test_nested_config_is_built_from_a_partial_dict():
    """Dagster 1.13: ``nested: {x: 5}`` gives ``Inner(x=5, y="why")``; lists arrive as given."""
    run_config = _run_config("takes_config", {"name": "x", "nested": {"x": 5}, "tags": ["t1", "t2"]})

    config = config_job.execute_in_process(run_config=run_config).output_for_node("takes_config")

    assert isinstance(config.nested, Inner)
    assert (config.nested.x, config.nested.y) == (5, "why")
    assert config.tags == ["t1", "t2"]


def test_context_first_then_config_and_op_config_is_the_plain_dict():
    """Dagster 1.13: with context first the op still gets MyConfig; ``context.op_config`` is the filled dict."""
    run_config = _run_config("takes_context_and_config", {"name": "y", "mode": "B", "nested": {"x": 5}})

    seen = context_config_job.execute_in_process(run_config=run_config).output_for_node("takes_context_and_config")

    assert isinstance(seen["config"], MyConfig)
    assert seen["config"].name == "y" and seen["config"].mode is Mode.B
    op_config = seen["op_config"]
    assert op_config["n"] == 3 and op_config["name"] == "y" and op_config["tags"] == []
    assert op_config["nested"] == {"x": 5, "y": "why"}


def test_missing_required_field_is_an_invalid_config_error_naming_field_and_path():
    """Dagster 1.13: 'Missing required config entry "name" at path root:ops:takes_config:config.'"""
    error = _config_error(_run_config("takes_config", {}))

    assert re.search(r"takes_config.config\b", str(error))
    assert re.search(r"[\"']name[\"']", str(error))


def test_no_run_config_for_a_required_field_is_an_invalid_config_error():
    """Dagster 1.13: no run config at all -> 'Missing required config entry "ops" at the root.'"""
    error = _config_error(None)

    assert re.search(r"[\"']ops[\"']", str(error))


def test_wrong_scalar_type_and_unknown_field_are_config_errors():
    """Dagster 1.13: ``n: "3"`` -> 'Invalid scalar at path ...:n'; ``extra: 1`` -> 'Received unexpected config entry "extra"'."""
    wrong_type = _config_error(_run_config("takes_config", {"name": "x", "n": "3"}))
    unknown = _config_error(_run_config("takes_config", {"name": "x", "extra": 1}))
    nested_unknown = _config_error(_run_config("takes_config", {"name": "x", "nested": {"z": 1}}))

    assert re.search(r"takes_config.config.n\b", str(wrong_type))
    assert re.search(r"[\"']extra[\"']", str(unknown))
    assert re.search(r"takes_config.config.nested\b", str(nested_unknown))
    assert re.search(r"[\"']z[\"']", str(nested_unknown))


def test_config_errors_are_raised_before_any_op_runs():
    """Dagster 1.13: ``execute_in_process`` raises the config error itself; no step starts."""
    ran = []

    @op
    def records(config: MyConfig):
        ran.append(config.name)

    @job
    def records_job():
        records()

    with pytest.raises(DagsterInvalidConfigError):
        records_job.execute_in_process(run_config=_run_config("records", {"n": 1}))
    assert ran == []


def test_config_instance_is_frozen():
    """Dagster 1.13: assigning a field of the received config raises (frozen pydantic model)."""
    outcome = {}

    @op
    def mutates(config: MyConfig):
        try:
            config.n = 5
        except Exception as error:  # Dagster raises DagsterInvalidInvocationError
            outcome["error"] = error
        outcome["n"] = config.n

    @job
    def mutates_job():
        mutates()

    mutates_job.execute_in_process(run_config=_run_config("mutates", {"name": "x"}))
    assert "error" in outcome
    assert outcome["n"] == 3


def test_mapped_op_gets_one_config_instance_per_key_with_the_same_values():
    """Dagster 1.13: each mapped step builds its own config instance (3 keys -> 3 distinct objects)."""

    class Factor(Config):
        factor: int = 2

    received: list[Factor] = []

    @op(out=DynamicOut())
    def emit_letters():
        for key in ("a", "b", "c"):
            yield DynamicOutput(key, mapping_key=key)

    @op
    def repeat(config: Factor, value: str) -> str:
        received.append(config)
        return value * config.factor

    @op
    def gather(values: list) -> list:
        return values

    @job
    def mapped_config():
        gather(emit_letters().map(repeat).collect())

    configured = mapped_config.execute_in_process(run_config=_run_config("repeat", {"factor": 3}))
    assert configured.output_for_node("gather") == ["aaa", "bbb", "ccc"]
    assert len(received) == 3 and len({id(config) for config in received}) == 3
    assert all(isinstance(config, Factor) and config.factor == 3 for config in received)

    assert mapped_config.execute_in_process().output_for_node("gather") == ["aa", "bb", "cc"]
