"""Config read from environment variables, as Dagster 1.13 does it (checked on the same jobs).

Run config carries the reference (``{env: NAME}``), never the value; the value is read when the run
starts, in the process that runs it.
"""

from __future__ import annotations

import pytest

from dagviz import (
    Config,
    ConfigurableResource,
    Definitions,
    EnvVar,
    IntSource,
    InvalidConfigError,
    StringSource,
    job,
    op,
    resource,
)


class Database(ConfigurableResource):
    url: str
    port: int = 1


@op
def connect(database: Database) -> str:
    return f"{database.url}:{database.port}"


@job
def connects():
    connect()


DEFINITIONS = Definitions(jobs=[connects], resources={
    "database": Database(url=EnvVar("DAGVIZ_TEST_DB_URL"), port=EnvVar.int("DAGVIZ_TEST_DB_PORT"))})


def test_a_resource_field_given_an_env_var_reads_it_when_the_run_starts(monkeypatch):
    """Dagster 1.13: ``Db(url=EnvVar("X"), port=EnvVar.int("P"))`` -> the op sees the variables' values."""
    monkeypatch.setenv("DAGVIZ_TEST_DB_URL", "postgres://db")
    monkeypatch.setenv("DAGVIZ_TEST_DB_PORT", "5432")
    assert DEFINITIONS.get_job_def("connects").execute_in_process().output_for_node("connect") == "postgres://db:5432"


def test_run_config_carries_the_variable_name_never_its_value(monkeypatch):
    monkeypatch.setenv("DAGVIZ_TEST_DB_URL", "postgres://secret")
    defaults = DEFINITIONS.get_job_def("connects").default_run_config()
    assert defaults["resources"]["database"]["config"] == {
        "url": {"env": "DAGVIZ_TEST_DB_URL"}, "port": {"env": "DAGVIZ_TEST_DB_PORT"}}


def test_a_variable_that_is_not_set_is_a_config_error_naming_it_and_its_path(monkeypatch):
    """Dagster 1.13: DagsterInvalidConfigError, `You have attempted to fetch the environment variable "P"
    which is not set. In order for this execution to succeed it must be set in this environment.`"""
    monkeypatch.setenv("DAGVIZ_TEST_DB_URL", "postgres://db")
    monkeypatch.delenv("DAGVIZ_TEST_DB_PORT", raising=False)
    with pytest.raises(InvalidConfigError, match=r'resources\.database\.config\.port: You have attempted to fetch the '
                                                r'environment variable "DAGVIZ_TEST_DB_PORT" which is not set'):
        DEFINITIONS.get_job_def("connects").execute_in_process()


class Greeting(Config):
    name: str


@op
def greet(config: Greeting) -> str:
    return config.name


@job
def greets():
    greet()


def test_a_config_class_field_takes_env_in_run_config(monkeypatch):
    """Dagster 1.13: ``ops: {greet: {config: {name: {env: WHO}}}}`` -> the variable's value."""
    monkeypatch.setenv("DAGVIZ_TEST_WHO", "world")
    result = greets.execute_in_process(run_config={"ops": {"greet": {"config": {"name": {"env": "DAGVIZ_TEST_WHO"}}}}})
    assert result.output_for_node("greet") == "world"


@resource(config_schema={"n": IntSource, "s": StringSource})
def pair(init_context):
    return init_context.resource_config["n"], init_context.resource_config["s"]


@op(required_resource_keys={"pair"})
def use_pair(context) -> tuple:
    return context.resources.pair


@job(resource_defs={"pair": pair})
def pairs():
    use_pair()


def test_int_and_string_sources_take_a_literal_or_a_variable(monkeypatch):
    """Dagster 1.13: ``{n: {env: N}, s: "lit"}`` with N=7 -> (7, 'lit'); a non-number in N is a config error."""
    config = {"resources": {"pair": {"config": {"n": {"env": "DAGVIZ_TEST_N"}, "s": "lit"}}}}
    monkeypatch.setenv("DAGVIZ_TEST_N", "7")
    assert pairs.execute_in_process(run_config=config).output_for_node("use_pair") == (7, "lit")
    monkeypatch.setenv("DAGVIZ_TEST_N", "seven")
    with pytest.raises(InvalidConfigError, match=r'resources\.pair\.config\.n: expected int in environment variable'):
        pairs.execute_in_process(run_config=config)


def test_env_var_get_value_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DAGVIZ_TEST_WHO", "world")
    assert EnvVar("DAGVIZ_TEST_WHO").get_value() == "world"
    assert EnvVar("DAGVIZ_TEST_NOT_SET").get_value("fallback") == "fallback"
