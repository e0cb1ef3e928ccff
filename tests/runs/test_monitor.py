"""The run monitor: a dead worker's run ends FAILURE with the reason, its steps too, and no process is left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from runs.lifecycle import move_run, now
from runs.models import Run, RunStatus
from runs.services.launch import database_url_for_workers, launch_run
from runs.services.monitor import check_runs
from runs.services.step_counts import count_steps
from tests.runs.support import (
    describe,
    event_kinds,
    live_group_members,
    steps_of,
    wait_group_gone,
    wait_step,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

LONG_STREAMING = {"ops": {"slow_emitter": {"config": {"n": 3, "interval_ms": 10}}, "work": {"config": {"work_ms": 60_000}}}}


def kill_worker_and_monitor(run: Run) -> tuple[Run, float]:
    """kill -9 the run's worker, then run the monitor until it ends the run; returns the run and seconds taken."""
    os.kill(run.worker_pid, signal.SIGKILL)
    killed_at = time.monotonic()

    def ended() -> Run | None:
        check_runs()
        return Run.objects.filter(id=run.id, status__in=(RunStatus.FAILURE, RunStatus.CANCELED)).first()

    ended_run = wait_until(ended, 10, "the monitor to end the run of the killed worker", run.id, interval=0.2)
    return ended_run, time.monotonic() - killed_at


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_killed_worker_fails_its_run_and_running_steps_with_the_reason(executor):
    config = {**LONG_STREAMING, "execution": {executor: {"max_concurrent": 2} if executor == "multiprocess" else {}}}
    run = launch_run("streaming_fanout", config)
    wait_step(run.id, "work[k0]", "RUNNING")
    if executor == "multiprocess":
        wait_step(run.id, "work[k1]", "RUNNING")
    run = Run.objects.get(id=run.id)
    pgid = run.worker_pid
    group_before = live_group_members(pgid)
    assert pgid in group_before
    if executor == "multiprocess":
        assert len(group_before) >= 3, group_before  # the worker and its step processes share its group

    run, seconds = kill_worker_and_monitor(run)
    assert seconds < 10
    assert run.status == RunStatus.FAILURE, describe(run.id)
    assert str(pgid) in run.failure_reason and "died" in run.failure_reason, run.failure_reason
    assert run.ended_at is not None

    steps = steps_of(run)
    running_then = ["work[k0]", "work[k1]"] if executor == "multiprocess" else ["work[k0]"]
    for key in running_then:
        assert steps[key].status == "FAILURE", describe(run.id)
        assert steps[key].error["message"] == run.failure_reason
        assert steps[key].error["class_name"] == "WorkerLost"
        assert steps[key].ended_at is not None
        assert steps[key].attempt_history[-1]["status"] == "FAILURE"
        assert steps[key].attempt_history[-1]["error"]["message"] == run.failure_reason
    assert steps["gather"].status == "SKIPPED" and steps["gather"].skip_reason == run.failure_reason
    assert not any(step.status in ("RUNNING", "PENDING") for step in steps.values()), describe(run.id)
    kinds = event_kinds(run)
    assert kinds[-1] == "RUN_FINISHED"
    assert run.events.get(kind="RUN_FINISHED").payload["failure_reason"] == run.failure_reason
    # The counts the run keeps from its end are those of its steps as the monitor left them.
    assert run.step_counts == count_steps(run.id) and run.step_counts["work"]["FAILURE"] == len(running_then)
    assert run.events.filter(kind="STEP_FAILURE", step_key="work[k0]").exists()
    wait_group_gone(pgid)  # the step processes were killed with the worker's group: no orphans

    assert check_runs() == []  # a second pass leaves the ended run alone
    assert Run.objects.get(id=run.id).failure_reason == run.failure_reason


def test_the_monitor_command_fails_a_killed_workers_run_within_10_seconds():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dagviz.server.settings", "DATABASE_URL": database_url_for_workers()}
    monitor = subprocess.Popen([sys.executable, "-m", "django", "monitor_runs"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        run = launch_run("streaming_fanout", LONG_STREAMING)
        wait_step(run.id, "work[k0]", "RUNNING")
        pid = Run.objects.get(id=run.id).worker_pid
        os.kill(pid, signal.SIGKILL)
        run = wait_until(lambda: Run.objects.filter(id=run.id, status=RunStatus.FAILURE).first(), 10,
                         "the monitor command to fail the run", run.id)
        assert f"pid {pid}" in run.failure_reason
        assert steps_of(run)["work[k0]"].status == "FAILURE"
        wait_group_gone(pid)
    finally:
        monitor.terminate()
        output, _ = monitor.communicate(timeout=10)
    assert f"Ended run {run.id}" in output, output


def test_wait_for_run_does_not_hang_on_a_dead_worker():
    from runs.management.commands._base import wait_for_run

    run = launch_run("streaming_fanout", LONG_STREAMING)
    wait_step(run.id, "work[k0]", "RUNNING")
    pid = Run.objects.get(id=run.id).worker_pid
    os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    finished = wait_for_run(run.id)
    assert finished.status == RunStatus.FAILURE and time.monotonic() - started < 10
    wait_group_gone(pid)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _orphan(status: str, **fields) -> Run:
    fields.setdefault("worker_host", socket.gethostname())
    return Run.objects.create(job_name="letters", status=status, output_store="memory://", started_at=now(), **fields)


def test_a_restarted_monitor_fixes_runs_left_behind_by_dead_workers():
    """After a restart of everything: runs still marked active whose workers are gone get ended."""
    started = _orphan(RunStatus.STARTED, worker_pid=_dead_pid())
    starting = _orphan(RunStatus.STARTING, worker_pid=_dead_pid())
    canceling = _orphan(RunStatus.CANCELING, worker_pid=_dead_pid(), canceling_since=now())
    # Claimed long ago but no worker ever recorded a pid.
    never_started = _orphan(RunStatus.STARTING)
    Run.objects.filter(id=never_started.id).update(created_at=now() - timedelta(minutes=10))
    # A worker on another host is judged by its heartbeat.
    remote_stale = _orphan(RunStatus.STARTED, worker_pid=1, worker_host="elsewhere.example",
                           heartbeat_at=now() - timedelta(minutes=5))
    remote_alive = _orphan(RunStatus.STARTED, worker_pid=1, worker_host="elsewhere.example", heartbeat_at=now())
    fresh = _orphan(RunStatus.STARTING)  # just claimed: its worker may still be booting

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dagviz.server.settings", "DATABASE_URL": database_url_for_workers()}
    result = subprocess.run([sys.executable, "-m", "django", "monitor_runs", "--once"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    expected = {started.id: RunStatus.FAILURE, starting.id: RunStatus.FAILURE, canceling.id: RunStatus.CANCELED,
                never_started.id: RunStatus.FAILURE,
                remote_stale.id: RunStatus.FAILURE, remote_alive.id: RunStatus.STARTED, fresh.id: RunStatus.STARTING}
    after = {run.id: run for run in Run.objects.filter(id__in=expected)}
    assert {run_id: after[run_id].status for run_id in expected} == expected
    for run_id, status in expected.items():
        if status in (RunStatus.FAILURE, RunStatus.CANCELED):
            assert after[run_id].failure_reason and after[run_id].ended_at is not None, after[run_id]
            assert str(run_id) in result.stdout
    assert "heartbeat" in after[remote_stale.id].failure_reason
    assert "did not start" in after[never_started.id].failure_reason
    Run.objects.filter(id__in=[remote_alive.id, fresh.id]).delete()  # nothing runs them


def test_a_reused_pid_counts_as_a_dead_worker_and_its_new_owner_is_left_alone():
    """The pid recorded for the worker now belongs to an unrelated process (here a group leader, as a shell is)."""
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        run = _orphan(RunStatus.STARTED, worker_pid=bystander.pid)
        assert check_runs() == [str(run.id)]
        run = Run.objects.get(id=run.id)
        assert run.status == RunStatus.FAILURE
        assert run.failure_reason.startswith(f"The run worker (pid {bystander.pid}) died"), run.failure_reason
        time.sleep(0.2)  # give a stray signal time to land before looking
        assert bystander.poll() is None, (
            f"the monitor killed pid {bystander.pid}, which was not the run's worker (exit {bystander.returncode})")
    finally:
        bystander.kill()
        bystander.wait()


def test_a_worker_that_ignores_a_cancel_request_is_killed_after_the_grace_period(control):
    control.set(block=["shout[a]"])
    run = launch_run("letters")
    wait_step(run.id, "shout[a]", "RUNNING")
    pgid = Run.objects.get(id=run.id).worker_pid
    # CANCELING long ago, and the worker was never signalled: as if it ignored the request.
    assert move_run(run.id, RunStatus.CANCELING, canceling_since=now() - timedelta(minutes=1))
    ended = check_runs()
    assert ended == [str(run.id)]
    run = Run.objects.get(id=run.id)
    assert run.status == RunStatus.CANCELED
    assert "did not stop" in run.failure_reason
    assert steps_of(run)["shout[a]"].status == "CANCELED"  # stopped by the cancel, not failed
    assert run.events.filter(kind="STEP_CANCELED", step_key="shout[a]").exists()
    wait_group_gone(pgid)
