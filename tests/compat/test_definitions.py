"""``Definitions``: jobs by name with shared resources, as Dagster 1.13 behaves.

Every expectation here was observed by running the same jobs on Dagster 1.13.27.
"""

import pytest

from dagviz import (
    ConfigurableResource,
    DagsterInvalidDefinitionError,
    DagsterInvariantViolationError,
    Definitions,
    job,
    op,
    resource,
)


class Db(ConfigurableResource):
    url: str


@op
def use_db(db: Db) -> str:
    return db.url


@op
def one() -> int:
    return 1


@job
def needs_db():
    use_db()


@job(resource_defs={"db": Db(url="job-level")})
def has_db():
    use_db()


@job
def plain():
    one()


def _defs() -> Definitions:
    return Definitions(jobs=[needs_db, has_db, plain], resources={"db": Db(url="defs-level")})


def test_get_job_def_binds_the_resources_a_job_is_missing():
    """Dagster 1.13: a job defined without ``db`` runs with the Definitions' ``db``."""
    job_def = _defs().get_job_def("needs_db")

    assert job_def.name == "needs_db"
    assert job_def.execute_in_process().output_for_node("use_db") == "defs-level"


def test_resources_of_the_job_itself_win_over_those_of_definitions():
    """Dagster 1.13: ``@job(resource_defs={"db": Db(url="job-level")})`` keeps its own ``db``."""
    assert _defs().get_job_def("has_db").execute_in_process().output_for_node("use_db") == "job-level"


def test_a_job_that_needs_no_resource_is_returned_as_it_was_given():
    """Dagster 1.13: ``get_job_def("plain") is plain``, and the same object on every call."""
    defs = _defs()

    assert defs.get_job_def("plain") is plain
    assert defs.get_job_def("plain") is defs.get_job_def("plain")
    assert defs.get_job_def("plain").execute_in_process().output_for_node("one") == 1


def test_run_config_still_configures_resources_bound_by_definitions():
    """Dagster 1.13: ``resources: {db: {config: {url: "rc"}}}`` applies to the Definitions' ``db``."""
    result = _defs().get_job_def("needs_db").execute_in_process(
        run_config={"resources": {"db": {"config": {"url": "rc"}}}}
    )

    assert result.output_for_node("use_db") == "rc"


def test_unknown_job_name_lists_the_jobs_in_definition_order():
    """Dagster 1.13: "Could not find job 'nope'. Found: 'needs_db', 'has_db', 'plain'." (DagsterInvariantViolationError)."""
    with pytest.raises(DagsterInvariantViolationError) as caught:
        _defs().get_job_def("nope")

    message = str(caught.value)
    assert "'nope'" in message
    assert message.index("'needs_db'") < message.index("'has_db'") < message.index("'plain'")


def test_a_resource_definitions_does_not_provide_either_fails_when_the_job_is_asked_for():
    """Dagster 1.13: constructing Definitions succeeds; ``get_job_def`` raises "resource with key 'nope' ... was not provided"."""

    @op(required_resource_keys={"nope"})
    def needs_nope():
        pass

    @job
    def missing():
        needs_nope()

    defs = Definitions(jobs=[missing], resources={"db": Db(url="x")})

    with pytest.raises(DagsterInvalidDefinitionError) as caught:
        defs.get_job_def("missing")
    assert "'nope'" in str(caught.value) and "'needs_nope'" in str(caught.value)


def test_function_resources_are_shared_through_definitions_too():
    """Dagster 1.13: ``Definitions(resources={"r": <@resource>})`` satisfies ``required_resource_keys={"r"}``."""

    @resource
    def greeting(_):
        return "hello"

    @op(required_resource_keys={"r"})
    def greet(context) -> str:
        return context.resources.r

    @job
    def greets():
        greet()

    defs = Definitions(jobs=[greets], resources={"r": greeting})

    assert defs.get_job_def("greets").execute_in_process().output_for_node("greet") == "hello"


def test_two_different_jobs_with_one_name_fail_when_the_name_is_asked_for():
    """Dagster 1.13: "Duplicate job definition found for job 'plain'" from ``get_job_def``; the same job twice is fine."""

    @job(name="plain")
    def other_plain():
        one()

    with pytest.raises(DagsterInvalidDefinitionError, match="Duplicate job definition found for job 'plain'"):
        Definitions(jobs=[plain, other_plain]).get_job_def("plain")

    assert Definitions(jobs=[plain, plain]).get_job_def("plain") is plain
