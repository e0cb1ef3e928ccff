"""Running a job: ``execute_in_process`` (tests, notebooks) and ``execute_job`` (any executor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from dagviz.config.env_vars import resolve_run_env
from dagviz.config.run_config import ExecutorChoice, executor_of, resolve_run_config
from dagviz.errors import DagvizExecutionError
from dagviz.execution.events import StepFailed
from dagviz.execution.executors import make_executor
from dagviz.execution.executors.base import Executor
from dagviz.execution.executors.in_process import InProcessExecutor
from dagviz.execution.orchestrator import RunCoordinator
from dagviz.execution.plan import ParentRun
from dagviz.execution.result import ExecutionResult
from dagviz.execution.sinks import EventSink, FanOutSink, MemorySink
from dagviz.home import default_output_store_url
from dagviz.storage.output_store import MEMORY_URL, InMemoryOutputStore, OutputStore, open_output_store

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition
    from dagviz.workspace import JobPointer


def execute_in_process(job: "JobDefinition", run_config: dict | None = None, raise_on_error: bool = True,
                       run_id: str | None = None, tags: dict | None = None,
                       op_selection: Sequence[str] | None = None, instance: Any = None,
                       resources: dict | None = None) -> ExecutionResult:
    """Run every step in this thread with outputs kept in memory (the run config's executor is ignored).

    ``resources`` are bound to the job for this run (Dagster's ``execute_in_process(resources=...)``).
    With ``instance`` (a ``DagsterInstance``) the run is recorded there, its outputs in the instance's
    store, so it can be re-executed through that instance.
    """
    if resources:
        job = job.bind_resources(resources, override=True)
    if instance is not None:
        from dagviz.runtime import execute_in_instance

        result = execute_in_instance(job, instance, run_config, dict(tags or {}), op_selection)
        if raise_on_error and not result.success:
            _raise_first_failure(result)
        return result
    job = job.get_subset(op_selection)
    job.check_resources()
    config = resolve_run_env(job, resolve_run_config(job.name, job.nodes, run_config, resource_defs=job.resource_defs))
    store = InMemoryOutputStore()
    sink = MemorySink()
    outcome = RunCoordinator(job, config, InProcessExecutor(), store, sink, run_id, tags=tags).run()
    result = ExecutionResult(job, outcome, sink.events, store, tags=tags, run_config=run_config)
    if raise_on_error and not result.success:
        _raise_first_failure(result)
    return result


def execute_job(job: "JobDefinition", run_config: dict | None = None, executor: str | Executor | None = None,
                output_store: str | OutputStore | None = None, run_id: str | None = None,
                pointer: "JobPointer | None" = None, sink: EventSink | None = None,
                raise_on_error: bool = False, cancel_requested: Callable[[], bool] | None = None,
                parent: ParentRun | None = None, op_selection: Sequence[str] | None = None,
                tags: dict | None = None, keep_events: bool = True) -> ExecutionResult:
    """Run a job with the executor named by ``executor`` or by the run config's ``execution`` section.

    Steps in other processes read and write outputs in ``output_store`` (default
    ``DAGVIZ_OUTPUT_STORE``, a directory under ``DAGVIZ_HOME``), and load the job through
    ``pointer`` (derived from where the job is defined when not given). With ``parent`` the
    run re-executes another, reusing its outputs where the plan allows (see ``reexecution``).
    ``tags`` are the run's tags: ops see the job's tags overlaid by them (``context.get_tag``).
    ``keep_events=False`` (with a ``sink`` that records them) leaves the result's ``events`` empty: a
    run worker does not hold every event of a million-key run in memory.
    """
    from dagviz.workspace import pointer_for

    pointer = pointer or pointer_for(job)  # workers load the whole job; a subset only changes the plan
    job = job.get_subset(op_selection)
    job.check_resources()
    config = resolve_run_env(job, resolve_run_config(job.name, job.nodes, run_config, resource_defs=job.resource_defs))
    chosen = _choose_executor(executor, executor_of(job, config))
    if output_store is None:
        output_store = MEMORY_URL if chosen.name == "in_process" else default_output_store_url()
    store = open_output_store(output_store) if isinstance(output_store, str) else output_store
    events = MemorySink()
    if sink is None:
        run_sink: EventSink = events
    else:
        run_sink = FanOutSink(events, sink) if keep_events else sink
    coordinator = RunCoordinator(job, config, chosen, store, run_sink, run_id, pointer, cancel_requested, parent, tags)
    result = ExecutionResult(job, coordinator.run(), events.events, store)
    if raise_on_error and not result.success:
        _raise_first_failure(result)
    return result


def _choose_executor(executor: str | Executor | None, from_config: ExecutorChoice) -> Executor:
    if executor is None:
        return make_executor(from_config)
    if isinstance(executor, str):
        config = from_config.config if from_config.name == executor else {}
        return make_executor(ExecutorChoice(executor, config))
    return executor


def _raise_first_failure(result: ExecutionResult) -> Any:
    failure = next((event for event in result.events
                    if isinstance(event, StepFailed) and event.step_key not in result.tolerated_step_keys), None)
    if failure is None or failure.error is None:
        raise DagvizExecutionError(f"Run {result.run_id} of job '{result.job.name}' failed: {result.failure_reason}")
    where = f"dagviz: step '{failure.step_key}' of op '{failure.op_name}' failed in job '{result.job.name}'"
    original = failure.error.exception
    if original is not None:
        original.add_note(where)
        raise original
    raise DagvizExecutionError(
        f"{where}: {failure.error.class_name}: {failure.error.message}\n{failure.error.stack}",
        step_key=failure.step_key, user_traceback=failure.error.stack,
    )
