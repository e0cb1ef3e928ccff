"""Run steps one at a time in this process, interleaved so that mapped steps start as keys are yielded."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterator

from dagviz.execution.events import DynamicOutputYielded, Event, LogMessage, StepStarted
from dagviz.execution.interrupts import user_code
from dagviz.execution.step_runner import StepTask, run_step

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore
    from dagviz.workspace import JobPointer


class InProcessExecutor:
    """Steps are generators of events; a step runs until it yields a key, then newly submitted steps run.

    So when an emitter yields a key, its mapped steps run right away, and the emitter
    continues afterwards: streaming in a single thread, with memory bounded by the
    plan's depth rather than by the number of keys. A step that yields no key runs to its
    end before the next one starts, so steps start in the order they were submitted.
    """

    name = "in_process"

    def __init__(self) -> None:
        self._pending: deque[StepTask] = deque()
        self._active: list[tuple[str, Iterator[Event]]] = []
        self._top_yielded_key = False  # the running step just yielded a key: its mapped steps go first
        self._logs: list[Event] = []

    def start(self, job: "JobDefinition", pointer: "JobPointer | None", store: "OutputStore") -> None:
        self._job = job
        self._store = store

    def free_slots(self) -> int:
        return 1 << 30

    def submit(self, task: StepTask) -> None:
        self._pending.append(task)

    def _log(self, event: LogMessage) -> None:
        self._logs.append(event)

    def next_events(self, timeout: float | None) -> list[Event]:
        """The events of the running step up to its next key, its start or its end (with the logs in between).

        Returning there, not after every event, lets the coordinator create a key's mapped steps at
        once and know a step runs before its op does (a cancel then finds it RUNNING), in a third
        as many round trips as one event at a time.
        """
        batch: list[Event] = []
        while True:
            if self._pending and (not self._active or self._top_yielded_key):
                task = self._pending.popleft()
                job = self._job
                self._active.append((task.step_key, run_step(task, job.nodes[task.node], self._store, self._log,
                                                             job.resource_defs)))
            if not self._active:
                return batch
            _, events = self._active[-1]
            with user_code():
                event = next(events, None)
            if self._logs:  # logged while the step ran: they come before what it yielded
                batch.extend(self._logs)
                self._logs = []
            if event is None:
                self._active.pop()
                self._top_yielded_key = bool(self._active)  # a suspended step below only stopped at a key
                if batch:
                    return batch
                continue
            batch.append(event)
            self._top_yielded_key = isinstance(event, DynamicOutputYielded)
            if self._top_yielded_key or isinstance(event, StepStarted):
                return batch

    def terminate(self) -> None:
        for _, events in self._active:
            events.close()
        self._active.clear()
        self._pending.clear()

    def shutdown(self) -> None:
        self.terminate()
