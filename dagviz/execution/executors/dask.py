"""Run steps on a Dask cluster: a LocalCluster of worker processes, or any scheduler by address.

Each Dask task runs :func:`run_steps_on_dask_worker`, a module-level function that loads the
job from its :class:`~dagviz.workspace.JobPointer` (once per worker process), opens the output
store from its URL and runs its steps, one after the other. A task is one step until steps have
been seen to end; then quick steps travel several to a task (``steps_per_task``), since a
task costs Dask about a millisecond whatever it runs, and a fan-out's keys often take far less.
Only small things travel through the scheduler: the tasks (step key, config, input refs) and
events (output refs, logs); values go through the output store, which every worker must share
(``file://`` on one machine or a shared filesystem, ``s3://...`` on a cluster). A worker
process sets up a resource when one of its steps first needs it; at the end of the run every
worker is asked (``Client.run``) to tear down what it set up for that run.

Events reach the coordinator on a Dask topic of the run (``Worker.log_event`` -> scheduler
-> ``Client.subscribe_topic`` here; measured: median 0.9 ms from a worker, 50,000 messages
a second, never blocking the step). A task publishes each step's start (with the previous
step's end), each dynamic output and each log line at once, and the last step's end in one
last message. The task's result holds the same last events, read only if that message is
missing. A ``distributed.Queue`` was measured too: 1.4 ms, but each put is a request the step
waits for (2,000 puts took 1.6 s), and a ``Variable`` keeps only its latest value.

A worker that dies while a step runs: the step comes back as a ``StepFailed`` whose error
is ``WorkerLost``; the coordinator's retry policy decides whether it runs again (a new
attempt, on any worker). Steps that had not started there (queued at that worker, or later
in the same task) are sent again without counting an attempt. Dask itself never re-runs a
task: tasks are submitted with ``retries=0``, a LocalCluster's scheduler gets
``allowed-failures: 0``, and a scheduler that still restarts a task after its worker died
(Dask's default) is noticed at the task's second start, which is stopped and reported as the
first one lost; on such a scheduler each task is one step, since it would run a task's
already ended steps again before that second start is seen.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import queue
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import dask
from distributed import Client, Future, LocalCluster, get_worker
from distributed.scheduler import KilledWorker

from dagviz.errors import DagvizError
from dagviz.execution import interrupts
from dagviz.execution.events import (
    DynamicOutputYielded, ErrorInfo, Event, LogMessage, StepFailed, StepStarted, StepSucceeded,
)
from dagviz.execution.executors.base import check_job_can_leave_this_process
from dagviz.execution.run_resources import close_run_resources
from dagviz.execution.step_runner import StepTask, error_info, run_step

if TYPE_CHECKING:
    from distributed import Worker

    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore
    from dagviz.workspace import JobPointer

logger = logging.getLogger(__name__)

PREFETCH_PER_THREAD = 16  # tasks submitted per worker thread: hides the scheduler's round trip between tasks
TASK_SECONDS = 0.05  # quick steps go several to a Dask task, about this much work to a task ...
MAX_STEPS_PER_TASK = 64  # ... and at most this many
STEP_SECONDS_WEIGHT = 0.2  # the weight of the latest step in the moving average of how long steps take
CONNECT_TIMEOUT = 30.0  # seconds to reach a scheduler given by address
WORKER_WAIT_TIMEOUT = 60.0  # seconds for the cluster to have a worker (all of a LocalCluster's)
SCHEDULER_LOST_TIMEOUT = 60.0  # seconds without a connection to the scheduler before the run fails
EVENTS_GRACE_SECONDS = 10.0  # a finished task whose last message has not come by then: read its result
SEND_DELAY_SECONDS = 0.005  # how long a submitted step may wait for others to go to the scheduler with it
SEND_BATCH = 64  # ... or until this many are waiting
FUTURES_CHECK_SECONDS = 0.1  # how often the futures in flight are looked at (lost workers)
UNSTARTED_RESUBMITS = 3  # a step lost before it started is submitted again, at most this many times
LATE_START_SECONDS = 0.3  # how long a task whose worker died waits for a start message still on its way
THREADS_REFRESH_SECONDS = 1.0
PUBLISH_TIMEOUT = 60.0  # seconds for a step to hand its first message to the scheduler
CLOSE_TIMEOUT = 10.0  # seconds to close the client and a LocalCluster at the end of a run
WORKER_STOP_SECONDS = 0.5  # after terminate, a LocalCluster's worker still running a step is killed after this


# A LocalCluster's scheduler: never re-run a step whose worker died (dagviz reports it and its retry
# policy decides), and send tasks to workers as soon as they are submitted (dagviz already limits how
# many are in flight), instead of queuing them on the scheduler until a worker thread is free.
LOCAL_SCHEDULER_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": float("inf"),
}


def local_cluster_config() -> dict[str, Any]:
    """Dask settings for a LocalCluster of the run's own: the scheduler's, and workers forked from a forkserver."""
    from dagviz.execution.executors.dask_forkserver import forkserver_available

    config: dict[str, Any] = dict(LOCAL_SCHEDULER_CONFIG)
    if forkserver_available():
        config["distributed.worker.multiprocessing-method"] = "forkserver"
    return config


class DaskExecutorError(DagvizError):
    """The Dask cluster could not be started, reached or used for this run."""


# -- on the Dask worker ----------------------------------------------------------------------------

_cache_lock = threading.Lock()
_jobs: dict["JobPointer", "JobDefinition"] = {}
_stores: dict[str, "OutputStore"] = {}


def _job_and_store(pointer: "JobPointer", store_url: str) -> tuple["JobDefinition", "OutputStore"]:
    """The job and the output store, loaded once per worker process and kept for later steps."""
    from dagviz.storage.output_store import open_output_store

    with _cache_lock:
        job = _jobs.get(pointer)
        if job is None:
            job = _jobs[pointer] = pointer.load()
        store = _stores.get(store_url)
        if store is None:
            store = _stores[store_url] = open_output_store(store_url)
    return job, store


def load_job_on_worker(pointer: "JobPointer", store_url: str) -> ErrorInfo | None:
    """Run on every worker when a run starts (``Client.run``): loads the job, or says why it cannot."""
    try:
        _job_and_store(pointer, store_url)
    except BaseException as error:  # any import failure is reported to the coordinator
        return error_info(error)
    return None


class _Channel:
    """Publishes one task's events on the run's topic, numbered, in the order they happen.

    A message with a step's start goes to the scheduler on a connection of its own, and the
    op runs only once it is written there: a worker that dies while the op runs (even on its
    first line) has told the scheduler that the step started, so the coordinator reports a
    failed attempt, not a step that never ran. Other messages go on
    the worker's batched stream without waiting, the last one (the step's end) ahead of
    Dask's own "task finished" on that same stream: whenever Dask knows the task ended, the
    scheduler has its end. The two paths can overtake each other; the coordinator puts
    messages back in order.
    """

    def __init__(self, worker: "Worker", topic: str, token: str) -> None:
        self.worker = worker
        self.topic = topic
        self.token = token
        self.run = os.urandom(6).hex()  # tells this execution of the task from one Dask may start again
        self.sent = 0
        self._lock = threading.Lock()  # an op may log from several threads

    def send(self, events: list[Event], last: bool = False, starts: bool = False) -> None:
        with self._lock:
            message = pickle.dumps((self.token, self.run, self.sent, last, self.worker.address, events),
                                   pickle.HIGHEST_PROTOCOL)
            if starts:
                # Written to the socket before this returns (no reply awaited: the scheduler may be busy).
                publish = self.worker.scheduler.log_event(topic=self.topic, msg=message, reply=False)
                asyncio.run_coroutine_threadsafe(publish, self.worker.loop.asyncio_loop).result(PUBLISH_TIMEOUT)
            else:
                self.worker.log_event(self.topic, message)  # from a task thread: queued on the batched stream
            self.sent += 1

    def log(self, event: LogMessage) -> None:
        self.send([event])


def _canceled(worker: "Worker", key: str) -> bool:
    state = worker.state.tasks.get(key)
    return state is None or state.state in ("cancelled", "released", "forgotten")


def run_steps_on_dask_worker(tasks: list[StepTask], token: str, *, pointer: "JobPointer", store_url: str,
                             topic: str) -> tuple[int, list[Event]]:
    """The Dask task (its key is ``token``) of one or more step attempts, run one after the other.

    Every event is published on the run's topic: each step's start (with the previous step's
    end), each dynamic output and each log line at once, the last step's end in one last
    message. The task's result repeats that last message's events, with the number of messages
    published, for a coordinator that missed it. A task canceled (run terminated) stops at its
    next dynamic output or before its next step; Dask cannot interrupt a thread, so code between
    yields runs on.
    """
    worker = get_worker()
    job, store = _job_and_store(pointer, store_url)
    channel = _Channel(worker, topic, token)
    batch: list[Event] = []
    for task in tasks:
        if channel.sent and _canceled(worker, token):
            return channel.sent, []
        events = run_step(task, job.nodes[task.node], store, channel.log, job.resource_defs)
        for event in events:
            if isinstance(event, (StepStarted, DynamicOutputYielded)):
                channel.send(batch + [event], starts=isinstance(event, StepStarted))
                batch = []
                if isinstance(event, DynamicOutputYielded) and _canceled(worker, token):
                    events.close()
                    return channel.sent, []
            else:
                batch.append(event)
    channel.send(batch, last=True)
    return channel.sent, batch


# -- in the coordinator ----------------------------------------------------------------------------


class _Attempt:
    """One Dask task: the step attempts it runs one after the other, its key and future, what it has published."""

    __slots__ = ("tasks", "resubmits", "key", "future", "run", "received", "started", "ended", "started_on",
                 "finished_at", "killed_at", "early", "early_since")

    def __init__(self, tasks: list[StepTask], resubmits: list[int], key: str) -> None:
        self.tasks = tasks
        self.resubmits = resubmits  # per step: how many times it was sent again, its worker lost before it started
        self.key = key
        self.future: Future | None = None  # None until sent to the scheduler
        self.run: str | None = None  # which execution of the task its messages come from
        self.received = 0  # messages received from the topic
        self.started = 0  # steps whose start has been received (they run in order) ...
        self.ended = 0  # ... and whose end has
        self.started_on: str | None = None  # the worker's address, once its first message arrived
        self.finished_at: float | None = None  # when the future was first seen finished
        self.killed_at: float | None = None  # when its worker was first seen dead (KilledWorker)
        self.early: dict[int, tuple[bool, str, list[Event]]] = {}  # messages that overtook an earlier one
        self.early_since = 0.0

    def unsettled_steps(self) -> int:
        return len(self.tasks) - self.ended


class DaskExecutor:
    """Steps as Dask tasks, several quick steps to a task; at most (cluster threads x ``PREFETCH_PER_THREAD``)
    tasks' worth of steps submitted at once."""

    name = "dask"

    def __init__(self, address: str | None = None, n_workers: int | None = None,
                 threads_per_worker: int | None = None) -> None:
        # No address in run config: Dask's own setting (DASK_SCHEDULER_ADDRESS), else a LocalCluster.
        self.address = address or dask.config.get("scheduler-address", None) or None
        self.n_workers = n_workers or 2
        self.threads_per_worker = threads_per_worker or 1
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None
        self._attempts: dict[str, _Attempt] = {}  # Dask key -> task sent and not settled
        self._unsent: list[tuple[StepTask, int]] = []  # submitted here (with its resubmits), not yet sent
        self._unsent_since = 0.0
        self._step_seconds: float | None = None  # how long a step takes, a moving average (None: none ended yet)
        self._one_step_per_task = False  # the scheduler re-runs a task whose worker died (see start)
        self._inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._key_prefix = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._threads = 0
        self._threads_checked = 0.0
        self._futures_checked = 0.0
        self._disconnected_since: float | None = None
        self._topic = ""
        self._terminated = False
        self._run_id: str | None = None  # known from the first step submitted

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, job: "JobDefinition", pointer: "JobPointer | None", store: "OutputStore") -> None:
        check_job_can_leave_this_process(self.name, job, pointer, store)
        self._pointer = pointer
        self._store_url = store.url
        self._topic = f"dagviz-events-{self._key_prefix}"
        self._client = self._connect()
        self._client.subscribe_topic(self._topic, self._on_topic_event)
        # Such a scheduler would run a task's earlier, already ended steps again before dagviz stops it.
        self._one_step_per_task = self._cluster is None and self._client.run_on_scheduler(_allowed_failures) > 0
        self._check_workers_load_the_job()
        self._refresh_threads(force=True)

    def _connect(self) -> Client:
        if self.address is None:
            # A scheduler in this process; Dask must never re-run a step whose worker died (we report it).
            with dask.config.set(local_cluster_config()):
                self._cluster = LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=self.threads_per_worker, processes=True,
                    host="127.0.0.1", dashboard_address=None, env=dict(os.environ),
                )
            client = Client(self._cluster, set_as_default=False)
            wanted = self.n_workers
        else:
            try:
                client = Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as error:
                raise DaskExecutorError(f"Could not connect to the Dask scheduler at {self.address}: {error}") from None
            wanted = 1
        try:
            client.wait_for_workers(wanted, timeout=WORKER_WAIT_TIMEOUT)
        except (TimeoutError, OSError):
            client.close()
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
            raise DaskExecutorError(
                f"No Dask worker joined {self._where()} within {WORKER_WAIT_TIMEOUT:g} s."
            ) from None
        return client

    def _check_workers_load_the_job(self) -> None:
        """Every current worker imports the job now: a run fails here, with the error, if they cannot."""
        assert self._client is not None
        results = self._client.run(load_job_on_worker, self._pointer, self._store_url)
        for address, error in results.items():
            if error is not None:
                raise DaskExecutorError(
                    f"Dask worker {address} could not load job '{self._pointer.job_name}' from "
                    f"{self._pointer.file or self._pointer.module} (the workspace must be importable on every "
                    f"worker): {error.class_name}: {error.message}\n{error.stack}"
                )

    def _refresh_threads(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._threads_checked < THREADS_REFRESH_SECONDS:
            return
        self._threads_checked = now
        assert self._client is not None
        if self._client.status != "running":
            return  # keep the last known count; asking now would wait for the reconnection
        try:
            self._threads = int(self._client.scheduler_info(n_workers=0).get("total_threads", 0))
        except (OSError, TimeoutError):
            pass  # keep the last known count; next_events notices a lost scheduler

    # -- submitting --------------------------------------------------------------------------------

    def steps_per_task(self) -> int:
        """How many steps go to one Dask task: enough for ``TASK_SECONDS`` of work at the steps' recent pace.

        A Dask task costs the scheduler and the worker about a millisecond whatever it runs, so
        quick steps (one per key of a big fan-out) travel several to a task; a step that takes
        ``TASK_SECONDS`` or more goes alone, and so does every step until one has ended, and every
        step on a scheduler that re-runs a task whose worker died (``allowed-failures`` above 0).
        """
        if self._step_seconds is None or self._one_step_per_task:
            return 1
        return max(1, min(MAX_STEPS_PER_TASK, int(TASK_SECONDS / max(self._step_seconds, 1e-6))))

    def free_slots(self) -> int:
        self._refresh_threads()
        unsettled = len(self._unsent) + sum(attempt.unsettled_steps() for attempt in self._attempts.values())
        return max(self._threads, 1) * PREFETCH_PER_THREAD * self.steps_per_task() - unsettled

    def submit(self, task: StepTask, resubmits: int = 0) -> None:
        self._run_id = task.run_id
        if not self._unsent:
            self._unsent_since = time.monotonic()
        self._unsent.append((task, resubmits))

    def _send_due(self, now: float) -> float | None:
        """Send the steps submitted here when due; returns how long until the next are due (None: none).

        Steps go to the scheduler in batches, one graph update each: the scheduler's cost is
        mostly per update. Submitted steps wait at most ``SEND_DELAY_SECONDS`` for others to
        join them, and not at all while fewer than two tasks per worker thread are in flight.
        """
        if not self._unsent:
            return None
        threads = max(self._threads, 1)
        waited = now - self._unsent_since
        enough = max(SEND_BATCH, self.steps_per_task() * threads)
        if len(self._attempts) >= 2 * threads and waited < SEND_DELAY_SECONDS and len(self._unsent) < enough:
            return SEND_DELAY_SECONDS - waited
        self._send()
        return None

    def _send(self) -> None:
        """Send the steps submitted since the last call to the scheduler, in one graph update.

        They are cut into tasks of ``steps_per_task()`` steps, fewer when there are not enough
        to give every worker thread a task.
        """
        if not self._unsent:
            return
        assert self._client is not None
        if self._client.status != "running":
            self._check_connection(time.monotonic())  # raises once the scheduler is given up for lost
        unsent, self._unsent = self._unsent, []
        size = min(self.steps_per_task(), -(-len(unsent) // max(self._threads, 1)))
        attempts = []
        for start in range(0, len(unsent), size):
            chunk = unsent[start:start + size]
            key = f"{chunk[0][0].node}-{self._key_prefix}-{next(self._numbers)}"
            attempt = _Attempt([task for task, _ in chunk], [resubmits for _, resubmits in chunk], key)
            self._attempts[key] = attempt
            attempts.append(attempt)
        keys = [attempt.key for attempt in attempts]
        futures = self._client.map(
            run_steps_on_dask_worker, [attempt.tasks for attempt in attempts], keys, key=keys, pure=False,
            retries=0, pointer=self._pointer, store_url=self._store_url, topic=self._topic,
        )
        for attempt, future in zip(attempts, futures):
            attempt.future = future

    # -- receiving ---------------------------------------------------------------------------------

    def _on_topic_event(self, event: tuple[float, Any]) -> None:
        self._inbox.put(event[1])  # runs in the client's event loop: hand over and return

    def next_events(self, timeout: float | None) -> list[Event]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            send_in = self._send_due(now)
            # Wake up now and then to look at the futures (lost workers) and the connection.
            wait = FUTURES_CHECK_SECONDS if self._attempts else 1.0
            if send_in is not None:
                wait = min(wait, send_in)
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            events = self._receive(wait)
            if events or interrupts.cancel_requested() or (deadline is not None and time.monotonic() >= deadline):
                return events

    def _receive(self, wait: float) -> list[Event]:
        messages: list[bytes] = []
        try:
            messages.append(self._inbox.get(timeout=wait) if wait > 0 else self._inbox.get_nowait())
            while True:
                messages.append(self._inbox.get_nowait())
        except queue.Empty:
            pass
        events: list[Event] = []
        for message in messages:
            events.extend(self._on_message(message))
        now = time.monotonic()
        if now - self._futures_checked >= FUTURES_CHECK_SECONDS:
            self._futures_checked = now
            events.extend(self._check_futures(now))
            self._check_connection(now)
        return events

    def _on_message(self, message: bytes) -> list[Event]:
        token, run, seq, last, worker_address, events = pickle.loads(message)
        attempt = self._attempts.get(token)
        if attempt is None:
            return []  # a task already settled (canceled, or reported lost) still running somewhere
        if attempt.run is None:
            attempt.run = run
        elif run != attempt.run:
            # Dask ran the task again after its worker died: report the first run lost, stop the second.
            return self._lost(attempt, f"Dask worker {attempt.started_on or '?'} died while running this step "
                                       f"(the scheduler started it again on {worker_address}; dagviz stopped that).")
        if seq < attempt.received:
            return []  # cannot happen: each message is published once
        if seq > attempt.received:
            if not attempt.early:
                attempt.early_since = time.monotonic()
            attempt.early[seq] = (last, worker_address, events)
            return []
        out: list[Event] = []
        while True:
            if seq == 0:
                attempt.started_on = worker_address
            attempt.received += 1
            self._count_steps(attempt, events)
            out.extend(events)
            if last:
                self._forget(attempt)
                return out
            seq += 1
            if seq not in attempt.early:
                return out
            last, worker_address, events = attempt.early.pop(seq)

    def _count_steps(self, attempt: _Attempt, events: list[Event]) -> None:
        """Which of the task's steps have started and ended, and how long steps take."""
        for event in events:
            if isinstance(event, StepStarted):
                attempt.started += 1
            elif isinstance(event, (StepSucceeded, StepFailed)):
                attempt.ended += 1
                seconds = event.duration_ms / 1000
                previous = self._step_seconds
                self._step_seconds = seconds if previous is None else previous + STEP_SECONDS_WEIGHT * (seconds - previous)

    def _forget(self, attempt: _Attempt) -> None:
        del self._attempts[attempt.key]
        if attempt.future is not None:
            attempt.future.release()

    def _check_futures(self, now: float) -> list[Event]:
        """Tasks that erred or were canceled by Dask (lost workers), and ends whose last message never came."""
        events: list[Event] = []
        for attempt in list(self._attempts.values()):
            if attempt.early and now - attempt.early_since > EVENTS_GRACE_SECONDS:
                events.extend(self._events_lost(attempt, min(attempt.early) - attempt.received))
                continue
            future = attempt.future
            if future is None or future.status == "pending":
                continue
            if future.status == "finished":
                if attempt.finished_at is None:
                    attempt.finished_at = now
                elif now - attempt.finished_at > EVENTS_GRACE_SECONDS:
                    events.extend(self._from_result(attempt))
                continue
            events.extend(self._on_task_failed(attempt))
        return events

    def _from_result(self, attempt: _Attempt) -> list[Event]:
        """The task finished long ago but its last message never arrived: take its events from its result."""
        assert attempt.future is not None
        try:
            published, final = attempt.future.result(timeout=EVENTS_GRACE_SECONDS)
        except Exception:  # the result is gone too (its worker died)
            return self._lost(attempt, f"The step ended on Dask worker {attempt.started_on}, which was lost "
                                       "before its result could be read.")
        if published != attempt.received + 1:
            return self._events_lost(attempt, published - attempt.received)
        self._forget(attempt)
        return final

    def _on_task_failed(self, attempt: _Attempt) -> list[Event]:
        """The task erred or was canceled by Dask (not by us): a lost worker, or an error outside run_step."""
        future = attempt.future
        assert future is not None
        if future.status != "error":
            assert self._client is not None
            if self._client.status != "running":
                return self._fail_unsettled(attempt, "WorkerLost", f"The connection to the Dask scheduler "
                                            f"({self._where()}) was lost while this step was submitted or running.")
            return self._fail_unsettled(attempt, "WorkerLost", f"Dask reported this step's task as {future.status}: "
                                        "its worker or the scheduler was lost (or the cluster was restarted).")
        try:
            error = future.exception(timeout=EVENTS_GRACE_SECONDS)
        except Exception as unexpected:  # the future could not even say why
            error = unexpected
        if isinstance(error, KilledWorker):
            # A start or an end written just before the worker died may still be on its way: wait a moment.
            now = time.monotonic()
            if attempt.killed_at is None:
                attempt.killed_at = now
            if now - attempt.killed_at < LATE_START_SECONDS:
                return []
            worker = getattr(error.last_worker, "address", None) or "?"
            return self._lost(attempt, f"Dask worker {worker} died while running this step.", cancel=False)
        info = error_info(error) if isinstance(error, BaseException) else ErrorInfo("DaskError", str(error))
        self._forget(attempt)
        return [StepFailed(task.step_key, attempt=task.attempt, op_name=task.node, error=info)
                for task in attempt.tasks[attempt.ended:]]

    def _lost(self, attempt: _Attempt, reason: str, cancel: bool = True) -> list[Event]:
        """The task's worker died: the step it was running failed; the steps after it never ran, so they are
        submitted again without counting an attempt (at most ``UNSTARTED_RESUBMITS`` times each)."""
        self._settle(attempt, cancel)
        failed = attempt.tasks[attempt.ended:attempt.started]
        for task, resubmits in zip(attempt.tasks[attempt.started:], attempt.resubmits[attempt.started:]):
            if resubmits < UNSTARTED_RESUBMITS:
                self.submit(task, resubmits + 1)
            else:
                failed.append(task)
        return _failed(failed, "WorkerLost", reason)

    def _events_lost(self, attempt: _Attempt, missing: int) -> list[Event]:
        return self._fail_unsettled(attempt, "EventsLost", f"{missing} messages this step's task published on "
                                    f"Dask worker {attempt.started_on} never reached the run (was the connection "
                                    "to the scheduler lost?).", cancel=True)

    def _fail_unsettled(self, attempt: _Attempt, class_name: str, reason: str, cancel: bool = False) -> list[Event]:
        """Every step of the task not known to have ended fails: what became of them cannot be known."""
        self._settle(attempt, cancel)
        return _failed(attempt.tasks[attempt.ended:], class_name, reason)

    def _settle(self, attempt: _Attempt, cancel: bool) -> None:
        if cancel and attempt.future is not None and not attempt.future.done():
            assert self._client is not None
            self._client.cancel([attempt.future], force=True)
        self._forget(attempt)

    def _where(self) -> str:
        return self.address or "the local cluster"

    def _check_connection(self, now: float) -> None:
        """Fail the run when the scheduler is gone: the client gave up, or has reconnected in vain for long."""
        assert self._client is not None
        status = self._client.status
        if status == "running":
            self._disconnected_since = None
            return
        if self._disconnected_since is None:
            self._disconnected_since = now
        if status in ("closing", "closed", "failed") or now - self._disconnected_since > SCHEDULER_LOST_TIMEOUT:
            raise DaskExecutorError(
                f"Lost the connection to the Dask scheduler ({self._where()}): the client is {status} after "
                f"{now - self._disconnected_since:.0f} s; {len(self._attempts)} steps were in flight."
            )

    # -- the end -----------------------------------------------------------------------------------

    def terminate(self) -> None:
        """Cancel every submitted task; a step already running stops at its next dynamic output.

        (On a LocalCluster, ``shutdown`` then stops the worker processes without waiting for
        running steps.)
        """
        self._terminated = True
        futures = [attempt.future for attempt in self._attempts.values() if attempt.future is not None]
        self._attempts.clear()
        self._unsent.clear()
        if self._client is None or not futures:
            return
        try:
            self._client.cancel(futures, force=True)
        except Exception:  # the scheduler is gone: nothing left to cancel
            logger.warning("Could not cancel %d Dask tasks", len(futures), exc_info=True)
        for future in futures:
            future.release()

    def shutdown(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        for attempt in self._attempts.values():
            if attempt.future is not None:
                attempt.future.release()
        self._attempts.clear()
        self._unsent.clear()
        if client is not None:
            if client.status == "running" and self._run_id is not None:
                try:  # each worker tears down the resources the run's steps set up there
                    client.run(close_run_resources, self._run_id, on_error="return")
                except Exception:
                    logger.warning("Could not tear down the run's resources on the Dask workers", exc_info=True)
            if client.status == "running":
                try:
                    client.unsubscribe_topic(self._topic)
                    if cluster is None:  # a shared scheduler keeps each topic's last events: drop this run's
                        client.run_on_scheduler(_forget_topic, self._topic)
                except Exception:
                    logger.debug("Could not unsubscribe from %s", self._topic, exc_info=True)
            try:
                client.close(timeout=CLOSE_TIMEOUT)
            except Exception:  # a scheduler that is gone cannot be told goodbye
                logger.debug("Could not close the Dask client cleanly", exc_info=True)
        if cluster is not None:
            if self._terminated:  # steps may still run in worker threads, which Dask cannot interrupt
                try:
                    cluster.sync(_stop_workers_now, list(cluster.workers.values()))
                except Exception:
                    logger.debug("Could not stop the local Dask workers at once", exc_info=True)
            cluster.close(timeout=CLOSE_TIMEOUT)


def _failed(tasks: list[StepTask], class_name: str, reason: str) -> list[Event]:
    return [StepFailed(task.step_key, attempt=task.attempt, op_name=task.node, error=ErrorInfo(class_name, reason, ""))
            for task in tasks]


async def _stop_workers_now(nannies: list[Any]) -> None:
    """Close a LocalCluster's workers, killing any whose process has not stopped within half a second."""
    await asyncio.gather(*(nanny.close(timeout=WORKER_STOP_SECONDS, reason="dagviz-run-canceled") for nanny in nannies))


def _allowed_failures(dask_scheduler: Any = None) -> int:
    return int(getattr(dask_scheduler, "allowed_failures", 0) or 0)


def _forget_topic(topic: str, dask_scheduler: Any = None) -> None:
    topics = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
    if isinstance(topics, dict):
        topics.pop(topic, None)
