"""The protocol every executor implements: take step tasks, give back their events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dagviz.execution.events import Event
from dagviz.execution.step_runner import StepTask

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.storage.output_store import OutputStore
    from dagviz.workspace import JobPointer


class Executor(Protocol):
    """Runs steps somewhere (this process, worker processes, a Dask cluster).

    The coordinator calls ``submit`` for each runnable step while ``free_slots()`` is
    positive, then ``next_events`` to learn what happened; events produced inside a running
    step (logs, dynamic outputs) come back while the step still runs. A step whose worker
    dies comes back as a ``StepFailed`` event naming the worker.
    """

    name: str

    def start(self, job: "JobDefinition", pointer: "JobPointer | None", store: "OutputStore") -> None: ...

    def free_slots(self) -> int: ...

    def submit(self, task: StepTask) -> None: ...

    def next_events(self, timeout: float | None) -> list[Event]:
        """Events since the last call; waits up to ``timeout`` seconds (None: until any) when there are none."""

    def terminate(self) -> None:
        """Stop running steps now (run canceled)."""

    def shutdown(self) -> None:
        """Release workers; called once at the end of every run."""
