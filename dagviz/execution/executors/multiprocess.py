"""Run steps in long-lived worker processes (one interpreter per worker, reused for every step).

Each worker loads the job once from its pointer and then runs the tasks it is sent. It
talks to the coordinator over its own pipe, so a worker that dies (kill -9, out of
memory) only closes its pipe: its steps are reported as failed, naming the worker, and a
new worker takes its place. Events produced while a step runs (logs, dynamic outputs) are
sent at once; the rest of a step's events go in one message when it ends. A worker sets up
a resource when one of its steps first needs it and tears it down when it is stopped at the
end of the run.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from dagviz.errors import DagvizError
from dagviz.execution.events import DynamicOutputYielded, ErrorInfo, Event, LogMessage, StepFailed, StepStarted
from dagviz.execution.executors.base import check_job_can_leave_this_process
from dagviz.execution.run_resources import close_run_resources
from dagviz.execution.step_runner import StepTask, error_info, run_step

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore
    from dagviz.workspace import JobPointer

PREFETCH_PER_WORKER = 2  # tasks queued at a worker, so it never waits for the coordinator between steps
WORKER_START_TIMEOUT = 120.0  # seconds for a worker to import the job


class WorkerStartError(DagvizError):
    """A worker process could not load the job."""


def _worker_main(connection: Connection, pointer: "JobPointer", store_url: str) -> None:
    """Entry point of a worker process: load the job once, then run tasks until told to stop."""
    from dagviz.storage.output_store import open_output_store

    try:
        job = pointer.load()
        store = open_output_store(store_url)
    except BaseException as error:  # report any import failure to the coordinator instead of dying silently
        connection.send(("fatal", error_info(error)))
        return
    send_lock = threading.Lock()

    def send_now(events: list[Event]) -> None:
        with send_lock:
            connection.send(("events", events))

    def log(event: LogMessage) -> None:
        send_now([event])

    connection.send(("ready", os.getpid()))
    served: set[str] = set()  # runs whose resources this process may have set up
    try:
        while True:
            task = connection.recv()
            if task is None:
                return
            served.add(task.run_id)
            batch: list[Event] = []
            for event in run_step(task, job.nodes[task.node], store, log, job.resource_defs):
                if isinstance(event, (StepStarted, DynamicOutputYielded)):
                    send_now(batch + [event])
                    batch = []
                else:
                    batch.append(event)
            send_now(batch)
    finally:
        for run_id in served:  # the run's work here is over: tear down what its steps set up
            close_run_resources(run_id)


class _Worker:
    def __init__(self, context: Any, pointer: "JobPointer", store_url: str) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, pointer, store_url), daemon=True)
        self.process.start()
        child.close()
        self.tasks: dict[str, StepTask] = {}  # step key -> task sent and not yet finished

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass


class MultiprocessExecutor:
    """Up to ``max_concurrent`` steps at once, each in a worker process."""

    name = "multiprocess"

    def __init__(self, max_concurrent: int | None = None, start_method: str = "spawn") -> None:
        self.max_concurrent = max_concurrent or os.cpu_count() or 1
        self._context = multiprocessing.get_context(start_method)
        self._workers: list[_Worker] = []

    def start(self, job: "JobDefinition", pointer: "JobPointer | None", store: "OutputStore") -> None:
        check_job_can_leave_this_process(self.name, job, pointer, store)
        self._pointer = pointer
        self._store_url = store.url
        self._workers = [_Worker(self._context, pointer, store.url) for _ in range(self.max_concurrent)]
        self._wait_until_ready(self._workers)

    def _wait_until_ready(self, workers: list[_Worker]) -> None:
        """Block until every worker has loaded the job, so the first steps start at once on any of them.

        A worker that cannot load the job fails the run here, before any step starts.
        """
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        waiting = {worker.connection: worker for worker in workers}
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerStartError(f"{len(waiting)} worker processes did not start within {WORKER_START_TIMEOUT} s.")
            for connection in wait(list(waiting), remaining):
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    worker = waiting[connection]
                    worker.process.join(timeout=5)
                    raise WorkerStartError(
                        f"Worker process {worker.process.pid} exited while starting (exit code {worker.process.exitcode})."
                    ) from None
                self._receive(waiting[connection], message)
                if message[0] == "ready":
                    del waiting[connection]

    def free_slots(self) -> int:
        return sum(PREFETCH_PER_WORKER - len(worker.tasks) for worker in self._workers)

    def submit(self, task: StepTask) -> None:
        worker = min(self._workers, key=lambda candidate: len(candidate.tasks))
        worker.tasks[task.step_key] = task
        try:
            worker.connection.send(task)
        except OSError:
            pass  # the worker died; next_events reports its tasks as failed

    def next_events(self, timeout: float | None) -> list[Event]:
        events: list[Event] = []
        by_connection = {worker.connection: worker for worker in self._workers}
        for connection in wait(list(by_connection), timeout):
            worker = by_connection[connection]
            while True:
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    events.extend(self._replace_dead(worker))
                    break
                events.extend(self._receive(worker, message))
                if not connection.poll():
                    break
        return events

    def _receive(self, worker: _Worker, message: tuple[str, Any]) -> list[Event]:
        kind, payload = message
        if kind == "events":
            for event in payload:
                if event.kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                    worker.tasks.pop(event.step_key, None)
            return payload
        if kind == "fatal":
            raise WorkerStartError(f"A worker process could not load the job: {payload.message}\n{payload.stack}")
        return []  # "ready"

    def _replace_dead(self, worker: _Worker) -> list[Event]:
        worker.process.join(timeout=5)
        reason = f"worker process {worker.process.pid} died (exit code {worker.process.exitcode})"
        self._workers.remove(worker)
        lost = list(worker.tasks.values())
        self._workers.append(_Worker(self._context, self._pointer, self._store_url))
        # Only the task it was running failed; tasks still queued at it were never started.
        started = [task for task in lost[:1]]
        queued = lost[1:]
        for task in queued:
            self.submit(task)
        return [
            StepFailed(task.step_key, attempt=task.attempt, op_name=task.node,
                       error=ErrorInfo("WorkerLost", reason, ""))
            for task in started
        ]

    def terminate(self) -> None:
        for worker in self._workers:
            worker.process.kill()
        for worker in self._workers:
            worker.process.join(timeout=5)
        self._workers = []

    def shutdown(self) -> None:
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
        self._workers = []
