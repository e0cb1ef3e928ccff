"""Helpers shared by the persistent-runs tests: waiting on runs, reading what they left, process groups."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Iterable

import psutil

from dagviz.step_keys import parse_step_key
from dagviz.storage.output_store import open_output_store
from runs.models import FINISHED_STATUSES, Run, Step
from runs.services.launch import worker_log_path

WORKSPACE = ["dagviz.examples", "tests.runs.jobs"]


def worker_log(run_id: Any) -> str:
    path = worker_log_path(str(run_id))
    return path.read_text(errors="replace") if path.exists() else "(no worker log)"


def describe(run_id: Any) -> str:
    """The run, its steps and its worker's log, for assertion messages."""
    run = Run.objects.filter(id=run_id).first()
    if run is None:
        return f"run {run_id} does not exist"
    steps = "\n".join(f"  {s.key}: {s.status} attempts={s.attempts} error={s.error and s.error['message']}"
                      for s in run.steps.order_by("order"))
    return (f"run {run.id} of {run.job_name}: {run.status} reason={run.failure_reason!r} pid={run.worker_pid}\n"
            f"{steps}\n--- worker log ---\n{worker_log(run.id)}")


def wait_until(condition, timeout: float, what: str, run_id: Any = None, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy; fail with the run's story after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            story = describe(run_id) if run_id is not None else ""
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}\n{story}")
        time.sleep(interval)


def wait_finished(run_id: Any, timeout: float = 30.0) -> Run:
    """Wait for the run to reach a final status by polling the database only (no monitor involved)."""
    return wait_until(lambda: Run.objects.filter(id=run_id, status__in=FINISHED_STATUSES).first(), timeout,
                      f"run {run_id} to finish", run_id)


def wait_status(run_id: Any, status: str, timeout: float = 30.0) -> Run:
    return wait_until(lambda: Run.objects.filter(id=run_id, status=status).first(), timeout,
                      f"run {run_id} to be {status}", run_id)


def wait_step(run_id: Any, key: str, status: str, timeout: float = 30.0) -> Step:
    return wait_until(lambda: Step.objects.filter(run_id=run_id, key=key, status=status).first(), timeout,
                      f"step {key} of run {run_id} to be {status}", run_id)


def assert_finished_as(run_id: Any, status: str, timeout: float = 30.0) -> Run:
    run = wait_finished(run_id, timeout)
    assert run.status == status, describe(run_id)
    return run


def steps_of(run: Run | Any) -> dict[str, Step]:
    run_id = run.id if isinstance(run, Run) else run
    return {step.key: step for step in Step.objects.filter(run_id=run_id)}


def statuses(run: Run | Any) -> dict[str, str]:
    return {key: step.status for key, step in steps_of(run).items()}


def attempts(run: Run | Any) -> dict[str, int]:
    return {key: step.attempts for key, step in steps_of(run).items()}


def output_of(run: Run, step_key: str, output: str = "result") -> Any:
    step = Step.objects.get(run=run, key=step_key)
    assert output in step.outputs, f"{step_key} has no output {output!r}: {step.outputs}\n{describe(run.id)}"
    return open_output_store(run.output_store).get(step.outputs[output])


def event_kinds(run: Run, step_key: str | None = None) -> list[str]:
    events = run.events.order_by("id")
    if step_key is not None:
        events = events.filter(step_key=step_key)
    return list(events.values_list("kind", flat=True))


def assert_preview_matches(plan, child: Run) -> None:
    """The preview's lists are what the launched run executed and reused.

    A preview lists ``op[?]`` for keys an emitter that runs again has not yielded yet; every
    executed step that is not named in the preview must be covered by such a pattern.
    """
    assert len(plan.to_execute) == len(set(plan.to_execute)), plan.to_execute
    assert len(plan.reused) == len(set(plan.reused)), plan.reused
    rows = steps_of(child)
    reused = {key for key, step in rows.items() if step.status == "REUSED"}
    executed = {key for key, step in rows.items() if step.status != "REUSED"}
    assert set(plan.reused) == reused, describe(child.id)
    patterns = [parse_step_key(key) for key in plan.to_execute if "?" in key]
    concrete = {key for key in plan.to_execute if "?" not in key}
    assert concrete <= executed, (concrete - executed, describe(child.id))
    for key in executed - concrete:
        assert any(p.matches(parse_step_key(key)) for p in patterns), (key, plan.to_execute)
    for pattern in patterns:
        assert any(pattern.matches(parse_step_key(key)) for key in executed - concrete), (pattern, executed)


# -- process groups ---------------------------------------------------------------------------------


def live_group_members(pgid: int) -> list[int]:
    """Processes of the group that are still running (zombies have stopped running and only await reaping)."""
    members = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return members


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is a child of this process that has exited."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
    def gone() -> bool:
        reap(pgid)
        return not live_group_members(pgid)

    deadline = time.monotonic() + timeout
    while not gone():
        if time.monotonic() > deadline:
            members = [(pid, " ".join(psutil.Process(pid).cmdline())) for pid in live_group_members(pgid)]
            raise AssertionError(f"processes left in the worker's group {pgid}: {members}")
        time.sleep(0.05)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# -- the control directory read by tests.runs.jobs.checkpoint -------------------------------------------


class Control:
    """Tells the test jobs which steps fail or block, and reads back which steps ran."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.set()

    def set(self, fail: Iterable[str] = (), block: Iterable[str] = ()) -> None:
        temporary = self.directory / "control.json.tmp"
        temporary.write_text(json.dumps({"fail": list(fail), "block": list(block)}))
        os.replace(temporary, self.directory / "control.json")

    def records(self, run_id: Any = None) -> list[dict]:
        path = self.directory / "ran.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [row for row in rows if run_id is None or row["run_id"] == str(run_id)]

    def ran(self, run_id: Any) -> list[str]:
        """Step keys whose user code started in this run, in the order they started."""
        return [row["step_key"] for row in self.records(run_id)]

    def pids(self, run_id: Any) -> dict[str, int]:
        return {row["step_key"]: row["pid"] for row in self.records(run_id)}
