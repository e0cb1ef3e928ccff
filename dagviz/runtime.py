"""Dagster's runtime API on dagviz: instances that keep runs, reconstructable jobs, ``execute_job`` and re-execution.

```python
from dagviz import DagsterInstance, ReexecutionOptions, execute_job, reconstructable

instance = DagsterInstance.get()            # the database the web UI shows (DAGVIZ_HOME / DATABASE_URL)
with execute_job(reconstructable(my_job), instance, run_config=config) as result:
    assert result.success
options = ReexecutionOptions.from_failure(result.run_id, instance)
execute_job(reconstructable(my_job), instance, reexecution_options=options)
```

Importing this module does not import Django: only ``DagsterInstance.get()`` sets it up.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
import tempfile
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Protocol, Sequence

from dagviz.errors import DagsterInvariantViolationError, DagsterRunNotFoundError
from dagviz.execution.reexecution import ParentRecord, ReexecutionStrategy, parent_run_for
from dagviz.execution.run_records import DagsterRun
from dagviz.execution.step_selection import resolve_step_selection

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.execution.plan import ParentRun
    from dagviz.execution.result import ExecutionResult
    from dagviz.workspace import JobPointer

_NOT_AT_MODULE_SCOPE = ("Use a function or decorated function defined at module scope instead, "
                        "or a module-level function that returns the job.")


# -- reconstructable jobs ------------------------------------------------------------------------


class ReconstructableJob:
    """A job together with where another process can load it from (its module or file, and name)."""

    def __init__(self, pointer: "JobPointer", job: "JobDefinition | None" = None) -> None:
        self.pointer = pointer
        self._job = job

    @property
    def job_name(self) -> str:
        return self.pointer.job_name

    def get_definition(self) -> "JobDefinition":
        """The job (loaded from the pointer once, if this object was not made from the job itself)."""
        if self._job is None:
            self._job = self.pointer.load()
        return self._job

    def __repr__(self) -> str:
        return f"ReconstructableJob({self.pointer!r})"


def reconstructable(target: Any) -> ReconstructableJob:
    """A pointer to ``target`` (a module-level job, or a module-level function returning one) for ``execute_job``.

    Worker processes (multiprocess, dask) load the job again from this pointer.
    """
    from dagviz.definitions.graph import JobDefinition
    from dagviz.workspace import pointer_for

    if isinstance(target, ReconstructableJob):
        return target
    if isinstance(target, JobDefinition):
        pointer = pointer_for(target)
        if pointer is None:
            raise DagsterInvariantViolationError(
                f'Reconstructable target "{target.name}" is not defined at module scope: no top-level name of '
                f"module '{target.module_name}' refers to it. {_NOT_AT_MODULE_SCOPE}"
            )
        return ReconstructableJob(pointer, target)
    if inspect.isfunction(target):
        return _from_factory(target)
    raise DagsterInvariantViolationError(
        f"Reconstructable target should be a function or definition produced by a decorated function, "
        f"got {type(target)}."
    )


def _from_factory(factory: Callable[[], Any]) -> ReconstructableJob:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.workspace import JobPointer

    if factory.__name__ == "<lambda>":
        raise DagsterInvariantViolationError(f"Reconstructable target can not be a lambda. {_NOT_AT_MODULE_SCOPE}")
    if factory.__qualname__ != factory.__name__:
        raise DagsterInvariantViolationError(
            f'Reconstructable target "{factory.__name__}" has a different __qualname__ "{factory.__qualname__}" '
            f"indicating it is not defined at module scope. {_NOT_AT_MODULE_SCOPE}"
        )
    job = factory()
    if not isinstance(job, JobDefinition):
        raise DagsterInvariantViolationError(
            f"Reconstructable target {factory.__name__}() returned {type(job)}, not a job."
        )
    module_name = factory.__module__
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if module_name == "__main__" or module_name.startswith("dagviz_workspace_"):
        if not file:
            raise DagsterInvariantViolationError(
                f'Reconstructable target "{factory.__name__}" is defined in a module without a file. '
                f"{_NOT_AT_MODULE_SCOPE}"
            )
        return ReconstructableJob(JobPointer(job.name, file=os.path.abspath(file), factory=factory.__name__), job)
    return ReconstructableJob(JobPointer(job.name, module=module_name, factory=factory.__name__), job)


# -- re-execution options ------------------------------------------------------------------------


class ReexecutionOptions(NamedTuple):
    """Re-execute run ``parent_run_id``: exactly the steps ``step_selection`` names, or every step if empty.

    Clauses: ``double[a]`` one step, ``double`` every key of a mapped node, ``*double[a]`` with
    everything upstream, ``emit+`` (``emit++``, ``emit*``) with one (two, every) level downstream.
    Steps not selected are reused from the parent run.
    """

    parent_run_id: str
    step_selection: Sequence[str] = ()

    @staticmethod
    def from_failure(run_id: str, instance: "DagsterInstance") -> "ReexecuteFromFailureOption":
        """Re-execute the failed (and never run) steps of ``run_id`` and everything downstream of them."""
        return ReexecuteFromFailureOption(parent_run_id=run_id)


class ReexecuteFromFailureOption(ReexecutionOptions):
    """Re-execution from failure; the parent is looked up when the run executes."""


# -- instances -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredParent:
    """What a re-execution needs from its parent run."""

    run: DagsterRun
    record: ParentRecord


@dataclass(frozen=True)
class RunRequest:
    """One run to execute and record: the job, where workers load it from, and how it re-executes a parent."""

    job: "JobDefinition"
    pointer: "JobPointer | None"
    run_config: dict
    tags: dict
    op_selection: list[str] | None = None
    parent: "ParentRun | None" = None
    parent_run: DagsterRun | None = None
    step_selection: dict | None = None  # {"strategy": ..., "step_keys": [...]}, as ``runs`` records it
    executor: str | None = None  # None: the run config's; "in_process" for ``execute_in_process(instance=...)``


class RunStorage(Protocol):
    """Where an instance keeps its runs: this process's memory, or the database."""

    def execute(self, request: RunRequest) -> "ExecutionResult": ...

    def get_run(self, run_id: str) -> DagsterRun | None: ...

    def get_runs(self, limit: int | None) -> list[DagsterRun]: ...

    def get_parent(self, run_id: str) -> StoredParent | None: ...

    def output_store_url(self) -> str: ...

    def dispose(self) -> None: ...


class DagsterInstance:
    """Where runs are executed and recorded: ``ephemeral()`` (this process) or ``get()`` (the database)."""

    def __init__(self, storage: RunStorage) -> None:
        self._storage = storage

    @staticmethod
    def ephemeral() -> "DagsterInstance":
        """An instance that keeps its runs in this process (outputs in a temporary directory) until disposed."""
        return DagsterInstance(MemoryRunStorage())

    @staticmethod
    def get() -> "DagsterInstance":
        """The instance of the dagviz database (``DATABASE_URL``, or SQLite under ``DAGVIZ_HOME``).

        Runs executed through it are recorded with their steps and events, and appear in the web UI.
        """
        return DagsterInstance(DatabaseRunStorage())

    @property
    def is_ephemeral(self) -> bool:
        return isinstance(self._storage, MemoryRunStorage)

    def get_run_by_id(self, run_id: str) -> DagsterRun | None:
        """The run's record (``status``, ``tags``, ``parent_run_id``, ...), or None if the instance has no such run."""
        return self._storage.get_run(str(run_id))

    def has_run(self, run_id: str) -> bool:
        return self.get_run_by_id(run_id) is not None

    def get_runs(self, limit: int | None = None) -> list[DagsterRun]:
        """The instance's runs, newest first."""
        return self._storage.get_runs(limit)

    def storage_directory(self) -> str:
        """Where the instance's runs write their outputs (a URL when that is not a local directory)."""
        url = self._storage.output_store_url()
        return url[len("file://"):] if url.startswith("file://") else url

    def dispose(self) -> None:
        """Release what the instance holds (an ephemeral instance deletes its outputs)."""
        self._storage.dispose()

    def __enter__(self) -> "DagsterInstance":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"<DagsterInstance {'ephemeral' if self.is_ephemeral else 'database'}>"


@contextmanager
def instance_for_test() -> Iterator[DagsterInstance]:
    """A fresh instance for one test: in memory (runs, records) with outputs in a temporary directory, all
    removed on exit. Use ``DagsterInstance.get()`` to test against the database."""
    instance = DagsterInstance.ephemeral()
    try:
        yield instance
    finally:
        instance.dispose()


class MemoryRunStorage:
    """Runs of an ephemeral instance: their records and results in memory, outputs in a temporary directory."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[DagsterRun, "ExecutionResult"]] = {}
        self._directory: str | None = None
        self._cleanup: weakref.finalize | None = None

    def output_store_url(self) -> str:
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="dagviz-instance-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._directory, True)
        return f"file://{self._directory}"

    def execute(self, request: RunRequest) -> "ExecutionResult":
        from dagviz.execution.api import execute_job as run_job

        result = run_job(request.job, request.run_config, executor=request.executor,
                         output_store=self.output_store_url(), pointer=request.pointer, parent=request.parent,
                         op_selection=request.op_selection, tags=request.tags)
        result.tags = dict(request.tags)
        result.run_config = dict(request.run_config)
        if request.parent_run is not None:
            result.root_run_id = request.parent_run.root_run_id or request.parent_run.run_id
        self._runs[result.run_id] = (replace(result.dagster_run, op_selection=request.op_selection), result)
        return result

    def get_run(self, run_id: str) -> DagsterRun | None:
        stored = self._runs.get(run_id)
        return stored[0] if stored else None

    def get_runs(self, limit: int | None) -> list[DagsterRun]:
        runs = [run for run, _ in reversed(self._runs.values())]
        return runs[:limit] if limit is not None else runs

    def get_parent(self, run_id: str) -> StoredParent | None:
        stored = self._runs.get(run_id)
        return StoredParent(stored[0], ParentRecord.from_result(stored[1])) if stored else None

    def dispose(self) -> None:
        if self._cleanup is not None:
            self._cleanup()


class DatabaseRunStorage:
    """Runs in the dagviz database, executed in this process and recorded like launched runs."""

    def __init__(self) -> None:
        from dagviz.server.bootstrap import setup_django

        setup_django()

    def execute(self, request: RunRequest) -> "ExecutionResult":
        from runs.services.local_run import execute_local_run

        return execute_local_run(request.job, request.run_config, request.tags, pointer=request.pointer,
                                 op_selection=request.op_selection, parent=request.parent,
                                 parent_run_id=request.parent_run.run_id if request.parent_run else None,
                                 step_selection=request.step_selection, executor=request.executor)

    def get_run(self, run_id: str) -> DagsterRun | None:
        from runs.services.local_run import dagster_run_of, find_run

        run = find_run(run_id)
        return dagster_run_of(run) if run is not None else None

    def get_runs(self, limit: int | None) -> list[DagsterRun]:
        from runs.services.local_run import dagster_runs

        return dagster_runs(limit)

    def get_parent(self, run_id: str) -> StoredParent | None:
        from runs.services.local_run import dagster_run_of, find_run
        from runs.services.reexecution import load_parent_record

        run = find_run(run_id)
        return StoredParent(dagster_run_of(run), load_parent_record(run)) if run is not None else None

    def output_store_url(self) -> str:
        from dagviz.home import default_output_store_url

        return default_output_store_url()

    def dispose(self) -> None:
        pass


# -- execute_job ---------------------------------------------------------------------------------


def execute_job(job: Any, instance: Any = None, run_config: dict | None = None, tags: dict | None = None,
                raise_on_error: bool = False, op_selection: Sequence[str] | None = None,
                reexecution_options: ReexecutionOptions | None = None, **engine_options: Any) -> "ExecutionResult":
    """Run a job and record it in ``instance``, as Dagster's ``execute_job`` does.

    ``job`` is ``reconstructable(my_job)``; the run config's ``execution`` section picks the executor
    (``{"execution": {"config": {"multiprocess": {...}}}}``). With ``reexecution_options`` the run
    re-executes another run of the instance, reusing the outputs of the steps it does not run.
    The result is also a context manager: ``with execute_job(...) as result:``.

    Called as dagviz's engine function, ``execute_job(job, run_config, executor=..., output_store=...)``
    (no instance), it runs the job without recording it anywhere.
    """
    if not isinstance(instance, DagsterInstance) and not isinstance(job, ReconstructableJob):
        from dagviz.execution.api import execute_job as run_job

        if instance is not None:  # the engine's signature: execute_job(job, run_config, ...)
            if run_config is not None:
                raise TypeError("execute_job() got two run configs: pass an instance, or run_config once.")
            run_config = instance
        return run_job(job, run_config, raise_on_error=raise_on_error, op_selection=op_selection, tags=tags,
                       **engine_options)
    if engine_options:
        raise TypeError(f"execute_job() got unexpected arguments: {', '.join(sorted(engine_options))}.")
    recon = reconstructable(job) if not isinstance(job, ReconstructableJob) else job
    instance = instance if isinstance(instance, DagsterInstance) else DagsterInstance.ephemeral()
    request = _run_request(recon, instance, run_config, dict(tags or {}), op_selection, reexecution_options)
    result = instance._storage.execute(request)
    if raise_on_error and not result.success:
        from dagviz.execution.api import _raise_first_failure

        _raise_first_failure(result)
    return result


def execute_in_instance(job: "JobDefinition", instance: DagsterInstance, run_config: dict | None, tags: dict,
                        op_selection: Sequence[str] | None) -> "ExecutionResult":
    """``job.execute_in_process(instance=...)``: run here, in process, and record the run in ``instance``
    (so it can be looked up and re-executed there, as in Dagster)."""
    from dagviz.workspace import pointer_for

    request = RunRequest(job, pointer_for(job), dict(run_config or {}), dict(tags),
                         list(op_selection) if op_selection else None, executor="in_process")
    return instance._storage.execute(request)


def _run_request(recon: ReconstructableJob, instance: DagsterInstance, run_config: dict | None, tags: dict,
                 op_selection: Sequence[str] | None, options: ReexecutionOptions | None) -> RunRequest:
    job = recon.get_definition()
    if options is None:
        return RunRequest(job, recon.pointer, dict(run_config or {}), tags,
                          list(op_selection) if op_selection else None)
    if op_selection is not None:
        raise DagsterInvariantViolationError("re-execution and op selection cannot be used together at this time.")
    parent = instance._storage.get_parent(str(options.parent_run_id))
    if parent is None:
        raise DagsterRunNotFoundError(f"No parent run with id {options.parent_run_id} found in instance.")
    if parent.run.job_name != job.name:
        raise DagsterInvariantViolationError(
            f"Run {options.parent_run_id} is a run of job '{parent.run.job_name}'; it cannot be re-executed as job "
            f"'{job.name}'."
        )
    selection = parent.run.op_selection
    strategy, step_keys = _strategy(job.get_subset(selection), parent, options)
    return RunRequest(
        job, recon.pointer, dict(parent.run.run_config if run_config is None else run_config), tags,
        selection, parent_run_for(job.get_subset(selection), parent.record, strategy, step_keys), parent.run,
        {"strategy": strategy.value, "step_keys": step_keys or []},
    )


def _strategy(job: "JobDefinition", parent: StoredParent,
              options: ReexecutionOptions) -> tuple[ReexecutionStrategy, list[str] | None]:
    """Dagster's rule: from failure; exactly the selected steps; or, with no selection, every step."""
    if isinstance(options, ReexecuteFromFailureOption):
        if not parent.run.is_failure_or_canceled:
            raise DagsterInvariantViolationError("Cannot reexecute from failure a run that is not failed or canceled")
        return ReexecutionStrategy.FROM_FAILURE, None
    if options.step_selection:
        return ReexecutionStrategy.SELECTED, resolve_step_selection(job, parent.record.step_statuses,
                                                                    list(options.step_selection))
    return ReexecutionStrategy.ALL, None
