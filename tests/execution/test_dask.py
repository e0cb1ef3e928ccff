"""The dask executor: a LocalCluster it starts itself, and a real `dask scheduler` with two `dask worker`s.

Same outputs as in process, live events (streaming, logs), lost workers (retried as an
attempt or failed as WorkerLost, never a hang) and terminate. Every run has a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.execution.deadline import within

import dagviz
from dagviz import DagvizError, StepStatus, job, op
from dagviz.config.run_config import ExecutorChoice
from dagviz.examples import flaky_fanout, nested_fanout, process_directory
from dagviz.execution.executors import make_executor
from dagviz.workspace import JobPointer
from tests.execution import jobs_for_workers as jobs
from tests.servers import free_port

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[2]
RUN_DEADLINE = 60.0  # seconds; a run that takes longer has hung
LOCAL = {"execution": {"dask": {"n_workers": 2, "threads_per_worker": 1}}}

pytestmark = pytest.mark.timeout(120)


def _run(job_def, tmp_path, run_config=None, address=None, **kwargs):  # type: ignore[no-untyped-def]
    execution = {"dask": {"address": address}} if address else LOCAL["execution"]
    config = {**(run_config or {}), "execution": execution}
    return within(RUN_DEADLINE, lambda: dagviz.execute_job(
        job_def, config, output_store=f"file://{tmp_path}/store", **kwargs))


def _same_outcome(expected, result, job_def) -> None:  # type: ignore[no-untyped-def]
    assert result.success == expected.success
    assert {key: step.status for key, step in result.steps.items()} == \
        {key: step.status for key, step in expected.steps.items()}
    for node in job_def.nodes:
        try:
            wanted = expected.output_for_node(node)
        except DagvizError:
            continue
        assert result.output_for_node(node) == wanted, node


# -- without a cluster ---------------------------------------------------------------------------


def test_dask_is_refused_with_the_install_hint_when_distributed_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(DagvizError, match=r"needs the dask extra: pip install 'dagviz\[dask\]'"):
        make_executor(ExecutorChoice("dask", {}))


def test_run_config_builds_the_executor_with_its_settings():
    executor = make_executor(ExecutorChoice("dask", {"address": "tcp://10.0.0.1:8786", "n_workers": 3}))
    assert (executor.name, executor.address, executor.n_workers, executor.threads_per_worker) == \
        ("dask", "tcp://10.0.0.1:8786", 3, 1)


def test_without_an_address_dasks_own_scheduler_address_setting_is_used():
    import dask

    with dask.config.set({"scheduler-address": "tcp://10.0.0.2:8786"}):  # what DASK_SCHEDULER_ADDRESS sets
        assert make_executor(ExecutorChoice("dask", {})).address == "tcp://10.0.0.2:8786"
    assert make_executor(ExecutorChoice("dask", {})).address is None  # a LocalCluster


def test_a_job_workers_cannot_import_or_an_in_memory_store_is_refused_before_any_cluster_starts(tmp_path):
    @op
    def local_op():
        return 1

    @job
    def local_job():
        local_op()

    with pytest.raises(DagvizError, match="top level of a module"):
        dagviz.execute_job(local_job, LOCAL, output_store=f"file://{tmp_path}")
    with pytest.raises(DagvizError, match="output store shared by its worker processes"):
        dagviz.execute_job(jobs.completion_order, LOCAL, output_store="memory://")


# -- a LocalCluster started by the executor ------------------------------------------------------


@pytest.mark.parametrize("job_def, run_config", [
    (process_directory, None),
    (nested_fanout, None),
    (flaky_fanout, {"ops": {"emit_keys": {"config": {"n": 6}}, "flaky_work": {"config": {"sleep_ms": 10}}}}),
], ids=["process_directory", "nested_fanout", "flaky_fanout"])
def test_example_jobs_give_the_same_outputs_as_in_process(tmp_path, job_def, run_config):
    expected = job_def.execute_in_process(run_config, raise_on_error=False)
    result = _run(job_def, tmp_path, run_config)
    assert result.events[0].executor == "dask"
    _same_outcome(expected, result, job_def)
    if job_def is flaky_fanout:  # k3 fails on purpose, in every executor
        (failure,) = [event for event in result.events if event.kind == "STEP_FAILURE"]
        assert (failure.step_key, failure.error.class_name) == ("flaky_work[k3]", "Failure")
    assert any((tmp_path / "store").rglob("*.seg"))  # values went through the store (small ones: segments)


def test_local_workers_are_forked_from_the_forkserver_and_see_the_environment_of_each_run(tmp_path, monkeypatch):
    import multiprocessing.forkserver

    config = {"ops": {"worker_view": {"config": {"variable": "DAGVIZ_TEST_SETTING"}}}}
    views = []
    for value in ("first", "second"):  # set after the forkserver started: it must still reach the workers
        monkeypatch.setenv("DAGVIZ_TEST_SETTING", value)
        result = _run(jobs.worker_environment, tmp_path / value, config)
        assert result.success, result.failure_reason
        views.append(result.output_for_node("worker_view"))
    assert [view["value"] for view in views] == ["first", "second"]
    forkserver_pid = multiprocessing.forkserver._forkserver._forkserver_pid
    assert forkserver_pid is not None
    assert {view["parent"] for view in views} == {forkserver_pid}  # not spawned by this process
    assert views[0]["pid"] != views[1]["pid"]  # each run has its own cluster


def test_mapped_steps_start_while_the_emitter_still_runs_and_logs_arrive_live(tmp_path):
    result = _run(jobs.trickle_job, tmp_path)
    assert result.success
    assert result.output_for_node("total") == 30
    arrival = [(event.kind, event.step_key, getattr(event, "text", getattr(event, "mapping_key", None)))
               for event in result.events]
    first_log = arrival.index(("LOG", "trickle", "yielding k0"))
    first_key = arrival.index(("DYNAMIC_OUTPUT", "trickle", "k0"))
    mapped_started = arrival.index(("STEP_STARTED", "quick[k0]", None))
    mapped_done = arrival.index(("STEP_SUCCESS", "quick[k0]", None))
    last_log = arrival.index(("LOG", "trickle", "done yielding"))
    emitter_done = arrival.index(("STEP_SUCCESS", "trickle", None))
    assert first_log < first_key < mapped_started < mapped_done < last_log < emitter_done
    logs = [text for kind, key, text in arrival if kind == "LOG" and key.startswith("quick[")]
    assert sorted(logs) == ["quick k0", "quick k1", "quick k2"]
    # The first key's step started about when it was yielded, long before the emitter ended.
    by_kind = {(event.kind, event.step_key): event.timestamp for event in result.events}
    assert by_kind[("STEP_STARTED", "quick[k0]")] < by_kind[("STEP_SUCCESS", "trickle")] - 0.4


def test_a_raising_key_fails_alone_with_its_traceback(tmp_path):
    result = _run(jobs.one_key_fails, tmp_path)
    assert not result.success
    assert result.steps["fail_on_k2[k1]"].status == StepStatus.SUCCESS
    assert result.steps["gather"].status == StepStatus.SKIPPED
    (failure,) = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert (failure.step_key, failure.error.class_name, failure.error.message) == \
        ("fail_on_k2[k2]", "ValueError", "boom k2")
    assert "raise_for_k2" in failure.error.stack


def test_a_killed_local_worker_is_a_failed_attempt_retried_by_the_retry_policy(tmp_path):
    marker = tmp_path / "killed_once"
    config = {"ops": {"die_once_retried": {"config": {"marker": str(marker)}}}}
    result = _run(jobs.worker_killed_retried, tmp_path, config)
    assert marker.exists()  # the op really killed its worker process
    assert int(marker.read_text()) != os.getpid()
    assert result.success, result.failure_reason
    assert result.output_for_node("gather") == ["k1", "k2", "k3"]
    assert result.steps["die_once_retried[k2]"].attempts == 2
    (retry,) = [event for event in result.events if event.kind == "STEP_UP_FOR_RETRY"]
    assert (retry.step_key, retry.error.class_name) == ("die_once_retried[k2]", "WorkerLost")
    assert "died while running this step" in retry.error.message


def test_quick_steps_travel_several_to_a_dask_task_and_keep_their_order(tmp_path):
    result = _run(jobs.quick_keys, tmp_path, {"ops": {"many_keys": {"config": {"n": 300}}}})
    assert result.success, result.failure_reason
    outputs = result.output_for_node("gather")
    assert [output["value"] for output in outputs] == list(range(300))  # yield order, whatever the tasks
    tasks = {output["task"] for output in outputs}
    assert len(tasks) <= 300 // 2  # steps of a few hundredths of a millisecond go several to a task
    assert {step.attempts for step in result.steps.values()} == {1}


def test_a_worker_killed_in_a_task_of_several_steps_fails_only_the_running_one(tmp_path, monkeypatch):
    from dagviz.execution.executors.dask import DaskExecutor

    monkeypatch.setattr(DaskExecutor, "steps_per_task", lambda self: 8)
    resubmitted: list[str] = []
    submit = DaskExecutor.submit

    def noting_resubmits(self, task, resubmits=0):  # type: ignore[no-untyped-def]
        if resubmits:
            resubmitted.append(task.step_key)
        submit(self, task, resubmits)

    monkeypatch.setattr(DaskExecutor, "submit", noting_resubmits)
    marker = tmp_path / "killed"
    # Steps slower than the emitter: the keys wait in numbers, and go eight to a task.
    config = {"ops": {"many_keys": {"config": {"n": 200}},
                      "in_which_task": {"config": {"marker": str(marker), "sleep_ms": 10}}}}
    result = _run(jobs.quick_keys, tmp_path, config)
    assert result.success, result.failure_reason
    killed_task, killed_key = marker.read_text().split()
    killed_step = f"in_which_task[{killed_key}]"
    # The step running when its worker died is a failed attempt, retried by its policy ...
    (retry,) = [event for event in result.events if event.kind == "STEP_UP_FOR_RETRY"]
    assert (retry.step_key, retry.error.class_name) == (killed_step, "WorkerLost")
    assert result.steps[killed_step].attempts == 2
    # ... the one before it in the same task had ended: its output stands ...
    outputs = result.output_for_node("gather")
    assert [output["value"] for output in outputs] == list(range(200))
    assert len([output for output in outputs if output["task"] == killed_task]) == 1
    # ... and the ones after it never started: sent again, not counted as attempts.
    assert resubmitted and killed_step not in resubmitted
    assert all(result.steps[key].attempts == 1 for key in resubmitted)
    assert all(output["task"] != killed_task for output in outputs
               if f"in_which_task[k{output['value']}]" in resubmitted)
    assert {step.attempts for key, step in result.steps.items() if key != killed_step} == {1}


# -- a real `dask scheduler` and two `dask worker` processes --------------------------------------


class _DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (one thread each, with nannies)."""

    def __init__(self, logs: Path, n_workers: int) -> None:
        self.logs = logs
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}  # the workspace (tests.execution...) is importable
        self.processes: list[subprocess.Popen] = []
        self.scheduler = self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                                   "--port", self.address.rsplit(":", 1)[1], "--no-dashboard"])
        for index in range(n_workers):
            self._start(f"worker{index}", ["distributed.cli.dask_worker", self.address, "--host", "127.0.0.1",
                                           "--nthreads", "1", "--no-dashboard",
                                           "--local-directory", str(logs / f"worker{index}")])
        with distributed.Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=60)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the workers, then the scheduler (workers close faster while it is there); SIGKILL stragglers."""
        workers = [process for process in self.processes if process is not self.scheduler]
        for group in (workers, [self.scheduler]):
            for process in group:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for process in group:
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """A scheduler and two workers shared by the tests below, killed at the end."""
    cluster = None
    try:
        cluster = _DaskCluster(tmp_path_factory.mktemp("dask-cluster"), n_workers=2)
        yield cluster.address
    finally:
        if cluster is not None:
            cluster.stop()
        for process in (cluster.processes if cluster else []):
            assert process.poll() is not None


def test_a_job_succeeds_on_a_real_scheduler_with_two_workers(tmp_path, scheduler_address):
    expected = jobs.letters_and_regions.execute_in_process()
    result = _run(jobs.letters_and_regions, tmp_path, address=scheduler_address)
    assert result.success, result.failure_reason
    for node in ("join_letters", "shout", "score", "region_total", "overall", "customers"):
        assert result.output_for_node(node) == expected.output_for_node(node), node
    logs = {event.step_key: event.text for event in result.events if event.kind == "LOG"}
    pids = {int(text.split("pid=")[1]) for text in logs.values()}
    assert os.getpid() not in pids  # steps ran in the dask worker processes


def test_a_scheduler_that_re_runs_tasks_itself_gets_one_step_a_task(tmp_path, scheduler_address):
    # Its allowed-failures is Dask's default (3): several steps to a task, it would run ended ones again.
    result = _run(jobs.quick_keys, tmp_path, {"ops": {"many_keys": {"config": {"n": 60}}}}, address=scheduler_address)
    assert result.success, result.failure_reason
    outputs = result.output_for_node("gather")
    assert [output["value"] for output in outputs] == list(range(60))
    assert len({output["task"] for output in outputs}) == 60


def test_workers_that_cannot_import_the_job_fail_the_run_before_any_step(tmp_path, scheduler_address):
    pointer = JobPointer("letters_and_regions", module="tests.execution.no_such_module")
    with pytest.raises(DagvizError, match=r"could not load job 'letters_and_regions'.*no_such_module"):
        within(RUN_DEADLINE, lambda: dagviz.execute_job(
            jobs.letters_and_regions, {"execution": {"dask": {"address": scheduler_address}}},
            output_store=f"file://{tmp_path}/store", pointer=pointer))


def test_a_killed_dask_worker_ends_in_a_retry_or_a_clear_worker_lost_failure(tmp_path, scheduler_address):
    # The scheduler keeps its default allowed-failures (it re-runs a task whose worker died):
    # dagviz notices the second start and reports the first as lost.
    marker = tmp_path / "killed_once"
    config = {"ops": {"die_once_retried": {"config": {"marker": str(marker)}}}}
    result = _run(jobs.worker_killed_retried, tmp_path, config, address=scheduler_address)
    assert marker.exists()
    assert result.success, result.failure_reason
    assert result.output_for_node("gather") == ["k1", "k2", "k3"]
    assert result.steps["die_once_retried[k2]"].attempts == 2
    (retry,) = [event for event in result.events if event.kind == "STEP_UP_FOR_RETRY"]
    assert retry.error.class_name == "WorkerLost"

    marker = tmp_path / "killed_again"
    result = _run(jobs.worker_killed, tmp_path, {"ops": {"die_once": {"config": {"marker": str(marker)}}}},
                  address=scheduler_address)
    assert marker.exists()
    assert not result.success
    # The killed worker may have been running another key beside k2 (two threads): that one is lost too.
    failures = {event.step_key: event for event in result.events if event.kind == "STEP_FAILURE"}
    assert "die_once[k2]" in failures and set(failures) <= {"die_once[k1]", "die_once[k2]", "die_once[k3]"}
    for failure in failures.values():
        assert failure.error.class_name == "WorkerLost"
        assert "tcp://127.0.0.1:" in failure.error.message  # names the worker
    for key in {"die_once[k1]", "die_once[k3]"} - set(failures):
        assert result.steps[key].status == StepStatus.SUCCESS
    assert result.steps["gather"].status == StepStatus.SKIPPED


def test_terminate_cancels_the_futures_and_the_run_ends_canceled(tmp_path, scheduler_address):
    marker_dir = tmp_path / "yielded"
    marker_dir.mkdir()
    cancel = lambda: len(os.listdir(marker_dir)) >= 5  # noqa: E731  (mapped steps are running by then)
    began = time.monotonic()
    config = {"ops": {"keep_yielding": {"config": {"marker_dir": str(marker_dir)}}}}
    result = _run(jobs.keeps_yielding, tmp_path, config, address=scheduler_address, cancel_requested=cancel)
    assert time.monotonic() - began < 20
    assert result.canceled and not result.success
    assert result.steps["gather"].status == StepStatus.SKIPPED
    canceled = [event for event in result.events if event.kind == "STEP_CANCELED"]
    assert canceled and not [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert {result.steps[event.step_key].status for event in canceled} == {StepStatus.CANCELED}
    # The emitter stopped at its next yield on the worker, and the scheduler forgot every task.
    time.sleep(0.5)
    yielded = len(os.listdir(marker_dir))
    time.sleep(0.5)
    assert len(os.listdir(marker_dir)) == yielded < 400
    with distributed.Client(scheduler_address, timeout=30, set_as_default=False) as client:
        deadline = time.monotonic() + 10
        while client.run_on_scheduler(_task_count) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.run_on_scheduler(_task_count) == 0


def _task_count(dask_scheduler=None) -> int:  # type: ignore[no-untyped-def]
    return len(dask_scheduler.tasks)


def test_a_lost_scheduler_fails_the_run_quickly_and_clearly(tmp_path, monkeypatch):
    from dagviz.execution.executors import dask as dask_executor

    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", 3.0)  # how long the client tries to reconnect
    cluster = _DaskCluster(tmp_path, n_workers=1)
    try:
        marker_dir = tmp_path / "yielded"
        marker_dir.mkdir()

        def kill_the_scheduler() -> None:
            while len(os.listdir(marker_dir)) < 3:
                time.sleep(0.05)
            os.killpg(cluster.scheduler.pid, signal.SIGKILL)

        threading.Thread(target=kill_the_scheduler, daemon=True).start()
        began = time.monotonic()
        try:
            config = {"ops": {"keep_yielding": {"config": {"marker_dir": str(marker_dir)}}}}
            result = _run(jobs.keeps_yielding, tmp_path, config, address=cluster.address)
        except DagvizError as error:  # steps were waiting to be sent when the client gave up reconnecting
            assert f"Lost the connection to the Dask scheduler ({cluster.address})" in str(error)
        else:  # every step in flight was lost with the scheduler, and nothing else was left to run
            assert not result.success
            failures = [event for event in result.events if event.kind == "STEP_FAILURE"]
            assert failures and {event.error.class_name for event in failures} == {"WorkerLost"}
            assert f"connection to the Dask scheduler ({cluster.address}) was lost" in failures[0].error.message
        assert time.monotonic() - began < 15
    finally:
        cluster.stop(grace=2.0)
