"""What an op sees as ``context``: its config, a logger, the run id, its mapping key, the retry number."""

from __future__ import annotations

import logging
from typing import Any, Callable

from dagviz.execution.events import LogMessage

_python_logger = logging.getLogger("dagviz.ops")


class StepLogger:
    """``context.log``: each call is recorded as a ``LOG`` event of the step (and sent to Python logging)."""

    def __init__(self, step_key: str, emit: Callable[[LogMessage], None]) -> None:
        self._step_key = step_key
        self._emit = emit

    def _log(self, level: str, message: object) -> None:
        text = str(message)
        self._emit(LogMessage(self._step_key, level=level, text=text))
        _python_logger.log(getattr(logging, level), "%s: %s", self._step_key, text)

    def debug(self, message: object) -> None:
        self._log("DEBUG", message)

    def info(self, message: object) -> None:
        self._log("INFO", message)

    def warning(self, message: object) -> None:
        self._log("WARNING", message)

    warn = warning

    def error(self, message: object) -> None:
        self._log("ERROR", message)

    def exception(self, message: object) -> None:
        self._log("ERROR", message)

    def critical(self, message: object) -> None:
        self._log("CRITICAL", message)


class OpExecutionContext:
    """The ``context`` argument of an op."""

    def __init__(self, *, run_id: str, job_name: str, step_key: str, op_name: str, node_handle: str,
                 op_config: Any, mapping_keys: tuple[str, ...], retry_number: int,
                 emit: Callable[[LogMessage], None], parent_run_id: str | None = None) -> None:
        self.run_id = run_id
        self.job_name = job_name
        self.step_key = step_key
        self.op_name = op_name
        self.node_handle = node_handle
        self.op_config = op_config
        self.mapping_keys = mapping_keys
        self.retry_number = retry_number
        self.parent_run_id = parent_run_id  # set when this run re-executes another
        self.log = StepLogger(step_key, emit)
        self.output_metadata: dict[tuple[str | None, str | None], dict] = {}

    def get_mapping_key(self) -> str | None:
        """The key of this mapped step (the innermost one when fan-outs nest), or None."""
        return self.mapping_keys[-1] if self.mapping_keys else None

    @property
    def has_mapping_key(self) -> bool:
        return bool(self.mapping_keys)

    def add_output_metadata(self, metadata: dict, output_name: str | None = None,
                            mapping_key: str | None = None) -> None:
        """Attach metadata to an output this step produces (the only one when ``output_name`` is None)."""
        from dagviz.definitions.metadata import normalize_metadata

        slot = (output_name, mapping_key)
        self.output_metadata.setdefault(slot, {}).update(normalize_metadata(metadata))

    def metadata_for(self, output_name: str, mapping_key: str | None = None) -> dict:
        """What ``add_output_metadata`` recorded for this output (and key), unnamed entries included."""
        if not self.output_metadata:
            return {}
        merged: dict = {}
        for (name, key), entries in self.output_metadata.items():
            if name in (None, output_name) and key in (None, mapping_key):
                merged.update(entries)
        return merged

    def __repr__(self) -> str:
        return f"<OpExecutionContext {self.step_key} run={self.run_id}>"


def build_op_context(op_config: Any = None, mapping_key: str | None = None, run_id: str = "direct",
                     retry_number: int = 0, parent_run_id: str | None = None) -> OpExecutionContext:
    """A context for calling an op function directly in a unit test; logs go to Python logging."""
    return OpExecutionContext(
        run_id=run_id, job_name="direct", step_key="direct", op_name="direct", node_handle="direct",
        op_config=op_config, mapping_keys=(mapping_key,) if mapping_key else (), retry_number=retry_number,
        emit=lambda event: None, parent_run_id=parent_run_id,
    )
