"""Executors behind one protocol (``base.Executor``): ``in_process``, ``multiprocess`` and, with dagviz[dask], ``dask``."""

from __future__ import annotations

import importlib.util

from dagviz.config.run_config import ExecutorChoice
from dagviz.errors import DagvizError
from dagviz.execution.executors.base import Executor

EXECUTOR_NAMES = ("in_process", "multiprocess", "dask")


DASK_MISSING = "The dask executor needs the dask extra: pip install 'dagviz[dask]'"


def check_executor_available(name: str) -> None:
    """Raise a ``DagvizError`` now if executor ``name`` needs an optional dependency that is not installed."""
    # Found without importing it: importing distributed takes 0.3 s, which a dask run spends later.
    if name == "dask" and importlib.util.find_spec("distributed") is None:
        raise DagvizError(DASK_MISSING)


def make_executor(choice: ExecutorChoice) -> Executor:
    """The executor named in run config (``execution: {multiprocess: {max_concurrent: 2}}``)."""
    if choice.name == "in_process":
        from dagviz.execution.executors.in_process import InProcessExecutor

        return InProcessExecutor()
    if choice.name == "multiprocess":
        from dagviz.execution.executors.multiprocess import MultiprocessExecutor

        return MultiprocessExecutor(choice.config.get("max_concurrent"), choice.config.get("start_method", "spawn"))
    if choice.name == "dask":
        check_executor_available("dask")
        config = choice.config
        if not config.get("address"):
            from dagviz.execution.executors.dask_forkserver import start_worker_forkserver

            start_worker_forkserver()  # before importing distributed here: both imports run at once
        from dagviz.execution.executors.dask import DaskExecutor

        return DaskExecutor(config.get("address"), config.get("n_workers"), config.get("threads_per_worker"))
    raise DagvizError(f"Unknown executor '{choice.name}'; valid executors: {', '.join(EXECUTOR_NAMES)}.")
