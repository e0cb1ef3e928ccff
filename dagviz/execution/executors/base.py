"""The protocol every executor implements: take step tasks, give back their events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dagviz.errors import DagvizError
from dagviz.execution.events import Event
from dagviz.execution.step_runner import StepTask
from dagviz.storage.output_store import MEMORY_URL

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


def check_job_can_leave_this_process(executor: str, job: "JobDefinition", pointer: "JobPointer | None",
                                     store: "OutputStore") -> None:
    """Workers in other processes import the job by its pointer and exchange values through the store."""
    if pointer is None:
        raise DagvizError(
            f"Job '{job.name}' cannot run with the {executor} executor: its workers must import it, so it has to be "
            "defined at the top level of a module or file (load it with dagviz.workspace)."
        )
    if store.url == MEMORY_URL:
        raise DagvizError(f"The {executor} executor needs an output store shared by its worker processes "
                          f"(file:// or s3://), not {MEMORY_URL}.")
