"""Dynamic mapping as Dagster 1.13 runs it: executor config, optional outputs, typing, order, re-execution,
op selection.

Every expectation here was observed with Dagster 1.13.27 on the same job.
"""

from __future__ import annotations

from typing import List

import pytest

from dagviz import DynamicOut, DynamicOutput, Out, Output, job, op
from dagviz.config.run_config import resolve_run_config
from tests.compat import jobs
from tests.compat.jobs import IN_PROCESS


def started(result) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type_value == "STEP_START"]


def skipped(result) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type_value == "STEP_SKIPPED"]


@op(out=DynamicOut())
def emit():
    for key in ("a", "b", "c"):
        yield DynamicOutput(key, mapping_key=key)


@op
def ident(value):
    return value


@op
def gather(values):
    return values


@op
def one():
    return 1


@job
def single_op():
    one()


# -- 1. executor config in Dagster's shape --------------------------------------------------------

FORKSERVER = {"execution": {"config": {"multiprocess": {"max_concurrent": 2, "start_method": {"forkserver": {}}}}}}
SPAWN = {"execution": {"config": {"multiprocess": {"max_concurrent": 2, "start_method": {"spawn": {}}}}}}


def test_dagster_multiprocess_config_with_forkserver_selector_resolves_to_multiprocess_forkserver():
    """Dagster 1.13 validates `start_method: {forkserver: {}}` under `execution.config.multiprocess`."""
    executor = resolve_run_config(single_op.name, single_op.nodes, FORKSERVER).executor
    assert executor.name == "multiprocess"
    assert executor.config["max_concurrent"] == 2
    assert executor.config["start_method"] == "forkserver"


def test_dagster_multiprocess_config_with_spawn_selector_resolves_to_multiprocess_spawn():
    """Dagster 1.13 validates `start_method: {spawn: {}}`."""
    executor = resolve_run_config(single_op.name, single_op.nodes, SPAWN).executor
    assert executor.name == "multiprocess"
    assert executor.config["max_concurrent"] == 2
    assert executor.config["start_method"] == "spawn"


def test_dagster_in_process_config_resolves_to_in_process():
    """Dagster 1.13 validates `execution: {config: {in_process: {}}}`."""
    executor = resolve_run_config(single_op.name, single_op.nodes, IN_PROCESS).executor
    assert executor.name == "in_process"


@pytest.mark.parametrize("run_config", [FORKSERVER, SPAWN, IN_PROCESS], ids=["forkserver", "spawn", "in_process"])
def test_execute_in_process_accepts_dagster_executor_config_shapes(run_config):
    """Dagster 1.13's execute_in_process runs with each of these execution sections."""
    result = single_op.execute_in_process(run_config=run_config)
    assert result.success
    assert result.output_for_node("one") == 1


# -- 2. optional outputs and empty fan-outs ---------------------------------------------------------


@op(out={"a": Out(is_required=False)})
def never_yields_a(value):
    if value is None:
        yield Output(value, "a")


@op(out={"a": Out(is_required=False)})
def yields_a_for_key_a(value):
    if value == "a":
        yield Output(value, "a")


@job
def optional_output_never_yielded():
    gather(emit().map(never_yields_a).collect())


@job
def optional_output_yielded_by_one_key():
    gather(emit().map(yields_a_for_key_a).collect())


def test_collect_of_an_optional_output_no_key_yielded_is_skipped_and_the_run_succeeds():
    """Dagster 1.13: mapped steps succeed without output, the collecting step gets STEP_SKIPPED."""
    result = optional_output_never_yielded.execute_in_process()
    assert result.success
    assert started(result) == ["emit", "never_yields_a[a]", "never_yields_a[b]", "never_yields_a[c]"]
    assert skipped(result) == ["gather"]


def test_collect_of_an_optional_output_gets_only_the_keys_that_yielded_it():
    """Dagster 1.13: keys that skip an optional output are left out of the collected list."""
    result = optional_output_yielded_by_one_key.execute_in_process()
    assert result.output_for_node("gather") == ["a"]
    assert result.output_for_node("yields_a_for_key_a", "a") == {"a": "a"}


@op(out=DynamicOut())
def emit_nothing():
    yield from ()


@op(out=DynamicOut(is_required=False))
def emit_nothing_optionally():
    yield from ()


@job
def required_fan_out_with_no_keys():
    gather(emit_nothing().map(ident).collect())


@job
def optional_fan_out_with_no_keys():
    gather(emit_nothing_optionally().map(ident).collect())


def test_required_dynamic_out_with_no_keys_collects_an_empty_list():
    """Dagster 1.13: no mapped steps, the collect runs with []."""
    result = required_fan_out_with_no_keys.execute_in_process()
    assert started(result) == ["emit_nothing", "gather"]
    assert result.output_for_node("gather") == []


def test_optional_dynamic_out_with_no_keys_skips_the_collect_and_the_run_succeeds():
    """Dagster 1.13: no mapped steps, the collect is skipped, the run succeeds."""
    result = optional_fan_out_with_no_keys.execute_in_process()
    assert result.success
    assert started(result) == ["emit_nothing_optionally"]
    assert skipped(result) == ["gather"]


# -- 3. typing --------------------------------------------------------------------------------------


def test_output_classes_can_be_subscripted_with_a_type():
    """Dagster 1.13: DynamicOutput[int] and Output[int] are generic aliases of the classes."""
    assert DynamicOutput[int] is not None
    assert Output[int] is not None


@op
def emit_annotated() -> List[DynamicOutput[int]]:
    return [DynamicOutput(number, mapping_key=f"k{number}") for number in range(3)]


@op
def twice(number: int) -> int:
    return 2 * number


@op
def add_up(numbers: List[int]) -> int:
    return sum(numbers)


def test_op_annotated_with_a_list_of_dynamic_outputs_is_a_dynamic_output_that_can_be_mapped():
    """Dagster 1.13: `-> List[DynamicOutput[int]]` without out= makes the output dynamic (type Int)."""

    @job
    def annotated_fan_out():
        add_up(emit_annotated().map(twice).collect())

    result = annotated_fan_out.execute_in_process()
    assert started(result) == ["emit_annotated", "twice[k0]", "twice[k1]", "twice[k2]", "add_up"]
    assert result.output_for_node("twice") == {"k0": 0, "k1": 2, "k2": 4}
    assert result.output_for_node("add_up") == 6


@op
def annotated_output() -> Output[int]:
    return Output(3, metadata={"n": 1})


def test_op_annotated_with_output_of_int_returns_the_wrapped_value():
    """Dagster 1.13: `-> Output[int]` is a plain Out of type Int; the value is unwrapped."""

    @job
    def annotated_output_job():
        annotated_output()

    assert annotated_output_job.execute_in_process().output_for_node("annotated_output") == 3


# -- 4. step start order, in process ----------------------------------------------------------------

SEEN: list = []


@op
def observe(value=None):
    SEEN.append(value)
    return value


@job
def observe_unmapped_then_mapped():
    observe()
    emit().map(observe)


def test_unmapped_invocation_runs_before_the_mapped_invocations_of_the_same_op():
    """Dagster 1.13 records [None, 'a', 'b', 'c'] for `observe(); emit().map(observe)`."""
    SEEN.clear()
    observe_unmapped_then_mapped.execute_in_process()
    assert SEEN == [None, "a", "b", "c"]


def test_second_invocation_of_an_op_is_named_with_suffix_2_in_its_step_keys():
    """Dagster 1.13 starts ['emit', 'observe', 'observe_2[a]', 'observe_2[b]', 'observe_2[c]']."""
    result = observe_unmapped_then_mapped.execute_in_process()
    assert started(result) == ["emit", "observe", "observe_2[a]", "observe_2[b]", "observe_2[c]"]


@op
def a():
    return "a"


@op
def b():
    return "b"


@op
def triple(value):
    return value * 3


@job
def chain_composed_before_the_roots():
    gather(emit().map(ident).map(triple).collect())
    a()
    b()


def test_in_process_starts_ready_roots_by_name_then_streams_each_key_down_its_chain():
    """Dagster 1.13 starts the ready roots by name (a, b, emit) and then runs level by level
    (every ident before any triple). dagviz starts the roots the same way but streams on purpose:
    a key's chain runs as soon as the key is yielded (docs/architecture.md, differences)."""
    result = chain_composed_before_the_roots.execute_in_process()
    assert started(result) == [
        "a", "b", "emit",
        "ident[a]", "triple[a]", "ident[b]", "triple[b]", "ident[c]", "triple[c]",
        "gather",
    ]


# -- 5. re-execution: which steps run -------------------------------------------------------------


@pytest.fixture
def instance():
    from dagviz import instance_for_test

    with instance_for_test() as test_instance:
        yield test_instance


def execute(job_fn, instance, run_config: dict | None, **kwargs):
    """``execute_job`` of a module-level job; ``run_config=None`` gives none (a child then uses its parent's)."""
    from dagviz import execute_job, reconstructable

    return execute_job(reconstructable(job_fn), instance=instance, run_config=run_config, **kwargs)


def selected(parent_run_id: str, step_selection: list[str]):
    from dagviz import ReexecutionOptions

    return ReexecutionOptions(parent_run_id=parent_run_id, step_selection=step_selection)


def test_reexecuting_one_mapped_key_runs_only_that_step(instance):
    """Dagster 1.13: step_selection=["double[a]"] starts double[a] only, nothing downstream."""
    with execute(jobs.fanout, instance, IN_PROCESS) as parent:
        assert parent.success
    options = selected(parent.run_id, ["double[a]"])
    with execute(jobs.fanout, instance, IN_PROCESS, reexecution_options=options) as child:
        assert child.success
        assert started(child) == ["double[a]"]
        assert child.output_for_node("double") == {"a": "aa"}


def test_reexecuting_a_mapped_key_and_its_downstream_collects_parent_outputs_of_other_keys(instance):
    """Dagster 1.13: "double[a]*" starts double[a] and total; total reads b and c from the parent."""
    with execute(jobs.fanout, instance, IN_PROCESS) as parent:
        assert parent.success
    options = selected(parent.run_id, ["double[a]*"])
    with execute(jobs.fanout, instance, IN_PROCESS, reexecution_options=options) as child:
        assert started(child) == ["double[a]", "total"]
        assert child.output_for_node("total") == "aabbcc"


def test_reexecuting_an_emitter_and_its_children_runs_every_key_but_not_the_collect(instance):
    """Dagster 1.13: "emit+" starts emit and double[a..c], not total."""
    with execute(jobs.fanout, instance, IN_PROCESS) as parent:
        assert parent.success
    options = selected(parent.run_id, ["emit+"])
    with execute(jobs.fanout, instance, IN_PROCESS, reexecution_options=options) as child:
        assert started(child) == ["emit", "double[a]", "double[b]", "double[c]"]


def test_reexecution_from_failure_runs_the_failed_key_and_the_collect_only(instance):
    """Dagster 1.13: from_failure starts flaky_double[b] and total; total has every key's value."""
    from dagviz import DagsterRunStatus, ReexecutionOptions

    with execute(jobs.flaky_fanout, instance, jobs.run_config(fail_on="b")) as parent:
        assert parent.dagster_run.status == DagsterRunStatus.FAILURE
    options = ReexecutionOptions.from_failure(parent.run_id, instance)
    with execute(jobs.flaky_fanout, instance, jobs.run_config(fail_on=""), reexecution_options=options) as child:
        assert child.dagster_run.status == DagsterRunStatus.SUCCESS
        assert started(child) == ["flaky_double[b]", "total"]
        assert child.output_for_node("total") == "aabbcc"


def test_reexecution_from_failure_gives_output_for_node_only_for_keys_run_again(instance):
    """Dagster 1.13: the child's output_for_node("flaky_double") is {'b': 'bb'}, reused keys are not listed."""
    from dagviz import ReexecutionOptions

    with execute(jobs.flaky_fanout, instance, jobs.run_config(fail_on="b")) as parent:
        assert not parent.success
    options = ReexecutionOptions.from_failure(parent.run_id, instance)
    with execute(jobs.flaky_fanout, instance, jobs.run_config(fail_on=""), reexecution_options=options) as child:
        assert child.output_for_node("flaky_double") == {"b": "bb"}


def test_reexecution_without_run_config_uses_the_parent_run_config(instance):
    """Dagster 1.13: a child given no run_config runs with its parent's (here: b fails again)."""
    from dagviz import ReexecutionOptions

    with execute(jobs.flaky_fanout, instance, jobs.run_config(fail_on="b")) as parent:
        assert not parent.success
    options = ReexecutionOptions.from_failure(parent.run_id, instance)
    with execute(jobs.flaky_fanout, instance, None, reexecution_options=options) as child:
        assert not child.success
        assert started(child) == ["flaky_double[b]"]


# -- 8. op_selection ----------------------------------------------------------------------------------


@op
def other():
    return 1


@op(out=DynamicOut())
def emit_two():
    for key in ("a", "b"):
        yield DynamicOutput(key, mapping_key=key)


@job
def fanout_and_other():
    gather(emit_two().map(ident).collect())
    other()


@pytest.mark.parametrize("selection", [["*ident"], ["emit_two+"]])
def test_op_selection_of_the_emitter_and_mapped_op_runs_every_key_without_the_collect(selection):
    """Dagster 1.13: ["*double"] and ["emit+"] start emit and double[a], double[b] only."""
    result = fanout_and_other.execute_in_process(op_selection=selection)
    assert started(result) == ["emit_two", "ident[a]", "ident[b]"]
    assert result.output_for_node("ident") == {"a": "a", "b": "b"}


def test_op_selection_downstream_of_the_emitter_runs_the_whole_fan_out():
    """Dagster 1.13: ["emit*"] starts emit, every key and the collect, not unrelated ops."""
    result = fanout_and_other.execute_in_process(op_selection=["emit_two*"])
    assert started(result) == ["emit_two", "ident[a]", "ident[b]", "gather"]
    assert result.output_for_node("gather") == ["a", "b"]


def test_op_selection_of_a_mapped_op_alone_runs_it_once_unmapped_with_its_input_from_config():
    """Dagster 1.13: ["double"] with inputs config {x: {value: ...}} runs one unmapped step `double`."""
    result = fanout_and_other.execute_in_process(
        op_selection=["ident"], run_config={"ops": {"ident": {"inputs": {"value": {"value": "hi"}}}}}
    )
    assert started(result) == ["ident"]
    assert result.output_for_node("ident") == "hi"
