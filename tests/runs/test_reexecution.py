"""Re-execution of persisted runs: exactly the failed or selected keys run again, everything else is reused.

Which steps ran is checked twice: by the child run's step rows (attempts, REUSED) and by the
record each test op writes when its user code starts (``control.ran``). Every re-execution
is previewed first, and the preview must match what the launched run then did.
"""

from __future__ import annotations

import os
import signal

import pytest

from dagviz.errors import InvalidStepKeyError, UnknownJobError
from dagviz.execution.reexecution import ReexecutionError, ReexecutionStrategy
from runs.errors import RunNotFinishedError, UnknownRunError
from runs.event_rows import yielded_keys
from runs.models import Event, Run, RunStatus, Step
from runs.services.launch import launch_run
from runs.services.monitor import check_runs
from runs.services.reexecution import plan_reexecution, reexecute
from runs.services.terminate import terminate_run
from tests.runs.support import (
    assert_finished_as,
    assert_preview_matches,
    attempts,
    describe,
    output_of,
    statuses,
    steps_of,
    wait_group_gone,
    wait_step,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

FROM_FAILURE, SELECTED, ALL = ReexecutionStrategy.FROM_FAILURE, ReexecutionStrategy.SELECTED, ReexecutionStrategy.ALL
FROM_SELECTED = ReexecutionStrategy.FROM_SELECTED
LETTERS_OUT = ["D!", "B!", "A!", "C!"]
ALL_LETTER_STEPS = {"emit_letters", "shout[d]", "shout[b]", "shout[a]", "shout[c]", "gather_letters"}
MULTIPROCESS = {"execution": {"multiprocess": {"max_concurrent": 2}}}


def run_to_end(job: str, config: dict | None = None, expect: str = RunStatus.SUCCESS) -> Run:
    return assert_finished_as(launch_run(job, config).id, expect)


def rerun(parent: Run, strategy, keys: list[str] | None = None, expect: str = RunStatus.SUCCESS,
          executor: str | None = None) -> Run:
    """Preview, launch and finish a re-execution of ``parent``; the preview must match the run."""
    plan = plan_reexecution(str(parent.id), strategy, keys)
    child = reexecute(str(parent.id), strategy, keys, executor=executor)
    assert child.parent_run_id == parent.id
    assert child.root_run_id == (parent.root_run_id or parent.id)
    assert child.step_selection == {"strategy": ReexecutionStrategy(strategy).value, "step_keys": list(keys or [])}
    assert child.run_config == parent.run_config and child.output_store == parent.output_store
    child = assert_finished_as(child.id, expect)
    assert_preview_matches(plan, child)
    return child


def executed(run: Run) -> set[str]:
    return {key for key, status in statuses(run).items() if status != "REUSED"}


def reused(run: Run) -> set[str]:
    return {key for key, status in statuses(run).items() if status == "REUSED"}


def assert_ran_exactly(run: Run, control, keys: set[str]) -> None:
    """These steps ran once each (attempts 1 and user code started once); every other step was reused."""
    ran = control.ran(run.id)
    assert sorted(ran) == sorted(keys), describe(run.id)
    counts = attempts(run)
    assert {key for key, n in counts.items() if n} == keys, counts
    assert all(counts[key] == 1 for key in keys), counts
    assert executed(run) == keys and all(s == "SUCCESS" for k, s in statuses(run).items() if k in keys), describe(run.id)


def dynamic_keys(run: Run) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for step_key, _, mapping_key, _ in yielded_keys([run.id]):
        if mapping_key not in keys.setdefault(step_key, []):  # a key yielded again by a retried attempt
            keys[step_key].append(mapping_key)
    return {step_key: keys[step_key] for step_key in sorted(keys)}


# -- FROM_FAILURE ------------------------------------------------------------------------------------


def test_from_failure_on_flaky_fanout_reruns_only_the_failed_keys_and_the_collect():
    config = {"ops": {"emit_keys": {"config": {"n": 8}}, "flaky_work": {"config": {"sleep_ms": 1}}}}
    parent = run_to_end("flaky_fanout", config, RunStatus.FAILURE)
    assert {k for k, s in statuses(parent).items() if s == "FAILURE"} == {"flaky_work[k3]", "flaky_work[k7]"}
    assert statuses(parent)["total"] == "SKIPPED"

    child = rerun(parent, FROM_FAILURE)
    assert executed(child) == {"flaky_work[k3]", "flaky_work[k7]", "total"}
    assert reused(child) == {"emit_keys"} | {f"flaky_work[k{i}]" for i in (0, 1, 2, 4, 5, 6)}
    assert {key: n for key, n in attempts(child).items() if n} == {"flaky_work[k3]": 1, "flaky_work[k7]": 1, "total": 1}
    assert output_of(child, "total") == sum(i * i for i in range(8))  # the collect saw all eight keys
    parent_steps, child_steps = steps_of(parent), steps_of(child)
    for key in reused(child) - {"emit_keys"}:
        assert child_steps[key].outputs == parent_steps[key].outputs, key  # read from the parent, not recomputed
    assert dynamic_keys(child) == dynamic_keys(parent) == {"emit_keys": [f"k{i}" for i in range(8)]}
    reuse_events = Event.objects.filter(run=child, kind="STEP_REUSED")
    assert {e.step_key for e in reuse_events} == reused(child)
    assert {e.payload["parent_run_id"] for e in reuse_events} == {str(parent.id)}


@pytest.mark.parametrize("child_executor", ["in_process", "multiprocess"])
def test_rerun_keys_take_their_yield_position_in_the_collect(control, child_executor):
    control.set(fail=["shout[b]", "shout[a]"])
    parent = run_to_end("letters", expect=RunStatus.FAILURE)
    control.set()
    child = rerun(parent, FROM_FAILURE, executor=child_executor)
    assert child.executor == child_executor
    assert_ran_exactly(child, control, {"shout[b]", "shout[a]", "gather_letters"})
    assert output_of(child, "gather_letters") == LETTERS_OUT


def test_from_failure_of_a_run_that_succeeded_is_a_clear_error_and_writes_nothing():
    parent = run_to_end("letters")
    counts = (Run.objects.count(), Event.objects.count(), Step.objects.count())
    for call in (plan_reexecution, reexecute):
        with pytest.raises(ReexecutionError, match="succeeded") as raised:
            call(str(parent.id), FROM_FAILURE)
        assert str(parent.id) in str(raised.value) and "SELECTED" in str(raised.value)
    assert (Run.objects.count(), Event.objects.count(), Step.objects.count()) == counts


# -- SELECTED and ALL ----------------------------------------------------------------------------------


SELECTIONS = [
    (["shout[a]"], {"shout[a]", "gather_letters"}),
    (["shout[?]"], {"shout[d]", "shout[b]", "shout[a]", "shout[c]", "gather_letters"}),
    (["shout[b]", "shout[c]"], {"shout[b]", "shout[c]", "gather_letters"}),
    (["gather_letters"], {"gather_letters"}),
    (["emit_letters"], ALL_LETTER_STEPS),
]


def test_from_selected_runs_the_chosen_keys_and_their_downstream_steps(control):
    parent = run_to_end("letters")
    for keys, expected in SELECTIONS:
        child = rerun(parent, FROM_SELECTED, keys)
        assert_ran_exactly(child, control, expected)
        assert reused(child) == ALL_LETTER_STEPS - expected, keys
        assert output_of(child, "gather_letters") == LETTERS_OUT


EXACT_SELECTIONS = [
    (["shout[a]"], {"shout[a]"}),
    (["shout[?]"], {"shout[d]", "shout[b]", "shout[a]", "shout[c]"}),
    (["gather_letters"], {"gather_letters"}),
    (["emit_letters"], {"emit_letters"}),
]


def test_selected_runs_exactly_the_chosen_steps_and_downstream_keeps_the_parents_outputs(control):
    """Dagster's rule for a step selection: nothing downstream of the selection runs again."""
    parent = run_to_end("letters")
    for keys, expected in EXACT_SELECTIONS:
        child = rerun(parent, SELECTED, keys)
        assert_ran_exactly(child, control, expected)
        assert reused(child) == ALL_LETTER_STEPS - expected, keys
        assert output_of(child, "gather_letters") == LETTERS_OUT


def test_all_runs_every_step_again(control):
    control.set(fail=["shout[b]"])
    parent = run_to_end("letters", expect=RunStatus.FAILURE)
    control.set()
    child = rerun(parent, ALL)
    assert_ran_exactly(child, control, ALL_LETTER_STEPS)
    assert reused(child) == set()
    assert output_of(child, "gather_letters") == LETTERS_OUT
    assert dynamic_keys(child) == {"emit_letters": ["d", "b", "a", "c"]}


# -- the cases where the reference implementation gets it wrong ------------------------------------------


def test_re_executing_a_re_execution_reuses_through_the_ancestors(control):
    control.set(fail=["shout[b]", "shout[c]"])
    root = run_to_end("letters", expect=RunStatus.FAILURE)
    control.set(fail=["shout[c]"])
    first = rerun(root, FROM_FAILURE, expect=RunStatus.FAILURE)
    assert sorted(control.ran(first.id)) == ["shout[b]", "shout[c]"]
    assert statuses(first)["shout[b]"] == "SUCCESS" and statuses(first)["shout[c]"] == "FAILURE"
    assert statuses(first)["gather_letters"] == "SKIPPED"

    control.set()
    second = rerun(first, FROM_FAILURE)
    assert second.root_run_id == root.id and second.parent_run_id == first.id
    assert_ran_exactly(second, control, {"shout[c]", "gather_letters"})
    assert output_of(second, "gather_letters") == LETTERS_OUT
    # shout[d] and shout[a] were reused twice: their outputs are still the root run's.
    assert steps_of(second)["shout[d]"].outputs == steps_of(root)["shout[d]"].outputs
    assert steps_of(second)["shout[b]"].outputs == steps_of(first)["shout[b]"].outputs
    assert dynamic_keys(second) == {"emit_letters": ["d", "b", "a", "c"]}

    third = rerun(second, FROM_SELECTED, ["shout[d]"])
    assert third.root_run_id == root.id
    assert_ran_exactly(third, control, {"shout[d]", "gather_letters"})
    assert output_of(third, "gather_letters") == LETTERS_OUT


def test_a_failure_inside_a_chain_of_maps_reruns_that_key_down_the_chain(control):
    control.set(fail=["first_stage[b]", "second_stage[c]"])
    parent = run_to_end("chain_of_maps", expect=RunStatus.FAILURE)
    assert statuses(parent)["second_stage[b]"] == "SKIPPED"
    control.set()
    child = rerun(parent, FROM_FAILURE)
    assert_ran_exactly(child, control, {"first_stage[b]", "second_stage[b]", "second_stage[c]", "gather_chain"})
    assert output_of(child, "gather_chain") == ["d12", "b12", "a12", "c12"]

    again = rerun(child, FROM_SELECTED, ["first_stage[a]"])
    assert_ran_exactly(again, control, {"first_stage[a]", "second_stage[a]", "gather_chain"})
    assert output_of(again, "gather_chain") == ["d12", "b12", "a12", "c12"]


NESTED_OUT = [["EU-0", "EU-1", "EU-2"], ["US-0", "US-1", "US-2"]]


def test_nested_fan_out_keys_rerun_exactly_and_every_level_collects_in_order(control):
    control.set(fail=["score_customer[eu][c1]"])
    parent = run_to_end("nested_keys", expect=RunStatus.FAILURE)
    control.set()
    child = rerun(parent, FROM_FAILURE)
    assert_ran_exactly(child, control, {"score_customer[eu][c1]", "region_scores[eu]", "all_regions"})
    assert output_of(child, "all_regions") == NESTED_OUT
    assert dynamic_keys(child) == dynamic_keys(parent) == {
        "emit_regions": ["eu", "us"], "emit_customers[eu]": ["c0", "c1", "c2"], "emit_customers[us]": ["c0", "c1", "c2"]}

    every_c0 = rerun(child, FROM_SELECTED, ["score_customer[?][c0]"])
    assert_ran_exactly(every_c0, control, {"score_customer[eu][c0]", "score_customer[us][c0]", "region_scores[eu]",
                                           "region_scores[us]", "all_regions"})
    inner_emitter = rerun(every_c0, FROM_SELECTED, ["emit_customers[us]"])
    assert_ran_exactly(inner_emitter, control, {"emit_customers[us]", "score_customer[us][c0]", "score_customer[us][c1]",
                                                "score_customer[us][c2]", "region_scores[us]", "all_regions"})
    assert output_of(inner_emitter, "all_regions") == NESTED_OUT


def test_a_failed_inner_emitter_runs_again_with_its_keys_while_the_other_region_is_reused(control):
    control.set(fail=["emit_customers[eu]"])
    parent = run_to_end("nested_keys", expect=RunStatus.FAILURE)
    assert not [key for key in statuses(parent) if key.startswith("score_customer[eu]")]
    control.set()
    plan = plan_reexecution(str(parent.id), FROM_FAILURE)
    assert "score_customer[eu][?]" in plan.to_execute
    child = rerun(parent, FROM_FAILURE)
    assert_ran_exactly(child, control, {"emit_customers[eu]", "score_customer[eu][c0]", "score_customer[eu][c1]",
                                        "score_customer[eu][c2]", "region_scores[eu]", "all_regions"})
    assert output_of(child, "all_regions") == NESTED_OUT


def test_an_emitter_that_failed_after_yielding_some_keys_runs_again_and_yields_them_all(control):
    parent = run_to_end("partial_emitter", expect=RunStatus.FAILURE)
    assert statuses(parent) == {"emit_then_fail": "FAILURE", "tag_key[k0]": "SUCCESS", "tag_key[k1]": "SUCCESS",
                                "gather_tags": "SKIPPED"}
    assert dynamic_keys(parent) == {"emit_then_fail": ["k0", "k1"]}
    plan = plan_reexecution(str(parent.id), FROM_FAILURE)
    assert "tag_key[?]" in plan.to_execute and "emit_then_fail" in plan.to_execute

    child = rerun(parent, FROM_FAILURE)
    keys = ["k0", "k1", "k2", "k3"]
    assert_ran_exactly(child, control, {"emit_then_fail", "gather_tags", *(f"tag_key[{k}]" for k in keys)})
    assert dynamic_keys(child) == {"emit_then_fail": keys}
    # Every key once, in yield order, each computed from the emitter's new output.
    assert output_of(child, "gather_tags") == [f"{k}:{child.id}" for k in keys]


def test_keys_of_a_retried_emitter_are_recorded_once_in_yield_order_and_replayed(control):
    parent = run_to_end("retried_emitter")
    assert steps_of(parent)["emit_with_retry"].attempts == 2
    assert dynamic_keys(parent) == {"emit_with_retry": ["k0", "k1", "k2"]}
    assert sorted(control.ran(parent.id)).count("echo_key[k0]") == 1
    assert output_of(parent, "gather_echoes") == ["k0", "k1", "k2"]
    child = rerun(parent, FROM_SELECTED, ["echo_key[k1]"])
    assert_ran_exactly(child, control, {"echo_key[k1]", "gather_echoes"})
    assert dynamic_keys(child) == {"emit_with_retry": ["k0", "k1", "k2"]}
    assert output_of(child, "gather_echoes") == ["k0", "k1", "k2"]


def test_a_run_canceled_before_it_started_re_executes_every_step(settings, control):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    parent = launch_run("letters")
    terminate_run(str(parent.id))
    parent = Run.objects.get(id=parent.id)
    assert parent.status == RunStatus.CANCELED and not parent.steps.exists()
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 4
    child = rerun(parent, FROM_FAILURE)
    assert_ran_exactly(child, control, ALL_LETTER_STEPS)
    assert output_of(child, "gather_letters") == LETTERS_OUT


def _kill_and_monitor(run: Run) -> Run:
    pgid = run.worker_pid
    os.kill(pgid, signal.SIGKILL)

    def ended():
        check_runs()
        return Run.objects.filter(id=run.id, status=RunStatus.FAILURE).first()

    ended_run = wait_until(ended, 10, "the monitor to fail the killed run", run.id, interval=0.2)
    wait_group_gone(pgid)
    return ended_run


def _letters_blocked_on_the_last_key(control) -> Run:
    """A multiprocess run whose emitter and first three keys succeeded and whose last key is running."""
    control.set(block=["shout[c]"])
    run = launch_run("letters", MULTIPROCESS)
    wait_step(run.id, "shout[c]", "RUNNING")
    for key in ("emit_letters", "shout[d]", "shout[b]", "shout[a]"):
        wait_step(run.id, key, "SUCCESS")
    return Run.objects.get(id=run.id)


def test_a_run_whose_worker_was_killed_reruns_its_unfinished_steps(control):
    parent = _kill_and_monitor(_letters_blocked_on_the_last_key(control))
    assert statuses(parent)["shout[c]"] == "FAILURE" and statuses(parent)["gather_letters"] == "SKIPPED"
    control.set()
    child = rerun(parent, FROM_FAILURE, executor="in_process")
    assert_ran_exactly(child, control, {"shout[c]", "gather_letters"})
    assert output_of(child, "gather_letters") == LETTERS_OUT


def test_a_run_killed_while_its_emitter_was_still_yielding_reruns_the_emitter_and_gets_every_key(control):
    control.set(block=["shout[a]"])
    run = launch_run("letters")  # in process: the emitter is suspended after yielding a while shout[a] runs
    wait_step(run.id, "shout[a]", "RUNNING")
    parent = _kill_and_monitor(Run.objects.get(id=run.id))
    assert statuses(parent)["emit_letters"] == "FAILURE"
    assert "shout[c]" not in statuses(parent)  # never yielded
    control.set()
    child = rerun(parent, FROM_FAILURE)
    assert_ran_exactly(child, control, ALL_LETTER_STEPS)
    assert output_of(child, "gather_letters") == LETTERS_OUT


def test_a_terminated_run_reruns_its_canceled_and_skipped_steps(control):
    run = _letters_blocked_on_the_last_key(control)
    terminate_run(str(run.id))
    parent = assert_finished_as(run.id, RunStatus.CANCELED, timeout=8)
    wait_group_gone(run.worker_pid)
    assert statuses(parent)["shout[c]"] == "CANCELED" and statuses(parent)["gather_letters"] == "SKIPPED"
    control.set()
    child = rerun(parent, FROM_FAILURE, executor="in_process")
    assert_ran_exactly(child, control, {"shout[c]", "gather_letters"})
    assert output_of(child, "gather_letters") == LETTERS_OUT


# -- bad requests -------------------------------------------------------------------------------------------


BAD_SELECTIONS = [
    (["nope[a]"], InvalidStepKeyError, "no node 'nope'"),
    (["shout"], InvalidStepKeyError, "shout[key]"),
    (["shout[a][b]"], InvalidStepKeyError, "mapped 1 deep"),
    (["emit_letters[a]"], InvalidStepKeyError, "emit_letters"),
    (["shout[zz]"], InvalidStepKeyError, "not a step of the parent run"),
    (["shout[a"], InvalidStepKeyError, "shout[a"),
    (["shout[a-b]"], InvalidStepKeyError, "shout[a-b]"),
    (["shout[a]", "bogus[?]"], InvalidStepKeyError, "bogus"),
    ([], ReexecutionError, "at least one step key"),
]


def test_invalid_or_unknown_step_keys_are_typed_errors_and_launch_nothing():
    parent = run_to_end("letters")
    counts = (Run.objects.count(), Event.objects.count(), Step.objects.count())
    for keys, error, words in BAD_SELECTIONS:
        for call in (plan_reexecution, reexecute):
            with pytest.raises(error) as raised:
                call(str(parent.id), SELECTED, keys)
            assert words in str(raised.value), (keys, str(raised.value))
    assert (Run.objects.count(), Event.objects.count(), Step.objects.count()) == counts


def test_unknown_runs_strategies_jobs_and_unfinished_parents_are_typed_errors(settings):
    with pytest.raises(UnknownRunError):
        plan_reexecution("00000000-0000-0000-0000-000000000000", FROM_FAILURE)
    with pytest.raises(UnknownRunError):
        reexecute("not-a-run", ALL)
    going = Run.objects.create(job_name="letters", status=RunStatus.STARTED, output_store="memory://")
    with pytest.raises(RunNotFinishedError, match="STARTED"):
        reexecute(str(going.id), ALL)
    queued = Run.objects.create(job_name="letters", status=RunStatus.QUEUED, output_store="memory://")
    with pytest.raises(RunNotFinishedError, match="QUEUED"):
        plan_reexecution(str(queued.id), ALL)
    finished = Run.objects.create(job_name="letters", status=RunStatus.FAILURE, output_store="memory://")
    with pytest.raises(ReexecutionError, match="SOMETIMES"):
        reexecute(str(finished.id), "SOMETIMES")
    settings.DAGVIZ_WORKSPACE = ["dagviz.examples"]  # the job is gone from the workspace
    with pytest.raises(UnknownJobError, match="letters"):
        reexecute(str(finished.id), ALL)
    assert Run.objects.count() == 3
