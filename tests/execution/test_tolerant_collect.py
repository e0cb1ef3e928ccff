"""Tolerant collect (``.collect(min_success_ratio=...)``): runs on the keys that succeeded when enough did.

Also the rule every collect now follows: it settles only once every key has, so a collecting step is
never skipped while keys of its fan-out still run.
"""

from __future__ import annotations

import pytest

import dagviz
from dagviz import DynamicOut, DynamicOutput, InvalidDefinitionError, StepStatus, job, op
from dagviz.execution.reexecution import ParentRecord, parent_run_for
from tests.execution import tolerant_jobs as jobs

FINAL_KINDS = ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")


def bad(*numbers: int) -> dict:
    return {"ops": {"check": {"config": {"bad": list(numbers)}}}}


def statuses(result) -> dict[str, StepStatus]:  # type: ignore[no-untyped-def]
    return {key: step.status for key, step in result.steps.items()}


def test_enough_keys_succeeded_the_collect_runs_with_their_outputs_in_yield_order():
    result = jobs.tolerant_80.execute_in_process(run_config=bad(3, 7))
    assert result.success and result.tolerated_failures == 2
    assert result.output_for_node("summarize") == [0, 10, 20, 40, 50, 60, 80, 90]
    assert statuses(result)["check[k3]"] == statuses(result)["check[k7]"] == StepStatus.FAILURE
    finished = result.events[-1]
    assert finished.kind == "RUN_FINISHED" and finished.payload()["tolerated_failures"] == 2
    assert finished.message == "Run succeeded with 2 tolerated step failures."


def test_exactly_the_ratio_is_enough():
    result = jobs.tolerant_80.execute_in_process(run_config=bad(1, 2))
    assert result.success and result.tolerated_failures == 2  # 8 of 10 = 0.8


def test_too_few_keys_succeeded_the_collecting_step_fails_with_the_counts_and_the_failed_keys():
    result = jobs.tolerant_80.execute_in_process(run_config=bad(3, 7, 8), raise_on_error=False)
    assert not result.success and result.tolerated_failures == 0
    assert statuses(result)["summarize"] == StepStatus.FAILURE
    failure = next(event for event in result.events if event.kind == "STEP_FAILURE" and event.step_key == "summarize")
    assert failure.error.class_name == "MinSuccessRatioError"
    assert failure.error.message == (
        "Only 7 of 10 keys of 'check' succeeded (70.0%), below min_success_ratio 0.8 of the collect into input "
        "'values' of step 'summarize'. Failed: check[k3], check[k7], check[k8].")
    assert "summarize" in result.failure_reason


def test_execute_in_process_raises_the_first_failure_that_was_not_tolerated():
    with pytest.raises(ValueError, match="row 1 is malformed"):  # the ratio was missed: no failure is tolerated
        jobs.tolerant_80.execute_in_process(run_config=bad(1, 2, 3))

    @op
    def explode(values: list) -> int:
        raise RuntimeError(f"downstream of {len(values)} values broke")

    @job
    def tolerated_then_broken():
        explode(jobs.emit_numbers().map(jobs.check).collect(min_success_ratio=0.5))

    with pytest.raises(RuntimeError, match="downstream of 9 values broke"):
        tolerated_then_broken.execute_in_process(run_config=bad(0))


def test_without_a_ratio_one_failed_key_skips_the_collect_as_in_dagster():
    result = jobs.strict_collect.execute_in_process(run_config=bad(3), raise_on_error=False)
    assert not result.success and result.tolerated_failures == 0
    assert statuses(result)["summarize"] == StepStatus.SKIPPED
    assert result.failure_reason == "1 step failed: check[k3]"


@pytest.mark.parametrize("job_def", [jobs.strict_collect, jobs.tolerant_80])
def test_the_collect_settles_only_after_every_key_has(job_def):
    """A failed early key does not decide the collect while later keys still run (truthful status)."""
    result = job_def.execute_in_process(run_config=bad(0, 1, 2, 3), raise_on_error=False)
    order = [(event.kind, event.step_key) for event in result.events if event.kind in FINAL_KINDS]
    collect_at = next(index for index, (_, key) in enumerate(order) if key == "summarize")
    last_key_at = max(index for index, (_, key) in enumerate(order) if key.startswith("check["))
    assert collect_at > last_key_at, order


def test_nested_fan_out_tolerates_per_outer_key_and_again_at_the_outer_collect():
    one_bad = jobs.nested_tolerant.execute_in_process(run_config={"ops": {"score": {"config": {"bad": ["eu1"]}}}})
    assert one_bad.success and one_bad.tolerated_failures == 1
    assert one_bad.output_for_node("overall") == [3, 4]

    # eu loses 2 of 4 customers: its summary fails on the ratio, and the overall collect tolerates that region.
    two_bad = jobs.nested_tolerant.execute_in_process(
        run_config={"ops": {"score": {"config": {"bad": ["eu1", "eu2"]}}}})
    assert two_bad.success and two_bad.tolerated_failures == 3
    assert two_bad.output_for_node("overall") == [4]
    assert statuses(two_bad)["region_summary[eu]"] == StepStatus.FAILURE

    both_regions = jobs.nested_tolerant.execute_in_process(
        run_config={"ops": {"score": {"config": {"bad": ["eu1", "eu2", "us1", "us2"]}}}}, raise_on_error=False)
    assert not both_regions.success
    assert statuses(both_regions)["overall"] == StepStatus.FAILURE


def test_reexecuting_from_failure_reruns_the_failed_keys_and_the_collect_reusing_the_rest(tmp_path):
    store = f"file://{tmp_path}/store"
    parent = dagviz.execute_job(jobs.tolerant_80, bad(3, 7), output_store=store)
    assert parent.success and parent.tolerated_failures == 2

    child = dagviz.execute_job(jobs.tolerant_80, {}, output_store=store,
                               parent=parent_run_for(jobs.tolerant_80, ParentRecord.from_result(parent), "FROM_FAILURE"))
    ran = {key for key, status in statuses(child).items() if status != StepStatus.REUSED}
    assert ran == {"check[k3]", "check[k7]", "summarize"}
    assert child.success and child.tolerated_failures == 0
    assert child.output_for_node("summarize") == [number * 10 for number in range(10)]


def test_a_successful_run_without_failures_still_cannot_be_reexecuted_from_failure():
    parent = jobs.tolerant_80.execute_in_process()
    with pytest.raises(dagviz.DagvizError, match="nothing to re-execute from failure"):
        parent_run_for(jobs.tolerant_80, ParentRecord.from_result(parent), "FROM_FAILURE")


@pytest.mark.parametrize("executor", ["multiprocess", "dask"])
def test_every_executor_tolerates_the_same_way(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
        execution = {"dask": {"n_workers": 1, "threads_per_worker": 2}}
    else:
        execution = {"multiprocess": {"max_concurrent": 2}}
    result = dagviz.execute_job(jobs.tolerant_80, {**bad(3, 7), "execution": execution},
                                output_store=f"file://{tmp_path}/store")
    assert result.success and result.tolerated_failures == 2
    assert result.output_for_node("summarize") == [0, 10, 20, 40, 50, 60, 80, 90]


@pytest.mark.parametrize("ratio", [0, -0.5, 1.5, "0.9", True, float("nan")])
def test_a_ratio_outside_zero_to_one_is_refused_when_the_job_is_defined(ratio):
    @op(out=DynamicOut())
    def emit():
        yield DynamicOutput(1, mapping_key="a")

    @op
    def keep(values: list) -> list:
        return values

    with pytest.raises(InvalidDefinitionError, match="min_success_ratio must be a number greater than 0 and at most 1"):
        @job
        def broken():
            keep(emit().collect(min_success_ratio=ratio))
