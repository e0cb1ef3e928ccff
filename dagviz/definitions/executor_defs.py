"""Executor definitions, Dagster style: ``@job(executor_def=multiprocess_executor)`` picks a job's default executor.

The run config's ``execution`` section still wins when it names one; ``.configured({...})`` gives
the executor's config, as in Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExecutorDefinition:
    """An executor by name (``in_process``, ``multiprocess``, ``dask``) with its default config."""

    name: str
    config: dict = field(default_factory=dict)

    def configured(self, config: dict[str, Any]) -> "ExecutorDefinition":
        return ExecutorDefinition(self.name, {**self.config, **dict(config or {})})


in_process_executor = ExecutorDefinition("in_process")
multiprocess_executor = ExecutorDefinition("multiprocess")
dask_executor = ExecutorDefinition("dask")
