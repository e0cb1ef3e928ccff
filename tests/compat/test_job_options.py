"""Job options Dagster's own tests lean on: executor_def, IO managers by name, execute_in_process(instance=, resources=).

Each follows what Dagster 1.13 did with the same small job (checked in a throwaway venv).
"""

from __future__ import annotations

from dagviz import (
    ConfigurableResource,
    DynamicOut,
    DynamicOutput,
    ReexecutionOptions,
    execute_job,
    fs_io_manager,
    in_process_executor,
    instance_for_test,
    job,
    mem_io_manager,
    multiprocess_executor,
    op,
    reconstructable,
)


class Offset(ConfigurableResource):
    amount: int = 1


@op(out=DynamicOut())
def emit():
    for index in range(3):
        yield DynamicOutput(index, mapping_key=str(index))


@op
def shifted(context, value: int, offset: Offset) -> int:
    assert context.dagster_run.run_id == context.run_id
    return value + offset.amount + (100 if context.run.parent_run_id else 0)


@op
def adder(values: list) -> int:
    return sum(values)


def shifted_job():
    """A job made by a function, as Dagster's re-execution tests build theirs."""

    @job(executor_def=in_process_executor, resource_defs={"io_manager": fs_io_manager, "offset": Offset()})
    def shifted_sum():
        adder(emit().map(shifted).collect())

    return shifted_sum


def started(result) -> list[str]:
    return [event.step_key for event in result.events if event.kind == "STEP_STARTED"]


def test_executor_def_is_the_default_executor_and_run_config_still_wins():
    from dagviz.config.run_config import executor_of, resolve_run_config
    from dagviz.execution.api import execute_job as run_engine

    @job(executor_def=multiprocess_executor.configured({"max_concurrent": 2}), resource_defs={"offset": Offset()})
    def on_workers():
        adder(emit().map(shifted).collect())

    def chosen(run_config: dict):
        return executor_of(on_workers, resolve_run_config(on_workers.name, on_workers.nodes, run_config,
                                                          resource_defs=on_workers.resource_defs))

    assert (chosen({}).name, chosen({}).config) == ("multiprocess", {"max_concurrent": 2})
    assert chosen({"execution": {"config": {"in_process": {}}}}).name == "in_process"
    result = run_engine(on_workers, {"execution": {"config": {"in_process": {}}}})
    assert [event.executor for event in result.events if event.kind == "RUN_STARTED"] == ["in_process"]


def test_io_managers_named_as_resources_are_accepted_and_outputs_still_flow():
    @job(resource_defs={"io_manager": mem_io_manager, "offset": Offset()})
    def with_io_manager():
        adder(emit().map(shifted).collect())

    assert with_io_manager.execute_in_process().output_for_node("adder") == 6


def test_execute_in_process_with_resources_binds_them_for_that_run():
    assert shifted_job().execute_in_process(resources={"offset": Offset(amount=10)}).output_for_node("adder") == 33


def test_a_run_made_in_process_on_an_instance_can_be_re_executed_through_it():
    with instance_for_test() as instance:
        parent = shifted_job().execute_in_process(instance=instance)
        assert parent.success and instance.has_run(parent.run_id)

        options = ReexecutionOptions(parent_run_id=parent.run_id, step_selection=["shifted[1]*"])
        with execute_job(reconstructable(shifted_job), instance=instance, reexecution_options=options) as child:
            assert child.success
            assert started(child) == ["shifted[1]", "adder"]
            assert child.output_for_node("shifted") == {"1": 102}
            assert child.output_for_node("adder") == 1 + 102 + 3


def test_a_graph_without_inputs_runs_in_process_as_a_job_of_its_name():
    """Dagster 1.13: ``my_graph.execute_in_process()`` runs it (as a job named after the graph)."""
    from dagviz import graph

    @graph
    def shifted_graph():
        adder(emit().map(shifted).collect())

    result = shifted_graph.execute_in_process(resources={"offset": Offset(amount=2)})
    assert result.success and result.job.name == "shifted_graph"
    assert result.output_for_node("adder") == 9
