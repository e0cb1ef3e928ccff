"""Composition: run the body of a ``@job`` or ``@graph`` once to record its nodes.

Calling an op inside a job body does not run it: it adds a node and returns handles to
its outputs. ``.map(fn)`` on a dynamic output calls ``fn`` once with a handle standing
for "the value of one key"; every node that consumes it (directly or transitively) is
*in the scope* of that dynamic output and gets one step per key. ``.collect()`` leaves
the innermost scope. Graphs are flattened into the job: their nodes get handles such
as ``graph.op``.
"""

from __future__ import annotations

import inspect
import threading
from contextlib import contextmanager
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from dagviz.definitions.ops import OpDefinition, PendingInvocation, RetryPolicy
from dagviz.errors import (
    InvalidDefinitionError,
    dynamic_fan_in_message,
    invalid_fan_in_item_message,
    two_dynamic_outputs_message,
    unmapped_dynamic_message,
)
from dagviz.step_keys import join_handle

# One level of fan-out: (handle of the emitting node, name of its DynamicOut).
DynamicScope = tuple[str, str]
Scope = tuple[DynamicScope, ...]

PLAIN, DYNAMIC, COLLECT, DEFAULT = "PLAIN", "DYNAMIC", "COLLECT", "DEFAULT"
FANIN = "FANIN"  # a list of several outputs: total([one(), two()])
CONFIG = "CONFIG"  # not connected: the value comes from run config (ops: {op: {inputs: {x: ...}}})
NOTHING = "NOTHING"  # an unconnected In(Nothing): nothing to wait for


@dataclass(frozen=True)
class InputSource:
    """Where a node input comes from.

    ``PLAIN``: an output of ``node`` (same or enclosing scope). ``DYNAMIC``: the value of
    one key of ``node``'s dynamic output. ``COLLECT``: the list, in yield order, of
    ``node``'s output over the innermost scope (or of a dynamic output's values).
    ``DEFAULT``: not connected; the input's default value. ``FANIN``: a list of outputs
    (``sources``). ``CONFIG``: not connected; given in run config. ``NOTHING``: an
    unconnected ordering-only input.
    """

    kind: str
    node: str | None = None
    output: str | None = None
    default: Any = None
    sources: tuple["InputSource", ...] = ()  # for FANIN: one PLAIN source per list item
    # for COLLECT: run with the keys that succeeded when at least this share of them did (None: every key must)
    min_success_ratio: float | None = None

    def producers(self) -> tuple["InputSource", ...]:
        """The outputs this input reads: each item of a list input, or the input itself (none if unconnected)."""
        return tuple(item for item in (self.sources or (self,)) if item.node)


@dataclass(frozen=True)
class NodeSpec:
    """One op invocation in a job, with its inputs and the fan-out scopes it runs in."""

    handle: str
    op: OpDefinition
    inputs: dict[str, InputSource]
    scope: Scope
    retry_policy: RetryPolicy | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.scope)


def _checked_ratio(value: Any, handle: "OutputHandle") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise InvalidDefinitionError(
            f"Cannot .collect() output '{handle.output}' of '{handle.node}': min_success_ratio must be a number "
            f"greater than 0 and at most 1 (the share of keys that must succeed), got {value!r}."
        )
    return float(value)


class OutputHandle:
    """What composing an op returns: a reference to one of its outputs (not a value)."""

    __slots__ = ("node", "output", "scope", "kind", "min_success_ratio")

    def __init__(self, node: str, output: str, scope: Scope, kind: str,
                 min_success_ratio: float | None = None) -> None:
        self.node = node
        self.output = output
        self.scope = scope
        self.kind = kind  # PLAIN, DYNAMIC (an unmapped dynamic output), "VALUE" (one key's value), COLLECT
        self.min_success_ratio = min_success_ratio  # only for COLLECT

    def map(self, fn: Callable[..., Any]) -> Any:
        """Run ``fn`` once per mapping key; ops it invokes become mapped nodes (``op[key]``)."""
        if self.kind == DYNAMIC:
            value = OutputHandle(self.node, self.output, self.scope + ((self.node, self.output),), "VALUE")
        elif self.scope and self.kind in (PLAIN, "VALUE"):
            value = self  # chained map: x.map(a).map(b)
        else:
            raise InvalidDefinitionError(
                f"Cannot .map() output '{self.output}' of '{self.node}': only a DynamicOut or the result "
                "of a previous .map() can be mapped."
            )
        composition = current_composition()
        if composition is None:
            raise InvalidDefinitionError(".map() can only be used inside a @job or @graph body.")
        with composition.builder.mapping_over(value.scope):
            result = fn(value)
        _check_map_result(result, self)
        return result

    def collect(self, min_success_ratio: float | None = None) -> "OutputHandle":
        """Gather the mapped values into one list, in yield order.

        With ``min_success_ratio`` (0 < r <= 1) the collecting step waits until every key has settled and
        runs with the values of the keys that succeeded, if at least that share of the keys did; else it
        fails. Without it, one failed key skips the collecting step (Dagster's rule).
        """
        ratio = _checked_ratio(min_success_ratio, self)
        if self.kind == DYNAMIC:
            return OutputHandle(self.node, self.output, self.scope, COLLECT, ratio)
        if self.kind in ("VALUE", PLAIN) and self.scope:
            return OutputHandle(self.node, self.output, self.scope[:-1], COLLECT, ratio)
        raise InvalidDefinitionError(
            f"Cannot .collect() output '{self.output}' of '{self.node}': it is not mapped "
            "(collect the result of .map() or a DynamicOut)."
        )

    def as_source(self, consumer: str, input_name: str) -> InputSource:
        if self.kind == DYNAMIC:
            raise InvalidDefinitionError(
                f"{unmapped_dynamic_message(_job_name(), self.output, self.node)} (dagviz: input '{input_name}' of "
                f"'{consumer}'; use .map(...) to run per key or .collect() to gather the keys)"
            )
        kind = {"VALUE": DYNAMIC, PLAIN: PLAIN, COLLECT: COLLECT}[self.kind]
        return InputSource(kind, self.node, self.output, min_success_ratio=self.min_success_ratio)

    def __repr__(self) -> str:
        return f"<{self.kind.lower()} output '{self.output}' of '{self.node}'>"


def _check_map_result(result: Any, mapped: OutputHandle) -> None:
    items = result.values() if isinstance(result, dict) else result if isinstance(result, tuple) else [result]
    for item in items:
        if item is not None and not isinstance(item, OutputHandle):
            raise InvalidDefinitionError(
                f"The function mapped over '{mapped.node}' returned {item!r}; it must compose ops and return "
                "their outputs (or nothing)."
            )


class JobBuilder:
    """Collects the nodes of one job while its body runs."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self.nodes: dict[str, NodeSpec] = {}
        self.graph_handles: set[str] = set()
        # graph handle -> its outputs, each the op output it stands for
        self.graph_outputs: dict[str, dict[str, tuple[str, str]]] = {}
        self._map_scopes: list[Scope] = [()]

    @contextmanager
    def mapping_over(self, scope: Scope) -> Iterator[None]:
        """While a ``.map()`` function runs, values of this scope may be passed to ops."""
        self._map_scopes.append(scope)
        try:
            yield
        finally:
            self._map_scopes.pop()

    @property
    def map_scope(self) -> Scope:
        return self._map_scopes[-1]

    def _taken(self, handle: str) -> bool:
        return handle in self.nodes or handle in self.graph_handles

    def claim_handle(self, parent: str | None, name: str, is_alias: bool) -> str:
        """A unique handle for a new node: ``add``, then ``add_2``, ``add_3``... (an alias must be unique)."""
        handle = join_handle(parent, name)
        if not self._taken(handle):
            return handle
        if is_alias:
            raise InvalidDefinitionError(f"Job '{self.job_name}' uses the name '{handle}' twice.")
        index = 2
        while self._taken(join_handle(parent, f"{name}_{index}")):
            index += 1
        return join_handle(parent, f"{name}_{index}")


class Composition:
    """The body being traced at one graph level (the job itself or a graph inside it)."""

    def __init__(self, builder: JobBuilder, parent: str | None) -> None:
        self.builder = builder
        self.parent = parent

    def invoke_op(self, pending: PendingInvocation, args: tuple, kwargs: dict) -> Any:
        op_def = pending.op
        bound = _bind_inputs(op_def.name, list(op_def.ins), args, kwargs)
        handle = self.builder.claim_handle(self.parent, pending.alias_name or op_def.name, pending.alias_name is not None)
        inputs: dict[str, InputSource] = {}
        scopes: list[Scope] = []
        for input_name, spec in op_def.ins.items():
            if input_name in bound:
                value = bound[input_name]
                inputs[input_name] = _connected_source(value, handle, input_name, op_def.name)
                scopes.extend(item.scope for item in _handles_in(value))
            elif spec.has_default:
                inputs[input_name] = InputSource(DEFAULT, default=spec.default_value)
            else:
                inputs[input_name] = InputSource(NOTHING if spec.is_nothing else CONFIG)
        scope = _innermost_scope(handle, scopes)
        for input_name, value in bound.items():
            for item in _handles_in(value):
                self._check_visible(item, handle, input_name)
        self.builder.nodes[handle] = NodeSpec(
            handle, op_def, inputs, scope, pending.retry_policy or op_def.retry_policy, {**op_def.tags, **pending.tags}
        )
        outputs = [
            OutputHandle(handle, name, scope, DYNAMIC if out.is_dynamic else PLAIN) for name, out in op_def.outs.items()
        ]
        if len(outputs) == 1:
            return outputs[0]
        return namedtuple(f"{op_def.name}_outputs", list(op_def.outs))(*outputs)

    def _check_visible(self, value: OutputHandle, consumer: str, input_name: str) -> None:
        """A mapped value can only be used inside the ``.map()`` function of its fan-out (or a deeper one)."""
        if not _visible_here(value):
            raise InvalidDefinitionError(
                f"{unmapped_dynamic_message(self.builder.job_name, value.output, value.node)} (dagviz: input "
                f"'{input_name}' of '{consumer}' receives the mapped output outside its .map(): call .collect() on "
                f"it to gather the keys, or invoke '{consumer}' inside the mapped function)"
            )

    def invoke_graph(self, graph: Any, alias: str | None, args: tuple, kwargs: dict) -> Any:
        bound = _bind_inputs(graph.name, graph.input_names, args, kwargs)
        missing = [name for name in graph.input_names if name not in bound]
        if missing:
            raise InvalidDefinitionError(f"Graph '{graph.name}' was invoked without inputs {missing}.")
        handle = self.builder.claim_handle(self.parent, alias or graph.name, alias is not None)
        self.builder.graph_handles.add(handle)
        result = run_composition(graph.compose_fn, Composition(self.builder, handle), bound)
        output_names = graph.output_names
        if output_names:
            result = _named_graph_result(graph.name, output_names, result)
        self.builder.graph_outputs[handle] = _graph_outputs(graph.name, result)
        return result


def _handles_in(value: Any) -> list["OutputHandle"]:
    return list(value) if isinstance(value, list) else [value]


def _connected_source(value: Any, consumer: str, input_name: str, op_name: str) -> InputSource:
    """The source of an input given a handle, or a list of plain outputs (fan-in, with Dagster's limits)."""
    if isinstance(value, OutputHandle):
        return value.as_source(consumer, input_name)
    if isinstance(value, list) and value and all(isinstance(item, OutputHandle) for item in value):
        for index, item in enumerate(value):
            if item.kind == "VALUE":
                raise InvalidDefinitionError(
                    f"{dynamic_fan_in_message(f'{item.node}:{item.output}')} (dagviz: input '{input_name}' of "
                    f"'{consumer}'; .collect() the fan-out and pass the list on its own)"
                )
            if item.kind in (DYNAMIC, COLLECT) or not _visible_here(item):
                raise InvalidDefinitionError(
                    f"{invalid_fan_in_item_message(_job_name(), index, input_name, op_name)} (dagviz: only plain "
                    "outputs can be listed; .collect() a fan-out and pass the list on its own)"
                )
            if item.scope:
                emitter, output = item.scope[-1]
                raise InvalidDefinitionError(
                    f"{dynamic_fan_in_message(f'{item.node}:{item.output}', f'{emitter}:{output}')} (dagviz: input "
                    f"'{input_name}' of '{consumer}')"
                )
        return InputSource(FANIN, sources=tuple(item.as_source(consumer, input_name) for item in value))
    raise InvalidDefinitionError(
        f"Input '{input_name}' of op '{consumer}' was given {value!r}: inside a job or graph, "
        "inputs must be outputs of other ops, or a list of them (use config for constant values)."
    )


def _named_graph_result(graph_name: str, output_names: list[str], result: Any) -> Any:
    """A multi-output graph's body result (a dict, or a tuple in declaration order) as one handle per output."""
    if isinstance(result, tuple) and not hasattr(result, "_fields") and len(result) == len(output_names):
        result = dict(zip(output_names, result))
    given = result if isinstance(result, dict) else {}
    for name in output_names:
        if name not in given:
            raise InvalidDefinitionError(
                f"@graph '{graph_name}' has unmapped output '{name}'. Remove it or return a value from the "
                "appropriate op/graph invocation."
            )
    return namedtuple(f"{graph_name}_outputs", output_names)(*(given[name] for name in output_names))


def _graph_outputs(graph_name: str, result: Any) -> dict[str, tuple[str, str]]:
    """What a graph body returned, as named outputs: a handle is ``result``, a dict names them."""
    if isinstance(result, OutputHandle):
        named = {"result": result}
    elif isinstance(result, dict):
        named = result
    elif isinstance(result, tuple) and hasattr(result, "_fields"):
        named = dict(zip(result._fields, result))
    else:
        named = {}
    outputs = {}
    for name, value in named.items():
        if isinstance(value, OutputHandle):
            outputs[name] = (value.node, value.output)
    return outputs


def _bind_inputs(name: str, input_names: list[str], args: tuple, kwargs: dict) -> dict[str, Any]:
    if len(args) > len(input_names):
        raise InvalidDefinitionError(
            f"'{name}' takes {len(input_names)} inputs ({', '.join(input_names) or 'none'}) but got {len(args)}."
        )
    bound = dict(zip(input_names, args))
    for key, value in kwargs.items():
        if key not in input_names:
            raise InvalidDefinitionError(f"'{name}' has no input '{key}' (inputs: {', '.join(input_names) or 'none'}).")
        if key in bound:
            raise InvalidDefinitionError(f"Input '{key}' of '{name}' was given twice.")
        bound[key] = value
    return bound


def _innermost_scope(handle: str, scopes: list[Scope]) -> Scope:
    """The deepest scope among the inputs; every other must enclose it, or the op is ambiguous."""
    deepest: Scope = max(scopes, key=len, default=())
    for scope in scopes:
        if deepest[: len(scope)] != scope:
            first, second = _first_difference(deepest, scope)
            raise InvalidDefinitionError(
                f"{two_dynamic_outputs_message(handle, first, second)} (dagviz: an op can be mapped over one "
                "fan-out at a time, or over fan-outs nested inside one another; .collect() one of them first)"
            )
    return deepest


def _first_difference(deepest: Scope, other: Scope) -> tuple[str, str]:
    """The two dynamic outputs (``node:output``) where two scopes part ways."""
    for mine, theirs in zip(deepest, other):
        if mine != theirs:
            return f"{mine[0]}:{mine[1]}", f"{theirs[0]}:{theirs[1]}"
    return f"{deepest[-1][0]}:{deepest[-1][1]}", f"{other[-1][0]}:{other[-1][1]}"


_active = threading.local()


def _visible_here(value: OutputHandle) -> bool:
    """A mapped value is usable only inside its own ``.map()`` function (or a deeper one)."""
    composition = current_composition()
    map_scope = composition.builder.map_scope if composition is not None else ()
    return map_scope[: len(value.scope)] == value.scope


def _job_name() -> str:
    composition = current_composition()
    return composition.builder.job_name if composition is not None else "?"


def current_composition() -> Composition | None:
    """The body being traced on this thread, or None when ops are called directly."""
    stack = getattr(_active, "stack", None)
    return stack[-1] if stack else None


def run_composition(fn: Callable, composition: Composition, inputs: dict[str, Any]) -> Any:
    stack = _active.__dict__.setdefault("stack", [])
    stack.append(composition)
    try:
        return fn(**inputs)
    finally:
        stack.pop()


def compose_job(job_name: str, fn: Callable) -> JobBuilder:
    """Trace a job body; the builder holds its nodes in invocation order and its graphs' outputs."""
    builder = JobBuilder(job_name)
    run_composition(fn, Composition(builder, None), {})
    if not builder.nodes:
        raise InvalidDefinitionError(f"Job '{job_name}' has no ops: its body must invoke at least one op.")
    return builder


def check_graph_body(name: str, fn: Callable, output_names: list[str]) -> None:
    """Trace a graph body without inputs once, so a composition error shows where the graph is defined."""
    result = run_composition(fn, Composition(JobBuilder(name), None), {})
    if output_names:
        _named_graph_result(name, output_names, result)


def invoke_op_directly(op_def: OpDefinition, args: tuple, kwargs: dict) -> Any:
    """Call an op outside a job (unit tests): runs its function with the given arguments."""
    from dagviz.definitions.direct_invocation import direct_arguments

    with direct_arguments(op_def, args, kwargs) as (args, kwargs):
        result = op_def.compute_fn(*args, **kwargs)
    if op_def.dynamic_output_names and not inspect.isgenerator(result):
        from dagviz.execution.step_runner import check_dynamic_result

        check_dynamic_result(op_def, result)  # as in a run: a bare DynamicOutput or a value is an error
    return result


def input_names_of(fn: Callable) -> list[str]:
    """A graph or job body's input names (its parameters)."""
    return list(inspect.signature(fn).parameters)
