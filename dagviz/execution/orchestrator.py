"""The run loop: feed runnable steps to an executor, turn what it reports into plan changes and events."""

from __future__ import annotations

import heapq
import itertools
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from dagviz.config.run_config import ResolvedRunConfig
from dagviz.execution.events import (
    DynamicOutputYielded,
    Event,
    LogMessage,
    RunFinished,
    RunStarted,
    StepCanceled,
    StepFailed,
    StepOutput,
    StepRetry,
    StepStarted,
    StepSucceeded,
)
from dagviz.execution import interrupts
from dagviz.execution.executors.base import Executor
from dagviz.execution.interrupts import RunInterrupted
from dagviz.execution.plan import ExecutionPlan, ParentRun, PlanIndex, Step
from dagviz.execution.run_resources import close_run_resources
from dagviz.execution.sinks import EventSink, PlannedStep
from dagviz.execution.status import StepStatus
from dagviz.execution.step_runner import StepTask

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore
    from dagviz.workspace import JobPointer

CANCEL_POLL_SECONDS = 0.5


@dataclass
class RunOutcome:
    """How a run ended, with its final plan (every step and its status)."""

    run_id: str
    success: bool
    canceled: bool
    failure_reason: str | None
    plan: ExecutionPlan
    tolerated_failures: int = 0  # failed steps a tolerant collect ran without


def plan_index(job: "JobDefinition") -> PlanIndex:
    """The job's plan index, computed once and kept on the job."""
    index = getattr(job, "_plan_index", None)
    if index is None:
        index = PlanIndex(job.nodes)
        job._plan_index = index  # type: ignore[attr-defined]
    return index


def new_run_id() -> str:
    return str(uuid.uuid4())


class RunCoordinator:
    """Drives one run from start to end; the only place that decides retries and the run's outcome."""

    def __init__(self, job: "JobDefinition", config: ResolvedRunConfig, executor: Executor, store: "OutputStore",
                 sink: EventSink, run_id: str | None = None, pointer: "JobPointer | None" = None,
                 cancel_requested: Callable[[], bool] | None = None, parent: ParentRun | None = None,
                 tags: Mapping[str, str] | None = None) -> None:
        self.job = job
        self.tags = {**job.tags, **(tags or {})}  # what ops see as the run's tags: the run's own win
        self.parent_run_id = parent.run_id if parent else None
        self.config = config
        self.executor = executor
        self.store = store
        self.sink = sink
        self.run_id = run_id or new_run_id()
        self.pointer = pointer
        self.cancel_requested = cancel_requested
        self.plan = ExecutionPlan(plan_index(job), config.op_configs, parent, config.op_inputs)
        self._queue: deque[Step] = deque()
        self._in_flight = 0
        self._retries: list[tuple[float, int, Step]] = []
        self._sequence = itertools.count()

    def run(self) -> RunOutcome:
        self._emit(RunStarted(None, run_id=self.run_id, job_name=self.job.name, executor=self.executor.name))
        canceled = False
        try:
            self.executor.start(self.job, self.pointer, self.store)
            self.plan.start()
            self._collect_changes()
            canceled = self._loop()
        except RunInterrupted:
            self._cancel()
            canceled = True
        except BaseException as error:
            self.executor.terminate()
            self._finish(False, f"The run crashed: {type(error).__name__}: {error}", canceled=False)
            raise
        finally:
            self.executor.shutdown()
            close_run_resources(self.run_id)  # the ones steps set up in this process (in_process)
        return self._conclude(canceled)

    def _loop(self) -> bool:
        handlers: dict[type, Callable[[Any], None]] = {
            StepStarted: self._on_started, DynamicOutputYielded: self._on_dynamic_output,
            StepOutput: self._on_output, StepSucceeded: self._on_succeeded, StepFailed: self._on_failed,
            LogMessage: self._emit,
        }
        while True:
            if interrupts.cancel_requested() or (self.cancel_requested is not None and self.cancel_requested()):
                self._cancel()
                return True
            self._submit_ready()
            if not self._in_flight and not self._queue and not self._retries:
                return False
            for event in self.executor.next_events(self._wait_timeout()):
                handlers[type(event)](event)
            self._fire_due_retries()

    def _wait_timeout(self) -> float | None:
        timeout = None
        if self._retries:
            timeout = max(0.0, self._retries[0][0] - time.time())
        if self.cancel_requested is not None:
            timeout = CANCEL_POLL_SECONDS if timeout is None else min(timeout, CANCEL_POLL_SECONDS)
        return timeout

    def _submit_ready(self) -> None:
        free = self.executor.free_slots()
        while self._queue and free > 0:
            step = self._queue.popleft()
            self.executor.submit(StepTask(
                self.run_id, self.job.name, step.key, step.node.handle, step.mapping_keys, step.inputs,
                self.config.op_configs.get(step.node.handle), step.attempts + 1, self.parent_run_id,
                self.tags, self.config.resource_configs,
            ))
            self._in_flight += 1
            free -= 1

    def _collect_changes(self) -> None:
        created = self.plan.take_created()
        if created:
            self.sink.steps_created([PlannedStep(step.key, step.node.handle, step.mapping_keys, order)
                                    for step, order in created])
        for event in self.plan.take_notices():
            self._emit(event)
        # Steps that became ready together start in node-name order, as Dagster orders them; the sort is
        # stable, so the steps of one mapped node keep their yield order.
        ready = self.plan.take_ready()
        self._queue.extend(sorted(ready, key=_node_handle) if len(ready) > 1 else ready)

    # -- events from the executor -------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self.sink.handle(event)

    def _on_started(self, event: StepStarted) -> None:
        self.plan.on_running(event.step_key)
        self._emit(event)

    def _on_dynamic_output(self, event: DynamicOutputYielded) -> None:
        self._emit(event)
        self.plan.on_dynamic_output(event.step_key, event.output_name, event.mapping_key, event.ref)
        self._collect_changes()

    def _on_output(self, event: StepOutput) -> None:
        self._emit(event)
        self.plan.on_output(event.step_key, event.output_name, event.ref)

    def _on_succeeded(self, event: StepSucceeded) -> None:
        self._in_flight -= 1
        self._emit(event)
        self.plan.on_success(event.step_key)
        self._collect_changes()

    def _on_failed(self, event: StepFailed) -> None:
        self._in_flight -= 1
        step = self.plan.steps[event.step_key]
        if step.status == StepStatus.PENDING:  # a worker died before the step reported its start
            self.plan.on_running(step.key)
        if self._retries_left(step, event) > 0:
            delay = self._retry_delay(step, event)
            self._emit(StepRetry(step.key, next_attempt=step.attempts + 1, delay=delay,
                                 error=event.error, timestamp=event.timestamp))
            self.plan.on_retry(step.key)
            heapq.heappush(self._retries, (time.time() + delay, next(self._sequence), step))
            return
        self._emit(event)
        self.plan.on_failure(step.key, event.error)
        self._collect_changes()

    def _retries_left(self, step: Step, event: StepFailed) -> int:
        if not event.allow_retries:
            return 0
        policy = step.node.retry_policy
        allowed = max(policy.max_retries if policy else 0, event.retry_requested)
        return allowed - (step.attempts - 1)

    def _retry_delay(self, step: Step, event: StepFailed) -> float:
        if event.retry_requested:
            return event.retry_wait
        policy = step.node.retry_policy
        return max(0.0, policy.calculate_delay(step.attempts)) if policy else 0.0  # attempts: the ones that ran

    def _fire_due_retries(self) -> None:
        if not self._retries:
            return
        now = time.time()
        while self._retries and self._retries[0][0] <= now:
            _, _, step = heapq.heappop(self._retries)
            self._queue.append(step)

    # -- the end ----------------------------------------------------------------------------

    def _cancel(self) -> None:
        self.executor.terminate()
        now = time.time()
        for step in self.plan.steps.values():
            if step.status == StepStatus.RUNNING:
                self._emit(StepCanceled(step.key, attempt=step.attempts, op_name=step.node.op.name, timestamp=now))
                self.plan.on_canceled(step.key)
        self._in_flight = 0
        self._queue.clear()
        self._retries.clear()
        for step in self.plan.unfinished():
            self.plan.skip(step, "the run was canceled")
        for event in self.plan.take_notices():
            self._emit(event)

    def _conclude(self, canceled: bool) -> RunOutcome:
        unfinished = self.plan.unfinished()
        failed = self.plan.failed()
        if canceled:
            reason = "The run was canceled."
        elif unfinished:
            reason = f"{len(unfinished)} steps never became runnable: {_list_keys(unfinished)}"
        elif failed:
            reason = f"{len(failed)} step{'s' if len(failed) > 1 else ''} failed: {_list_keys(failed)}"
        else:
            reason = None
        success = reason is None
        tolerated = len(self.plan.tolerated)
        self._finish(success, reason, canceled, tolerated)
        return RunOutcome(self.run_id, success, canceled, reason, self.plan, tolerated)

    def _finish(self, success: bool, reason: str | None, canceled: bool, tolerated: int = 0) -> None:
        self._emit(RunFinished(None, success=success, failure_reason=reason, canceled=canceled,
                               tolerated_failures=tolerated))
        self.sink.flush()


def _node_handle(step: Step) -> str:
    return step.node.handle


def _list_keys(steps: list[Step], limit: int = 10) -> str:
    keys = [step.key for step in steps[:limit]]
    more = f" and {len(steps) - limit} more" if len(steps) > limit else ""
    return ", ".join(keys) + more
