"""Resources of running runs in this process: set up once per run, when a step first needs them.

Every process that runs steps (the coordinator for ``in_process``, each multiprocess worker,
each Dask worker) keeps one :class:`RunResources` per run it has run steps of. A resource is
set up the first time a step there needs it, and only once (threads of a Dask worker
included); a resource that fails to set up fails every step that needs it, with the same
error naming the resource. ``close_run_resources`` tears down what was set up, in reverse
order, when the run's work in that process ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any, Iterator, Mapping

from dagviz.definitions.resources import (
    InitResourceContext,
    ResourceDefinition,
    Resources,
    missing_dependency_error,
    resolve_resource_defs,
)
from dagviz.errors import InvalidDefinitionError, ResourceInitError

logger = logging.getLogger(__name__)

_NO_RESOURCES = Resources({})
_MISSING = object()


class RunResources:
    """The resources of one run in this process, each set up on first use and kept until ``teardown``."""

    def __init__(self, run_id: str, resource_defs: Mapping[str, ResourceDefinition],
                 resource_configs: Mapping[str, Any] | None) -> None:
        self.run_id = run_id
        self.resource_defs = resource_defs
        self.resource_configs = resource_configs or {}
        self._values: dict[str, Any] = {}
        self._failures: dict[str, tuple[str, BaseException]] = {}
        self._teardowns: list[tuple[str, Iterator[Any], InitResourceContext]] = []
        self._views: dict[frozenset[str], Resources] = {}
        self._lock = threading.RLock()

    def get(self, key: str, _needed_by: tuple[str, ...] = ()) -> Any:
        value = self._values.get(key, _MISSING)
        if value is not _MISSING:
            return value
        with self._lock:
            value = self._values.get(key, _MISSING)
            if value is _MISSING:
                value = self._set_up(key, _needed_by)
        return value

    def _set_up(self, key: str, needed_by: tuple[str, ...]) -> Any:
        failure = self._failures.get(key)
        if failure is not None:
            raise ResourceInitError(failure[0]) from failure[1]
        if key in needed_by:
            raise InvalidDefinitionError(f"Resources depend on each other in a cycle: {' -> '.join(needed_by + (key,))}.")
        definition = self.resource_defs.get(key)
        if definition is None:
            raise InvalidDefinitionError(
                f"No resource with key '{key}' in this job (resources: {', '.join(sorted(self.resource_defs)) or 'none'})."
            )
        for dependency in definition.required_resource_keys:
            if dependency not in self.resource_defs:
                raise missing_dependency_error(dependency, key, self.resource_defs)
        dependencies = Resources({name: self.get(name, needed_by + (key,)) for name in definition.required_resource_keys})
        context = InitResourceContext(self.resource_configs.get(key), dependencies, self.run_id, definition)
        try:
            value, teardown = definition.setup(context)
        except Exception as error:  # user code: every step needing this resource fails with this message
            message = f"Error executing resource_fn on ResourceDefinition '{key}': {type(error).__name__}: {error}"
            self._failures[key] = (message, error)
            raise ResourceInitError(message) from error
        if teardown is not None:
            self._teardowns.append((key, teardown, context))
        self._values[key] = value
        return value

    def view(self, keys: frozenset[str]) -> Resources:
        """``context.resources`` for an op needing ``keys`` (each set up now if it is not yet)."""
        view = self._views.get(keys)
        if view is None:
            view = Resources({key: self.get(key) for key in sorted(keys)})
            self._views[keys] = view
        return view

    def teardown(self) -> list[str]:
        """Resume every generator resource after its ``yield``, last set up first; returns the errors."""
        with self._lock:
            teardowns, self._teardowns = self._teardowns, []
            self._values.clear()
            self._views.clear()
        problems = []
        for key, generator, _context in reversed(teardowns):
            try:
                next(generator, None)
            except Exception as error:  # a failing teardown must not stop the others
                problems.append(f"Teardown of resource '{key}' failed: {type(error).__name__}: {error}")
                logger.exception("Teardown of resource '%s' of run %s failed", key, self.run_id)
            finally:
                generator.close()
        return problems


_runs: dict[str, RunResources] = {}
_runs_lock = threading.Lock()


def _forget_inherited_runs() -> None:
    """In a forked child: the parent's runs are not this process's to use or tear down."""
    global _runs_lock
    _runs_lock = threading.Lock()
    _runs.clear()


os.register_at_fork(after_in_child=_forget_inherited_runs)


def resources_for_step(run_id: str, keys: frozenset[str], resource_defs: Mapping[str, ResourceDefinition] | None,
                       resource_configs: Mapping[str, Any] | None) -> Resources:
    """The resources a step needs, from its run's resources in this process (created on first use)."""
    if not keys:
        return _NO_RESOURCES
    run = _runs.get(run_id)
    if run is None:
        with _runs_lock:
            run = _runs.get(run_id)
            if run is None:
                run = _runs[run_id] = RunResources(run_id, resource_defs or {}, resource_configs)
    return run.view(keys)


def close_run_resources(run_id: str) -> list[str]:
    """Tear down what run ``run_id`` set up in this process (nothing if it set up nothing)."""
    with _runs_lock:
        run = _runs.pop(run_id, None)
    return run.teardown() if run is not None else []


def close_all_run_resources() -> None:
    """Tear down the resources of every run in this process (a worker process that is stopping)."""
    with _runs_lock:
        runs = list(_runs)
    for run_id in runs:
        close_run_resources(run_id)


def open_runs() -> list[str]:
    """Run ids with resources in this process (for tests and diagnostics)."""
    return list(_runs)


@contextlib.contextmanager
def build_resources(resources: Mapping[str, Any], resource_config: Mapping[str, Any] | None = None,
                    run_id: str = "direct") -> Iterator[Resources]:
    """Set up ``resources`` outside a run (scripts, tests); torn down when the ``with`` block ends.

    ``resource_config`` is keyed like run config's section: ``{"db": {"config": {...}}}``.
    """
    run = open_direct_resources(resources, resource_config, run_id)
    try:
        yield run.view(frozenset(run.resource_defs))
    finally:
        run.teardown()


def open_direct_resources(resources: Mapping[str, Any], resource_config: Mapping[str, Any] | None = None,
                          run_id: str = "direct") -> RunResources:
    """Resources for direct invocation: validated against their schemas, not registered with any run."""
    from dagviz.config.run_config import resolve_resource_configs

    resource_defs = resolve_resource_defs(resources)
    configs = resolve_resource_configs(resource_defs, resource_config)
    return RunResources(run_id, resource_defs, configs)
