"""Executors behind one protocol (``base.Executor``): ``in_process``, ``multiprocess`` and, with dagviz[dask], ``dask``."""

from __future__ import annotations

from dagviz.config.run_config import ExecutorChoice
from dagviz.errors import DagvizError
from dagviz.execution.executors.base import Executor

EXECUTOR_NAMES = ("in_process", "multiprocess", "dask")


def make_executor(choice: ExecutorChoice) -> Executor:
    """The executor named in run config (``execution: {multiprocess: {max_concurrent: 2}}``)."""
    if choice.name == "in_process":
        from dagviz.execution.executors.in_process import InProcessExecutor

        return InProcessExecutor()
    if choice.name == "multiprocess":
        from dagviz.execution.executors.multiprocess import MultiprocessExecutor

        return MultiprocessExecutor(choice.config.get("max_concurrent"), choice.config.get("start_method", "spawn"))
    if choice.name == "dask":
        raise DagvizError("The dask executor is not available in this installation of dagviz.")
    raise DagvizError(f"Unknown executor '{choice.name}'; valid executors: {', '.join(EXECUTOR_NAMES)}.")
