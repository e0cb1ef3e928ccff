"""Runs of an op selection: validated before anything is written, executed by the worker, re-executed as selected.

``stamped_letters`` is emit_letters -> shout[d, b, a, c] -> gather_letters -> stamp_letters, and
stamp_letters needs config: a selection that leaves it out launches without that config.
"""

from __future__ import annotations

import pytest

from dagviz.errors import InvalidConfigError, InvalidOpSelectionError
from dagviz.execution.reexecution import ReexecutionStrategy
from runs.models import Event, Run, RunStatus, Step
from runs.services.launch import launch_run
from runs.services.op_selection import parse_op_selection
from runs.services.reexecution import plan_reexecution, reexecute
from tests.runs.support import assert_finished_as, assert_preview_matches, describe, output_of, statuses
from tests.runs.test_commands import assert_bad_input, manage, one_json_object

pytestmark = pytest.mark.django_db(transaction=True)

LETTER_STEPS = {"emit_letters", "shout[d]", "shout[b]", "shout[a]", "shout[c]"}
STAMP = {"ops": {"stamp_letters": {"config": {"stamp": "#"}}}}


def nothing_written() -> tuple[int, int, int]:
    return Run.objects.count(), Step.objects.count(), Event.objects.count()


@pytest.mark.parametrize("typed, selection", [
    ("*gather_letters", ["*gather_letters"]),
    ("emit_letters, shout+", ["emit_letters", "shout+"]),
    (" emit_letters,,shout ", ["emit_letters", "shout"]),
    (["emit_letters", " shout "], ["emit_letters", "shout"]),
    ("", None),
    ([], None),
    (None, None),
])
def test_a_typed_selection_becomes_a_list_of_queries_and_an_empty_one_means_the_whole_job(typed, selection):
    assert parse_op_selection(typed) == selection


def test_a_selected_run_executes_only_the_selected_ops_without_config_for_the_others(control):
    run = launch_run("stamped_letters", op_selection="*gather_letters")
    assert run.op_selection == ["*gather_letters"]
    run = assert_finished_as(run.id, RunStatus.SUCCESS)
    assert set(statuses(run)) == LETTER_STEPS | {"gather_letters"}, describe(run.id)
    assert set(control.ran(run.id)) == LETTER_STEPS | {"gather_letters"}
    assert output_of(run, "gather_letters") == ["D!", "B!", "A!", "C!"]


def test_the_whole_job_still_needs_the_config_of_every_op():
    with pytest.raises(InvalidConfigError) as raised:
        launch_run("stamped_letters")
    assert "stamp_letters" in str(raised.value)
    assert nothing_written() == (0, 0, 0)
    run = assert_finished_as(launch_run("stamped_letters", STAMP).id, RunStatus.SUCCESS)
    assert run.op_selection is None
    assert output_of(run, "stamp_letters") == "#D!B!A!C!"


def test_config_is_checked_against_the_selected_ops():
    bad = {"ops": {"emit_letters": {"config": {"keys": "not-a-list"}}}}
    with pytest.raises(InvalidConfigError) as raised:
        launch_run("stamped_letters", bad, op_selection=["emit_letters+"])
    assert "ops.emit_letters.config.keys" in str(raised.value)
    assert nothing_written() == (0, 0, 0)


def test_an_unknown_op_in_the_selection_is_refused_by_name_before_anything_is_written():
    with pytest.raises(InvalidOpSelectionError) as raised:
        launch_run("stamped_letters", op_selection=["emit_letters", "no_such_op"])
    assert "no_such_op" in str(raised.value)
    assert nothing_written() == (0, 0, 0)


def test_a_downstream_selection_fans_out_and_stops_at_the_selected_level(control):
    run = assert_finished_as(launch_run("stamped_letters", op_selection=["emit_letters+"]).id, RunStatus.SUCCESS)
    assert set(statuses(run)) == LETTER_STEPS, describe(run.id)
    assert output_of(run, "shout[c]") == "C!"


def test_step_processes_of_the_multiprocess_executor_run_the_same_selection(control):
    run = launch_run("stamped_letters", executor="multiprocess", op_selection=["*gather_letters"])
    run = assert_finished_as(run.id, RunStatus.SUCCESS)
    assert run.executor == "multiprocess"
    assert set(statuses(run)) == LETTER_STEPS | {"gather_letters"}, describe(run.id)
    assert output_of(run, "gather_letters") == ["D!", "B!", "A!", "C!"]


def test_reexecuting_a_selected_run_keeps_its_selection_and_reuses_the_rest(control):
    control.set(fail=["shout[b]"])
    parent = assert_finished_as(launch_run("stamped_letters", op_selection=["*gather_letters"]).id,
                                RunStatus.FAILURE)
    control.set()

    plan = plan_reexecution(str(parent.id), ReexecutionStrategy.FROM_FAILURE)
    assert set(plan.to_execute) == {"shout[b]", "gather_letters"}  # no stamp_letters: it is not selected
    child = reexecute(str(parent.id), ReexecutionStrategy.FROM_FAILURE)
    assert child.op_selection == ["*gather_letters"]
    child = assert_finished_as(child.id, RunStatus.SUCCESS)
    assert_preview_matches(plan, child)
    assert sorted(control.ran(child.id)) == ["gather_letters", "shout[b]"]
    assert set(statuses(child)) == LETTER_STEPS | {"gather_letters"}
    assert output_of(child, "gather_letters") == ["D!", "B!", "A!", "C!"]

    again = assert_finished_as(reexecute(str(child.id), ReexecutionStrategy.ALL).id, RunStatus.SUCCESS)
    assert again.op_selection == ["*gather_letters"] and again.root_run_id == parent.id
    assert set(control.ran(again.id)) == LETTER_STEPS | {"gather_letters"}


def test_selected_step_keys_of_ops_outside_the_selection_are_refused():
    from dagviz.errors import InvalidStepKeyError

    parent = assert_finished_as(launch_run("stamped_letters", op_selection=["emit_letters+"]).id, RunStatus.SUCCESS)
    before = nothing_written()
    with pytest.raises(InvalidStepKeyError) as raised:
        reexecute(str(parent.id), ReexecutionStrategy.SELECTED, ["gather_letters"])
    assert "gather_letters" in str(raised.value)
    assert nothing_written() == before


# -- manage.py launch --op-selection ---------------------------------------------------------------------


def test_manage_launch_with_an_op_selection_prints_one_json_object_and_runs_the_selection():
    result = manage("launch", "stamped_letters", "--op-selection", "emit_letters,shout", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert set(data) == {"run_id", "status"} and data["status"] == "SUCCESS"
    run = Run.objects.get(id=data["run_id"])
    assert run.op_selection == ["emit_letters", "shout"]
    assert set(statuses(run)) == LETTER_STEPS


def test_manage_launch_with_an_unknown_op_exits_2_with_one_line_naming_it():
    assert_bad_input(manage("launch", "stamped_letters", "--op-selection", "*no_such_op", "--json"), "no_such_op")
    assert nothing_written() == (0, 0, 0)
