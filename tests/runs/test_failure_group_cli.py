"""``manage.py reexecute RUN_ID --failure-group SIGNATURE``: a peer of --keys/--from-keys, resolved on the server."""

from __future__ import annotations

import pytest

from runs.models import Run, RunStatus
from runs.services.failure_groups import failure_groups, group_step_keys
from runs.services.launch import launch_run
from runs.services.reexecution import plan_reexecution
from tests.runs.support import assert_finished_as, statuses
from tests.runs.test_commands import assert_bad_input, manage, one_json_object

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"ops": {"import_upload": {"config": {"work_ms": 1}}}}


def test_reexecute_a_failure_group_from_the_command_line():
    parent = assert_finished_as(launch_run("import_uploads", FAST).id, RunStatus.FAILURE)
    unknown_customers = next(group for group in failure_groups(parent) if group.error_class == "KeyError")
    keys = group_step_keys(parent, unknown_customers.signature)
    assert keys == [f"import_upload[upload_{n:03d}]" for n in (7, 27, 47)]

    preview = manage("reexecute", str(parent.id), "--failure-group", unknown_customers.signature, "--preview", "--json")
    assert preview.returncode == 0, preview.stderr
    plan = plan_reexecution(str(parent.id), "FROM_SELECTED", keys)
    shown = one_json_object(preview)
    assert (shown["to_execute"], shown["reused"]) == (plan.to_execute, plan.reused)
    assert set(keys) <= set(plan.to_execute) and "report_imports" in plan.to_execute
    assert Run.objects.count() == 1  # a preview launches nothing

    result = manage("reexecute", str(parent.id), "--failure-group", unknown_customers.signature, "--wait", "--json")
    assert result.returncode == 0, result.stderr
    child = Run.objects.get(id=one_json_object(result)["run_id"])
    assert child.status == RunStatus.SUCCESS
    assert child.step_selection == {"strategy": "FROM_SELECTED", "step_keys": keys}
    assert {key for key, status in statuses(child).items() if status == "SUCCESS"} == set(plan.to_execute)


def test_an_unknown_failure_group_is_bad_input():
    parent = assert_finished_as(launch_run("import_uploads", FAST).id, RunStatus.FAILURE)
    assert_bad_input(manage("reexecute", str(parent.id), "--failure-group", "feedfacefeedface", "--preview"),
                     "no failure group", "feedfacefeedface")
    assert Run.objects.count() == 1
