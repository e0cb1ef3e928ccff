"""Op selection with Dagster's syntax, as Dagster 1.13 runs it (checked on the same job)."""

from __future__ import annotations

import pytest

from dagviz import (
    DynamicOut,
    DynamicOutput,
    InvalidConfigError,
    InvalidOpSelectionError,
    job,
    op,
)


@op(out=DynamicOut())
def emit():
    for key in ("a", "b"):
        yield DynamicOutput(key, mapping_key=key)


@op
def double(x):
    return x * 2


@op
def total(xs):
    return "".join(xs)


@op
def other():
    return 1


@op(config_schema={"n": int})
def configured(context):
    return context.op_config["n"]


@job
def fanout():
    total(emit().map(double).collect())
    other()
    configured()


def started(result) -> list[str]:
    return [event.step_key for event in result.events if event.kind == "STEP_STARTED"]


CONFIGURED = {"ops": {"configured": {"config": {"n": 1}}}}


@pytest.mark.parametrize(
    "selection, steps",
    [
        (["*double"], ["emit", "double[a]", "double[b]"]),
        (["emit+"], ["emit", "double[a]", "double[b]"]),
        (["emit*"], ["emit", "double[a]", "double[b]", "total"]),
        (["emit++"], ["emit", "double[a]", "double[b]", "total"]),
        (["*total"], ["emit", "double[a]", "double[b]", "total"]),
        (["emit"], ["emit"]),
        (["other"], ["other"]),
    ],
)
def test_selection_runs_the_named_ops_and_the_levels_up_or_downstream_it_asks_for(selection, steps):
    result = fanout.execute_in_process(op_selection=selection)
    assert started(result) == steps


def test_ops_outside_the_selection_do_not_exist_in_the_result():
    result = fanout.execute_in_process(op_selection=["other"])
    with pytest.raises(Exception, match="has no op named total"):
        result.output_for_node("total")


def test_a_mapped_op_selected_alone_runs_once_unmapped_with_its_input_from_run_config():
    with pytest.raises(InvalidConfigError, match=r"missing required field 'ops' .*double: \{inputs"):
        fanout.execute_in_process(op_selection=["double"])
    result = fanout.execute_in_process(op_selection=["double"], run_config={"ops": {"double": {"inputs": {"x": {"value": "hi"}}}}})
    assert started(result) == ["double"]
    assert result.output_for_node("double") == "hihi"


def test_config_of_unselected_ops_is_accepted_and_still_checked():
    """Dagster accepts the whole job's run config with a selection, and still type-checks it."""
    assert fanout.execute_in_process(op_selection=["other"], run_config=CONFIGURED).success
    assert fanout.execute_in_process(op_selection=["other"]).success
    with pytest.raises(InvalidConfigError, match=r"ops\.configured\.config\.n: expected int"):
        fanout.execute_in_process(op_selection=["other"], run_config={"ops": {"configured": {"config": {"n": "x"}}}})


@pytest.mark.parametrize("selection", [["nope"], ["double[a]"], ["other", "nope"]])
def test_a_selection_naming_no_op_is_refused(selection):
    with pytest.raises(InvalidOpSelectionError, match=r"No qualified ops to execute found for op_selection="):
        fanout.execute_in_process(op_selection=selection)


def test_a_subset_runs_in_worker_processes_too(tmp_path):
    """Workers load the whole job by its pointer; only the plan is the subset's."""
    from dagviz.execution.api import execute_job
    from tests.execution.jobs_for_workers import letters_and_regions

    dagster_shape = {"execution": {"config": {"multiprocess": {"max_concurrent": 2, "start_method": {"forkserver": {}}}}}}
    result = execute_job(letters_and_regions, output_store=f"file://{tmp_path}", op_selection=["*join_letters"],
                         run_config=dagster_shape)

    assert result.success
    assert {step.node.handle for step in result.steps.values()} == {"emit_letters", "shout", "join_letters"}
