"""``@graph`` and ``@job``: compositions of ops (graphs nest; a job is what runs)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from dagviz.definitions.composition import (
    NodeSpec,
    check_graph_body,
    compose_job,
    current_composition,
    input_names_of,
)
from dagviz.definitions.ops import RetryPolicy
from dagviz.definitions.resources import ResourceDefinition, check_resources_provided, resolve_resource_defs
from dagviz.definitions.executor_defs import ExecutorDefinition
from dagviz.errors import InvalidDefinitionError
from dagviz.step_keys import validate_node_name


@dataclass(frozen=True)
class GraphOut:
    """One output of a graph: ``@graph(out={"a": GraphOut(), "b": GraphOut()})`` returns a dict of them."""

    description: str | None = None


@dataclass(frozen=True)
class GraphIn:
    """One input of a graph (a description only; graph inputs are the body's parameters)."""

    description: str | None = None


class GraphDefinition:
    """A reusable composition of ops; invoked inside a job its nodes get handles ``graph.op``.

    With several outputs (``out={"a": GraphOut(), "b": GraphOut()}``) the body returns a dict and
    an invocation gives one handle per output, in declaration order (``a, b = my_graph()``).
    """

    def __init__(self, fn: Callable, name: str | None = None, description: str | None = None,
                 tags: dict[str, str] | None = None, out: Any = None, ins: dict | None = None) -> None:
        self.name = validate_node_name(name or fn.__name__)
        self.compose_fn = fn
        self.description = description or inspect.getdoc(fn)
        self.tags = dict(tags or {})
        self.input_names = input_names_of(fn)
        self.output_names: list[str] = list(out) if isinstance(out, dict) else []
        unknown = sorted(set(ins or {}) - set(self.input_names))
        if unknown:
            raise InvalidDefinitionError(f"Graph '{self.name}': ins {unknown} are not parameters of its function.")
        if not self.input_names:
            check_graph_body(self.name, fn, self.output_names)  # as in Dagster: fails where it is defined

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._invoke(None, args, kwargs)

    def alias(self, name: str) -> Callable[..., Any]:
        validate_node_name(name)
        return lambda *args, **kwargs: self._invoke(name, args, kwargs)

    def _invoke(self, alias: str | None, args: tuple, kwargs: dict) -> Any:
        composition = current_composition()
        if composition is None:
            raise InvalidDefinitionError(
                f"Graph '{self.name}' can only be invoked inside a @job or @graph body; "
                "to run it, use .to_job().execute_in_process()."
            )
        return composition.invoke_graph(self, alias, args, kwargs)

    def to_job(self, name: str | None = None, description: str | None = None,
               tags: dict[str, str] | None = None, resource_defs: Mapping[str, Any] | None = None,
               op_retry_policy: RetryPolicy | None = None,
               executor_def: ExecutorDefinition | None = None) -> "JobDefinition":
        if self.input_names:
            raise InvalidDefinitionError(
                f"Graph '{self.name}' takes inputs {self.input_names}; only a graph without inputs can become a job."
            )
        return JobDefinition(self.compose_fn, name or self.name, description or self.description,
                             {**self.tags, **(tags or {})}, resource_defs, op_retry_policy, executor_def)

    def execute_in_process(self, run_config: dict | None = None, **kwargs: Any) -> Any:
        """Run this graph as a job of the same name (Dagster allows it for a graph without inputs)."""
        return self.to_job().execute_in_process(run_config, **kwargs)

    def __repr__(self) -> str:
        return f"<graph {self.name}>"


class JobDefinition:
    """A runnable job: its nodes (graphs flattened), tags, resources and config schema.

    A job given ``resource_defs`` must provide every resource its ops need (checked now, as
    Dagster does); a job given none may get them from ``Definitions`` and is checked when it runs.
    """

    def __init__(self, fn: Callable, name: str | None = None, description: str | None = None,
                 tags: dict[str, str] | None = None, resource_defs: Mapping[str, Any] | None = None,
                 op_retry_policy: RetryPolicy | None = None, executor_def: ExecutorDefinition | None = None) -> None:
        self.name = validate_node_name(name or fn.__name__)
        self.executor_def = executor_def  # the executor when run config names none (None: in_process)
        if input_names_of(fn):
            raise InvalidDefinitionError(f"Job '{self.name}' body must take no parameters.")
        self.description = description or inspect.getdoc(fn)
        self.tags = dict(tags or {})
        builder = compose_job(self.name, fn)
        self.nodes: dict[str, NodeSpec] = builder.nodes
        self.graph_outputs: dict[str, dict[str, tuple[str, str]]] = builder.graph_outputs
        self.op_selection: list[str] | None = None
        self.module_name = fn.__module__
        main = sys.modules.get("__main__")
        self.source_file = getattr(main, "__file__", None) if fn.__module__ == "__main__" else None
        if op_retry_policy is not None:  # for every op that has no retry policy of its own
            self.nodes = {handle: node if node.retry_policy else dataclasses.replace(node, retry_policy=op_retry_policy)
                          for handle, node in self.nodes.items()}
        self.resource_defs: dict[str, ResourceDefinition] = resolve_resource_defs(resource_defs)
        if resource_defs:
            self.check_resources()

    def check_resources(self) -> None:
        """Raise ``InvalidDefinitionError`` if an op (or a resource) needs a resource key the job does not provide."""
        check_resources_provided(self.name, self.nodes, self.resource_defs)

    def bind_resources(self, resources: Mapping[str, Any], override: bool = False) -> "JobDefinition":
        """This job with ``resources`` under its own (its own win, as ``Definitions`` binds them; ``override``:
        the given ones win, as ``execute_in_process(resources=...)``); checked now."""
        bound = copy.copy(self)
        given = resolve_resource_defs(resources)
        bound.resource_defs = {**self.resource_defs, **given} if override else {**given, **self.resource_defs}
        bound.check_resources()
        return bound

    def execute_in_process(self, run_config: dict | None = None, raise_on_error: bool = True,
                           run_id: str | None = None, tags: dict[str, str] | None = None,
                           op_selection: Sequence[str] | None = None, **kwargs: Any) -> Any:
        """Run every step in this process with in-memory outputs; returns an ``ExecutionResult``."""
        from dagviz.execution.api import execute_in_process

        return execute_in_process(self, run_config, raise_on_error=raise_on_error, run_id=run_id, tags=tags,
                                  op_selection=op_selection, **kwargs)

    def get_subset(self, op_selection: Sequence[str] | None) -> "JobDefinition":
        """This job reduced to the ops ``op_selection`` names (Dagster's syntax; see ``definitions.selection``)."""
        if not op_selection:
            return self
        from dagviz.definitions.selection import select_nodes, subset_nodes

        selected = select_nodes(self.nodes, op_selection)
        subset = copy.copy(self)
        subset.nodes = subset_nodes(self.nodes, selected)
        subset.graph_outputs = {graph: {name: target for name, target in outputs.items() if target[0] in selected}
                                for graph, outputs in self.graph_outputs.items()}
        subset.op_selection = list(op_selection)
        subset.__dict__.pop("_plan_index", None)
        return subset

    def run_config_schema(self) -> Any:
        from dagviz.config.run_config import run_config_type

        return run_config_type(self.nodes, resource_defs=self.resource_defs)

    def default_run_config(self) -> dict:
        from dagviz.config.run_config import default_run_config

        return default_run_config(self.nodes, resource_defs=self.resource_defs)

    @property
    def is_dynamic(self) -> bool:
        return any(node.scope for node in self.nodes.values())

    def __repr__(self) -> str:
        return f"<job {self.name}>"


def graph(fn: Callable | None = None, *, name: str | None = None, description: str | None = None,
          tags: dict[str, str] | None = None, out: Any = None, ins: dict | None = None) -> Any:
    """Declare a graph, bare (``@graph``) or with arguments (``@graph(out={"a": GraphOut()})``)."""

    def decorate(function: Callable) -> GraphDefinition:
        return GraphDefinition(function, name, description, tags, out, ins)

    return decorate(fn) if fn is not None else decorate


def job(fn: Callable | None = None, *, name: str | None = None, description: str | None = None,
        tags: dict[str, str] | None = None, resource_defs: Mapping[str, Any] | None = None,
        op_retry_policy: RetryPolicy | None = None, executor_def: ExecutorDefinition | None = None) -> Any:
    """Declare a job, bare (``@job``) or with arguments (``@job(name=..., resource_defs={"db": ...})``)."""

    def decorate(function: Callable) -> JobDefinition:
        return JobDefinition(function, name, description, tags, resource_defs, op_retry_policy, executor_def)

    return decorate(fn) if fn is not None else decorate
