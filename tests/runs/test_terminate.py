"""Terminate: a running run goes CANCELING then CANCELED with its steps stopped; a queued one is canceled at once."""

from __future__ import annotations

import psutil
import pytest

from runs.errors import RunNotTerminableError, UnknownRunError
from runs.models import Run, RunStatus
from runs.services.launch import dispatch_queued_runs, launch_run
from runs.services.terminate import terminate_run
from tests.runs.support import (
    assert_finished_as,
    describe,
    live_group_members,
    statuses,
    steps_of,
    wait_finished,
    wait_group_gone,
    wait_step,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Well under the monitor's grace period: the worker must stop by itself, not be killed.
STOP_SECONDS = 8


def _assert_canceled_cleanly(run_id, interrupted: list[str], pgid: int) -> Run:
    run = assert_finished_as(run_id, RunStatus.CANCELED, timeout=STOP_SECONDS)
    assert run.failure_reason == "The run was canceled.", describe(run.id)
    assert run.ended_at is not None
    steps = steps_of(run)
    for key in interrupted:
        assert steps[key].status == "CANCELED", describe(run.id)
        assert steps[key].error is None, steps[key].error  # stopped, not failed: nothing to group as a failure
        assert steps[key].attempt_history[-1]["status"] == "CANCELED"
        assert run.events.filter(kind="STEP_CANCELED", step_key=key).exists()
        assert steps[key].ended_at is not None
    assert not [key for key, step in steps.items() if step.status == "FAILURE"], describe(run.id)
    assert not [key for key, step in steps.items() if step.status in ("PENDING", "RUNNING")], describe(run.id)
    finished = run.events.get(kind="RUN_FINISHED")
    assert finished.payload["canceled"] is True
    wait_group_gone(pgid)
    return run


def test_terminating_an_in_process_run_interrupts_the_running_step(control):
    control.set(block=["shout[a]"])
    run = launch_run("letters")
    wait_step(run.id, "shout[a]", "RUNNING")
    pgid = Run.objects.get(id=run.id).worker_pid

    returned = terminate_run(str(run.id))
    assert returned.status == RunStatus.CANCELING
    assert returned.canceling_since is not None

    run = _assert_canceled_cleanly(run.id, ["shout[a]"], pgid)
    after = statuses(run)
    assert after["shout[d]"] == after["shout[b]"] == "SUCCESS"
    assert after["gather_letters"] == "SKIPPED"
    assert "shout[c]" not in after or after["shout[c]"] == "SKIPPED"
    assert "gather_letters" not in control.ran(run.id)


def test_terminating_a_multiprocess_run_stops_its_step_processes(control):
    blocked = ["shout[b]", "shout[a]", "shout[c]"]
    control.set(block=blocked)
    run = launch_run("letters", {"execution": {"multiprocess": {"max_concurrent": 2}}})

    def two_running() -> list[str]:
        running = [key for key, status in statuses(run).items() if status == "RUNNING" and key in blocked]
        return running if len(running) == 2 else []

    running = wait_until(two_running, 30, "two blocked steps to run", run.id)
    waiting = [key for key in blocked if key not in running]
    pgid = Run.objects.get(id=run.id).worker_pid
    step_pids = [control.pids(run.id)[key] for key in running]
    assert len(set(step_pids)) == 2 and pgid not in step_pids
    assert all(pid in live_group_members(pgid) for pid in step_pids), (step_pids, live_group_members(pgid))

    assert terminate_run(str(run.id)).status == RunStatus.CANCELING
    run = _assert_canceled_cleanly(run.id, running, pgid)
    for pid in step_pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    after = statuses(run)
    assert after["shout[d]"] == "SUCCESS"
    assert after[waiting[0]] == "SKIPPED" and after["gather_letters"] == "SKIPPED"
    assert set(control.ran(run.id)) == {"emit_letters", "shout[d]", *running}


def test_terminating_a_dask_run_cancels_its_tasks_and_closes_its_local_cluster(control):
    blocked = ["shout[b]", "shout[a]", "shout[c]"]
    control.set(block=blocked)
    run = launch_run("letters", {"execution": {"dask": {"n_workers": 2}}})

    def two_running() -> list[str]:
        running = [key for key, status in statuses(run).items() if status == "RUNNING" and key in blocked]
        return running if len(running) == 2 else []

    running = wait_until(two_running, 60, "two blocked steps to run on the dask workers", run.id)
    pgid = Run.objects.get(id=run.id).worker_pid
    step_pids = [control.pids(run.id)[key] for key in running]
    assert len(set(step_pids)) == 2 and pgid not in step_pids  # two dask worker processes

    assert terminate_run(str(run.id)).status == RunStatus.CANCELING
    run = _assert_canceled_cleanly(run.id, running, pgid)  # the LocalCluster's processes are gone too
    assert (run.ended_at - run.canceling_since).total_seconds() < 5  # running steps were not waited for
    for pid in step_pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    after = statuses(run)
    assert after["gather_letters"] == "SKIPPED"
    assert run.events.get(kind="RUN_STARTED").payload["executor"] == "dask"


def test_terminating_a_run_whose_worker_is_still_starting_ends_it_canceled():
    run = launch_run("letters")
    assert run.status == RunStatus.STARTING  # claimed; its worker is still booting
    assert terminate_run(str(run.id)).status == RunStatus.CANCELING
    # No monitor runs here: the run must not depend on one to leave CANCELING.
    run = wait_finished(run.id, timeout=STOP_SECONDS)
    assert run.status == RunStatus.CANCELED, describe(run.id)
    assert "died" not in run.failure_reason, run.failure_reason
    assert not [key for key, status in statuses(run).items() if status in ("PENDING", "RUNNING")]


def test_terminating_a_queued_run_cancels_it_at_once(settings):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    run = launch_run("letters")
    assert run.status == RunStatus.QUEUED
    canceled = terminate_run(str(run.id))
    assert canceled.status == RunStatus.CANCELED
    assert canceled.ended_at is not None and canceled.worker_pid is None
    assert canceled.failure_reason
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 4
    assert dispatch_queued_runs() == []
    assert Run.objects.get(id=run.id).status == RunStatus.CANCELED
    assert not run.steps.exists() and not run.events.exists()


def test_a_finished_run_cannot_be_terminated_and_stays_as_it_was(settings):
    run = assert_finished_as(launch_run("letters").id, RunStatus.SUCCESS)
    with pytest.raises(RunNotTerminableError, match="SUCCESS"):
        terminate_run(str(run.id))
    after = Run.objects.get(id=run.id)
    assert (after.status, after.ended_at, after.canceling_since) == (RunStatus.SUCCESS, run.ended_at, None)

    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    queued = launch_run("letters")
    terminate_run(str(queued.id))
    with pytest.raises(RunNotTerminableError, match="CANCELED"):
        terminate_run(str(queued.id))


@pytest.mark.parametrize("run_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", ""])
def test_terminating_an_unknown_run_is_a_typed_error(run_id):
    with pytest.raises(UnknownRunError):
        terminate_run(run_id)
