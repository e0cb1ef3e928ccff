"""What an op sees as ``context``: its config, resources, a logger, the run and its tags, its mapping key, the retry number."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from dagviz.definitions.resources import Resources
from dagviz.errors import DagsterInvariantViolationError
from dagviz.execution.events import LogMessage
from dagviz.execution.run_records import DagsterRun, DagsterRunStatus

if TYPE_CHECKING:
    from dagviz.definitions.ops import OpDefinition
    from dagviz.execution.run_resources import RunResources

_python_logger = logging.getLogger("dagviz.ops")
_NO_RESOURCES = Resources({})
_NO_TAGS: Mapping[str, str] = {}


@dataclass(frozen=True)
class OpNode:
    """``context.op``: the node running (``name`` is its own name, ``handle`` includes enclosing graphs)."""

    name: str
    handle: str


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
                 emit: Callable[[LogMessage], None], parent_run_id: str | None = None,
                 resources: Resources | None = None, tags: Mapping[str, str] | None = None,
                 op_def: "OpDefinition | None" = None) -> None:
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
        self.yielded_keys: dict[str, set[str]] = {}  # dynamic output -> mapping keys already stored this attempt
        self.resources = resources if resources is not None else _NO_RESOURCES
        self.run_tags: Mapping[str, str] = tags if tags is not None else _NO_TAGS
        self.op_def = op_def
        self._direct_resources: "RunResources | None" = None  # set up by build_op_context, torn down on exit

    @property
    def op(self) -> OpNode:
        return OpNode(self.node_handle.rsplit(".", 1)[-1], self.node_handle)

    @property
    def op_handle(self) -> str:
        """The node's handle, with the graphs it is in (``graph.op``)."""
        return self.node_handle

    @property
    def run(self) -> DagsterRun:
        """The running run's record: its id, job name and tags (the job's tags overlaid by the run's own)."""
        return DagsterRun(self.run_id, self.job_name, DagsterRunStatus.STARTED, dict(self.run_tags),
                          parent_run_id=self.parent_run_id)

    @property
    def dagster_run(self) -> DagsterRun:
        """Dagster's other name for ``context.run``."""
        return self.run

    def has_tag(self, key: str) -> bool:
        """Whether the run has tag ``key`` (the job's tags overlaid by the tags the run was launched with)."""
        return key in self.run_tags

    def get_tag(self, key: str) -> str | None:
        return self.run_tags.get(key)

    def __enter__(self) -> "OpExecutionContext":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._direct_resources is not None:
            self._direct_resources.teardown()
            self._direct_resources = None

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

        output = self._metadata_output(output_name)
        if mapping_key is not None and mapping_key in self.yielded_keys.get(output, ()):
            raise DagsterInvariantViolationError(
                f"In op '{self.op.name}', attempted to log output metadata for output '{output}' with mapping_key "
                f"'{mapping_key}' which has already been yielded. Metadata must be logged before the output is yielded."
            )
        slot = (output_name, mapping_key)
        self.output_metadata.setdefault(slot, {}).update(normalize_metadata(metadata))

    def _metadata_output(self, output_name: str | None) -> str | None:
        """The output ``add_output_metadata`` is about, checked against the op's outputs (Dagster's errors)."""
        if self.op_def is None:
            return output_name
        outputs = list(self.op_def.outs)
        if output_name is None:
            if len(outputs) > 1:
                raise DagsterInvariantViolationError(
                    "Attempted to add metadata without providing output_name, but multiple outputs exist. Please "
                    "provide an output_name to the invocation of `context.add_output_metadata`."
                )
            return outputs[0]
        if output_name not in outputs:
            raise DagsterInvariantViolationError(f"{self.op.name} has no output named {output_name}.")
        return output_name

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
                     retry_number: int = 0, parent_run_id: str | None = None, *,
                     resources: Mapping[str, Any] | None = None, resources_config: Mapping[str, Any] | None = None,
                     config: Any = None, run_tags: Mapping[str, str] | None = None) -> OpExecutionContext:
    """A context for calling an op function directly in a unit test; logs go to Python logging.

    ``resources`` are set up now (plain objects, ``@resource`` definitions, ConfigurableResource
    instances; ``resources_config`` as run config's ``resources`` section); use the context in a
    ``with`` block to tear them down at its end. ``config`` is Dagster's other name for ``op_config``.
    """
    context = OpExecutionContext(
        run_id=run_id, job_name="direct", step_key="direct", op_name="direct", node_handle="direct",
        op_config=op_config if op_config is not None else config,
        mapping_keys=(mapping_key,) if mapping_key else (), retry_number=retry_number,
        emit=lambda event: None, parent_run_id=parent_run_id, tags=dict(run_tags or {}),
    )
    if resources:
        from dagviz.execution.run_resources import open_direct_resources

        direct = open_direct_resources(resources, resources_config, run_id)
        context._direct_resources = direct
        context.resources = direct.view(frozenset(direct.resource_defs))
    return context
