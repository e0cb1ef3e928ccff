"""``@graph`` and ``@job``: compositions of ops (graphs nest; a job is what runs)."""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable

from dagviz.definitions.composition import (
    NodeSpec,
    compose_job,
    current_composition,
    input_names_of,
)
from dagviz.errors import InvalidDefinitionError
from dagviz.step_keys import validate_node_name


class GraphDefinition:
    """A reusable composition of ops; invoked inside a job its nodes get handles ``graph.op``."""

    def __init__(self, fn: Callable, name: str | None = None, description: str | None = None,
                 tags: dict[str, str] | None = None) -> None:
        self.name = validate_node_name(name or fn.__name__)
        self.compose_fn = fn
        self.description = description or inspect.getdoc(fn)
        self.tags = dict(tags or {})
        self.input_names = input_names_of(fn)

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
               tags: dict[str, str] | None = None) -> "JobDefinition":
        if self.input_names:
            raise InvalidDefinitionError(
                f"Graph '{self.name}' takes inputs {self.input_names}; only a graph without inputs can become a job."
            )
        return JobDefinition(self.compose_fn, name or self.name, description or self.description,
                             {**self.tags, **(tags or {})})

    def __repr__(self) -> str:
        return f"<graph {self.name}>"


class JobDefinition:
    """A runnable job: its nodes (graphs flattened), tags and config schema."""

    def __init__(self, fn: Callable, name: str | None = None, description: str | None = None,
                 tags: dict[str, str] | None = None) -> None:
        self.name = validate_node_name(name or fn.__name__)
        if input_names_of(fn):
            raise InvalidDefinitionError(f"Job '{self.name}' body must take no parameters.")
        self.description = description or inspect.getdoc(fn)
        self.tags = dict(tags or {})
        builder = compose_job(self.name, fn)
        self.nodes: dict[str, NodeSpec] = builder.nodes
        self.graph_outputs: dict[str, dict[str, tuple[str, str]]] = builder.graph_outputs
        self.module_name = fn.__module__
        main = sys.modules.get("__main__")
        self.source_file = getattr(main, "__file__", None) if fn.__module__ == "__main__" else None

    def execute_in_process(self, run_config: dict | None = None, raise_on_error: bool = True,
                           run_id: str | None = None, tags: dict[str, str] | None = None) -> Any:
        """Run every step in this process with in-memory outputs; returns an ``ExecutionResult``."""
        from dagviz.execution.api import execute_in_process

        return execute_in_process(self, run_config, raise_on_error=raise_on_error, run_id=run_id, tags=tags)

    def run_config_schema(self) -> Any:
        from dagviz.config.run_config import run_config_type

        return run_config_type(self.nodes)

    def default_run_config(self) -> dict:
        from dagviz.config.run_config import default_run_config

        return default_run_config(self.nodes)

    @property
    def is_dynamic(self) -> bool:
        return any(node.scope for node in self.nodes.values())

    def __repr__(self) -> str:
        return f"<job {self.name}>"


def graph(fn: Callable | None = None, *, name: str | None = None, description: str | None = None,
          tags: dict[str, str] | None = None) -> Any:
    """Declare a graph, bare (``@graph``) or with arguments."""

    def decorate(function: Callable) -> GraphDefinition:
        return GraphDefinition(function, name, description, tags)

    return decorate(fn) if fn is not None else decorate


def job(fn: Callable | None = None, *, name: str | None = None, description: str | None = None,
        tags: dict[str, str] | None = None) -> Any:
    """Declare a job, bare (``@job``) or with arguments (``@job(name=..., tags=...)``)."""

    def decorate(function: Callable) -> JobDefinition:
        return JobDefinition(function, name, description, tags)

    return decorate(fn) if fn is not None else decorate
