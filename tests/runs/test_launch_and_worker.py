"""Launching runs: validation first, QUEUED, a detached worker, the lifecycle to the end, and the concurrency limit."""

from __future__ import annotations

import socket
import sys

import psutil
import pytest

from dagviz.errors import DagvizError, InvalidConfigError, UnknownJobError
from runs.models import Event, Run, RunStatus, Step
from runs.services.launch import dispatch_queued_runs, launch_run, worker_log_path
from tests.runs.support import (
    assert_finished_as,
    describe,
    event_kinds,
    output_of,
    statuses,
    wait_finished,
    wait_step,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_goes_queued_starting_started_success_with_times_pid_and_host(settings, control):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0  # hold it in the queue to see QUEUED
    control.set(block=["shout[a]"])  # and hold it in STARTED
    run = launch_run("letters", tags={"team": "a"})
    assert run.status == RunStatus.QUEUED
    assert (run.started_at, run.ended_at, run.worker_pid, run.worker_host) == (None, None, None, "")
    assert run.created_at is not None and run.parent_run_id is None and run.root_run_id is None
    assert run.tags == {"team": "a"} and run.executor == "in_process" and run.output_store.startswith("file://")
    assert dispatch_queued_runs() == []
    assert Run.objects.get(id=run.id).status == RunStatus.QUEUED

    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 4
    assert dispatch_queued_runs() == [str(run.id)]
    claimed = Run.objects.get(id=run.id)
    assert claimed.status == RunStatus.STARTING  # the worker needs far longer than this to boot
    assert claimed.worker_pid is not None
    worker = psutil.Process(claimed.worker_pid)
    assert "run_worker" in worker.cmdline() and str(run.id) in worker.cmdline()

    wait_step(run.id, "shout[a]", "RUNNING")
    started = Run.objects.get(id=run.id)
    assert started.status == RunStatus.STARTED
    assert started.started_at is not None and started.ended_at is None
    control.set()
    run = assert_finished_as(run.id, RunStatus.SUCCESS)
    assert run.started_at == started.started_at
    assert run.worker_pid == claimed.worker_pid  # the worker recorded itself: same process
    assert run.worker_host == socket.gethostname()
    assert run.created_at <= run.started_at <= run.ended_at
    assert run.heartbeat_at is not None and run.failure_reason == ""
    assert set(statuses(run).values()) == {"SUCCESS"} and len(statuses(run)) == 6
    assert output_of(run, "gather_letters") == ["D!", "B!", "A!", "C!"]
    kinds = event_kinds(run)
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    finished = run.events.get(kind="RUN_FINISHED")
    assert finished.payload["success"] is True
    assert worker_log_path(str(run.id)).exists()


def test_a_failing_step_fails_the_run_with_the_reason(control):
    control.set(fail=["shout[b]"])
    run = assert_finished_as(launch_run("letters").id, RunStatus.FAILURE)
    assert "shout[b]" in run.failure_reason and "failed" in run.failure_reason
    assert run.ended_at is not None and run.started_at <= run.ended_at
    steps = {s.key: s for s in run.steps.all()}
    assert steps["shout[b]"].status == "FAILURE"
    assert steps["shout[b]"].error["class_name"] == "Failure"
    assert steps["shout[b]"].error["message"] == "shout[b] failed on purpose"
    assert steps["gather_letters"].status == "SKIPPED"
    assert {key: s.status for key, s in steps.items() if key.startswith("shout[") and key != "shout[b]"} == {
        "shout[d]": "SUCCESS", "shout[a]": "SUCCESS", "shout[c]": "SUCCESS"}
    assert run.events.get(kind="RUN_FINISHED").payload["success"] is False


def test_the_run_config_and_executor_reach_the_worker():
    config = {"ops": {"emit_letters": {"config": {"keys": ["z", "y"]}}},
              "execution": {"multiprocess": {"max_concurrent": 1}}}
    run = launch_run("letters", config)
    assert run.executor == "multiprocess" and run.run_config == config
    run = assert_finished_as(run.id, RunStatus.SUCCESS)
    assert output_of(run, "gather_letters") == ["Z!", "Y!"]
    assert run.events.get(kind="RUN_STARTED").payload["executor"] == "multiprocess"


def test_a_persisted_run_can_execute_on_a_dask_local_cluster():
    run = launch_run("letters", {"ops": {"emit_letters": {"config": {"keys": ["q", "r"]}}},
                                 "execution": {"dask": {"n_workers": 1}}})
    assert run.executor == "dask"
    run = assert_finished_as(run.id, RunStatus.SUCCESS)
    assert output_of(run, "gather_letters") == ["Q!", "R!"]
    assert run.events.get(kind="RUN_STARTED").payload["executor"] == "dask"


def test_a_dask_run_is_refused_at_launch_when_the_dask_extra_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(DagvizError, match=r"pip install 'dagviz\[dask\]'"):
        launch_run("letters", {"execution": {"dask": {}}})
    assert Run.objects.count() == 0


@pytest.mark.parametrize("job, config, executor, error", [
    ("letters", {"ops": {"emit_letters": {"config": {"keys": 5}}}}, None, InvalidConfigError),
    ("letters", {"ops": {"no_such_op": {}}}, None, InvalidConfigError),
    ("letters", {"execution": {"threads": {}}}, None, InvalidConfigError),
    ("no_such_job", {}, None, UnknownJobError),
    ("letters", {}, "teleport", DagvizError),
])
def test_bad_launches_raise_typed_errors_and_write_nothing(job, config, executor, error):
    with pytest.raises(error) as raised:
        launch_run(job, config, executor=executor)
    assert job in str(raised.value) or (executor and executor in str(raised.value))
    assert Run.objects.count() == Step.objects.count() == Event.objects.count() == 0


def test_runs_beyond_the_limit_wait_queued_and_start_when_a_slot_frees(settings, monkeypatch, control):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 1
    monkeypatch.setenv("DAGVIZ_MAX_CONCURRENT_RUNS", "1")  # the workers dispatch queued runs too
    control.set(block=["shout[a]"])
    first = launch_run("letters")
    wait_step(first.id, "shout[a]", "RUNNING")
    second = launch_run("letters", {"ops": {"emit_letters": {"config": {"keys": ["q"]}}}})
    assert second.status == RunStatus.QUEUED
    assert dispatch_queued_runs() == []
    assert Run.objects.get(id=second.id).status == RunStatus.QUEUED
    assert Run.objects.get(id=first.id).status == RunStatus.STARTED

    control.set()  # let the first run finish
    first = assert_finished_as(first.id, RunStatus.SUCCESS)
    second = assert_finished_as(second.id, RunStatus.SUCCESS)
    assert second.started_at >= first.ended_at, describe(second.id)
    assert output_of(second, "gather_letters") == ["Q!"]


def test_queued_runs_start_oldest_first(settings, monkeypatch):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    monkeypatch.setenv("DAGVIZ_MAX_CONCURRENT_RUNS", "1")
    runs = [launch_run("letters", {"ops": {"emit_letters": {"config": {"keys": [k]}}}}) for k in ("x", "y", "z")]
    assert [Run.objects.get(id=r.id).status for r in runs] == [RunStatus.QUEUED] * 3
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 1
    assert dispatch_queued_runs() == [str(runs[0].id)]
    finished = [wait_finished(r.id) for r in runs]
    assert [r.status for r in finished] == [RunStatus.SUCCESS] * 3, [describe(r.id) for r in runs]
    assert finished[0].ended_at <= finished[1].started_at and finished[1].ended_at <= finished[2].started_at


def test_a_worker_for_a_job_that_vanished_from_the_workspace_fails_the_run_with_a_reason(settings):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    run = launch_run("letters")
    settings.DAGVIZ_WORKSPACE = ["dagviz.examples"]  # the worker will not find the job any more
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 1
    dispatch_queued_runs()
    run = assert_finished_as(run.id, RunStatus.FAILURE)
    assert "letters" in run.failure_reason, run.failure_reason
    assert run.ended_at is not None


def test_a_worker_started_for_a_run_that_is_not_starting_does_nothing():
    run = assert_finished_as(launch_run("letters").id, RunStatus.SUCCESS)
    events = Event.objects.filter(run=run).count()
    from runs.services.worker import run_worker

    assert run_worker(str(run.id)) == RunStatus.SUCCESS
    assert Run.objects.get(id=run.id).ended_at == run.ended_at
    assert Event.objects.filter(run=run).count() == events
