"""Run one step: load its inputs, call the op, store its outputs, and report it all as events.

The same code runs in the coordinating process (``in_process``) and in worker processes
(``multiprocess``, ``dask``). It is a generator of events so that an executor can pass each
dynamic output on the moment the op yields it (streaming fan-out).
"""

from __future__ import annotations

import inspect
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from dagviz.definitions.composition import NodeSpec
from dagviz.definitions.metadata import normalize_metadata
from dagviz.definitions.ops import OpDefinition
from dagviz.definitions.outputs import DynamicOutput, Output
from dagviz.definitions.types import type_check_failure
from dagviz.errors import (
    DagsterTypeCheckDidNotPass,
    DuplicateMappingKeyError,
    duplicate_mapping_key_message,
    dynamic_from_plain_out_message,
    dynamic_not_a_list_message,
    output_into_dynamic_message,
)
from dagviz.errors import Failure, RetryRequested, StepOutputError
from dagviz.definitions.op_params import config_argument
from dagviz.execution.context import OpExecutionContext
from dagviz.execution.events import (
    DynamicOutputYielded,
    ErrorInfo,
    Event,
    LogMessage,
    StepFailed,
    StepOutput,
    StepStarted,
    StepSucceeded,
)
from dagviz.execution.output_preview import output_preview
from dagviz.execution.run_resources import resources_for_step
from dagviz.storage.output_store import OutputStore, output_ref, readable_elsewhere_first

if TYPE_CHECKING:
    from dagviz.definitions.resources import ResourceDefinition

# How a task names one input's value: ("ref", ref), ("refs", [ref, ...]) for a collect or a list
# input, ("value", v) for a default or run-config value, ("nothing", None) for an ordering-only input.
InputValue = tuple[str, Any]


@dataclass(slots=True)
class StepTask:
    """Everything a worker needs to run one attempt of one step (small and picklable)."""

    run_id: str
    job_name: str
    step_key: str
    node: str
    mapping_keys: tuple[str, ...]
    inputs: dict[str, InputValue]
    op_config: Any
    attempt: int = 1
    parent_run_id: str | None = None
    tags: dict[str, str] | None = None  # the job's tags overlaid by the run's (one dict shared by the run's tasks)
    resource_configs: dict[str, Any] | None = None  # resource key -> validated config, for the first step needing it


def _load_inputs(task: StepTask, op_def: OpDefinition, store: OutputStore) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (how, what) in task.inputs.items():
        if how == "ref":
            values[name] = store.get(what)
        elif how == "refs":  # a collect (or a list input): one read per segment, not per value
            get_many = getattr(store, "get_many", None)
            values[name] = get_many(list(what)) if get_many else [store.get(ref) for ref in what]
        elif how == "nothing":
            continue  # an ordering-only input (In(Nothing)) is never passed to the function
        else:
            values[name] = what
        checked = op_def.input_types.get(name)
        if checked is not None and not checked.check(values[name]):
            raise DagsterTypeCheckDidNotPass(type_check_failure("input", name, checked, values[name]))
    return values


def _checked(op_def: OpDefinition, output_name: str, value: Any) -> Any:
    checked = op_def.output_types.get(output_name) if op_def.output_types else None
    if checked is not None and not checked.check(value):
        raise DagsterTypeCheckDidNotPass(type_check_failure("output", output_name, checked, value))
    return value


def error_info(error: BaseException) -> ErrorInfo:
    """The error as data, with the traceback starting at the user's code (engine frames dropped)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    stack = "".join(traceback.format_exception(type(error), error, tb))
    message = error.description if isinstance(error, Failure) and error.description else str(error)
    return ErrorInfo(type(error).__name__, message or type(error).__name__, stack, error)


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started``, to the microsecond: the clock says no more (a float's last digits are noise
    that a million stored step events would each carry)."""
    return round((time.time() - started) * 1000, 3)


def run_step(task: StepTask, node: NodeSpec, store: OutputStore, emit_log: Callable[[LogMessage], None],
             resource_defs: "Mapping[str, ResourceDefinition] | None" = None) -> Iterator[Event]:
    """Run one attempt of a step, yielding its events; never raises for errors in user code.

    ``resource_defs`` are the job's resources: the ones the op needs are set up in this
    process the first time a step of the run needs them (``dagviz.execution.run_resources``).
    """
    op_def = node.op
    started = time.time()
    yield StepStarted(task.step_key, attempt=task.attempt, timestamp=started)
    try:
        kwargs = _load_inputs(task, op_def, store)
        resources = None
        if op_def.required_resource_keys:
            resources = resources_for_step(task.run_id, op_def.required_resource_keys, resource_defs,
                                           task.resource_configs)
            for name in op_def.resource_params:
                kwargs[name] = getattr(resources, name)
        if op_def.config_param is not None:
            kwargs[op_def.config_param] = config_argument(op_def, task.op_config)
        args: tuple = ()
        context = None
        if op_def.takes_context:
            context = OpExecutionContext(
                run_id=task.run_id, job_name=task.job_name, step_key=task.step_key, op_name=op_def.name,
                node_handle=task.node, op_config=task.op_config, mapping_keys=task.mapping_keys,
                retry_number=task.attempt - 1, parent_run_id=task.parent_run_id, emit=emit_log,
                resources=resources, tags=task.tags, op_def=op_def,
            )
            args = (context,)
        result = op_def.compute_fn(*args, **kwargs)
        # Refs go on only once other processes can read them (a remote store uploads small values in batches).
        yield from readable_elsewhere_first(_store_outputs(op_def, result, task, store, context), store)
    except Exception as error:  # user code may raise anything; it becomes a STEP_FAILURE event
        retry_requested = error.max_retries if isinstance(error, RetryRequested) else 0
        yield StepFailed(
            task.step_key, attempt=task.attempt, duration_ms=elapsed_ms(started),
            error=error_info(error), op_name=op_def.name, retry_requested=retry_requested,
            retry_wait=error.seconds_to_wait if isinstance(error, RetryRequested) else 0.0,
            allow_retries=not (isinstance(error, Failure) and not error.allow_retries),
            metadata=normalize_metadata(error.metadata) if isinstance(error, Failure) else {},
        )
        return
    yield StepSucceeded(task.step_key, attempt=task.attempt, duration_ms=elapsed_ms(started))


def _store_outputs(op_def: OpDefinition, result: Any, task: StepTask, store: OutputStore,
                   context: OpExecutionContext | None) -> Iterator[Event]:
    if inspect.isgenerator(result):
        yield from _store_yielded(op_def, result, task, store, context)
        return
    if op_def.dynamic_output_names:
        if isinstance(result, (list, tuple)) and all(isinstance(item, DynamicOutput) for item in result):
            yield from _store_yielded(op_def, iter(result), task, store, context)  # Dagster also accepts a list
            return
        check_dynamic_result(op_def, result)
    names = list(op_def.outs)
    if len(names) == 1:
        values = {names[0]: result}
    elif isinstance(result, tuple) and len(result) == len(names):
        values = dict(zip(names, result))
    else:
        raise StepOutputError(
            f"op '{op_def.name}' declares outputs {names} and must return a tuple of {len(names)} values "
            f"(or yield Output(value, output_name)); it returned {_short(result)}."
        )
    for name, value in values.items():
        metadata: dict = {}
        if isinstance(value, Output):
            if value.output_name != name:
                raise StepOutputError(
                    f"op '{op_def.name}' returned Output for '{value.output_name}' where output '{name}' was expected."
                )
            value, metadata = value.value, value.metadata
        yield _plain_output(op_def, task, store, context, name, value, metadata)


def _plain_output(op_def: OpDefinition, task: StepTask, store: OutputStore, context: OpExecutionContext | None,
                  name: str, value: Any, metadata: dict) -> StepOutput:
    """Store one plain output and describe it as an event (with its metadata)."""
    value = _checked(op_def, name, value)
    ref = store.put(output_ref(task.run_id, task.step_key, name), value)
    return StepOutput(task.step_key, output_name=name, ref=ref, metadata=_merged_metadata(context, metadata, name),
                      preview=output_preview(value))


def _merged_metadata(context: OpExecutionContext | None, given: dict, output_name: str,
                     mapping_key: str | None = None) -> dict:
    """The output's metadata: what the op attached to it, then what it added with ``add_output_metadata``."""
    added = context.metadata_for(output_name, mapping_key) if context is not None and context.output_metadata else {}
    if not given:
        return added
    return {**normalize_metadata(given), **added}


def _store_yielded(op_def: OpDefinition, items: Iterator[Any], task: StepTask, store: OutputStore,
                   context: OpExecutionContext | None) -> Iterator[Event]:
    seen_keys: dict[str, set[str]] = {name: set() for name in op_def.dynamic_output_names}
    if context is not None:
        context.yielded_keys = seen_keys  # add_output_metadata refuses keys already yielded
    produced: set[str] = set()
    for item in items:
        if isinstance(item, DynamicOutput):
            name, key = item.output_name, item.mapping_key
            keys = seen_keys.get(name)
            if keys is None:
                raise StepOutputError(f"{dynamic_from_plain_out_message(op_def.name)} (dagviz: "
                                      f"{_wrong_output(op_def, item, 'a DynamicOutput', 'a DynamicOut')})")
            if key in keys:
                raise DuplicateMappingKeyError(
                    f"{duplicate_mapping_key_message(op_def.name, key)} (dagviz: step '{task.step_key}', output "
                    f"'{name}'; mapping keys must be unique within one dynamic output)"
                )
            keys.add(key)
            ref = store.put(output_ref(task.run_id, task.step_key, name, key), _checked(op_def, name, item.value))
            yield DynamicOutputYielded(task.step_key, output_name=name, mapping_key=key, ref=ref,
                                       metadata=_merged_metadata(context, item.metadata, name, key))
        elif isinstance(item, Output):
            name = item.output_name
            out = op_def.outs.get(name)
            if out is not None and out.is_dynamic:
                raise StepOutputError(f"{output_into_dynamic_message(op_def.name, name)} (dagviz: "
                                      f"{_wrong_output(op_def, item, 'a plain Output', 'an Out')})")
            if out is None:
                raise StepOutputError(_wrong_output(op_def, item, "a plain Output", "an Out"))
            if name in produced:
                raise StepOutputError(f"op '{op_def.name}' yielded output '{name}' more than once.")
            produced.add(name)
            yield _plain_output(op_def, task, store, context, name, item.value, item.metadata)
        else:
            raise StepOutputError(
                f"op '{op_def.name}' yielded {type(item).__name__} {_short(item)}: a generator op must yield "
                "Output(...) or DynamicOutput(value, mapping_key=...) objects."
            )
    missing = [name for name, out in op_def.outs.items() if not out.is_dynamic and out.is_required and name not in produced]
    if missing:
        raise StepOutputError(f"op '{op_def.name}' did not yield its required output(s) {missing}.")


def check_dynamic_result(op_def: OpDefinition, result: Any) -> None:
    """A DynamicOut op must yield or return a list of DynamicOutput; anything else is Dagster's error."""
    if isinstance(result, (list, tuple)) and all(isinstance(item, DynamicOutput) for item in result):
        return
    output = op_def.dynamic_output_names[0]
    raise StepOutputError(
        f"{dynamic_not_a_list_message(op_def.name, output, result)} (dagviz: got {_short(result)}; yield, or "
        "return a list of, DynamicOutput(value, mapping_key=...) for each key)"
    )


def _wrong_output(op_def: OpDefinition, item: Any, what: str, needed: str) -> str:
    kinds = ", ".join(f"'{n}' ({'DynamicOut' if o.is_dynamic else 'Out'})" for n, o in op_def.outs.items())
    hint = "yield DynamicOutput(value, mapping_key=...)" if what == "a plain Output" else "yield Output(value, output_name)"
    return (
        f"op '{op_def.name}' yielded {what} for output '{item.output_name}', which is not {needed} "
        f"(outputs: {kinds}); {hint}."
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
