"""dagviz: pipelines whose shape is known only at run time, with Dagster's dynamic mapping API.

```python
from dagviz import DynamicOut, DynamicOutput, job, op

@op(out=DynamicOut())
def emit():
    for name in ["a", "b"]:
        yield DynamicOutput(name.upper(), mapping_key=name)

@op
def shout(value: str) -> str:
    return value + "!"

@op
def join(values: list[str]) -> str:
    return " ".join(values)

@job
def hello():
    join(emit().map(shout).collect())
```
"""

from dagviz.config.env_vars import BoolSource, EnvVar, IntEnvVar, IntSource, StringSource
from dagviz.config.schema import Any, Array, Field, Noneable, Permissive, Selector, Shape
from dagviz.definitions.graph import GraphDefinition, GraphIn, GraphOut, JobDefinition, graph, job
from dagviz.definitions.definitions import Definitions
from dagviz.definitions.ops import Backoff, DynamicOut, In, Jitter, OpDefinition, Out, RetryPolicy, op
from dagviz.definitions.metadata import MetadataValue
from dagviz.definitions.outputs import DynamicOutput, Output
from dagviz.definitions.resources import (
    InitResourceContext,
    ResourceDefinition,
    ResourceParam,
    build_init_resource_context,
    fs_io_manager,
    mem_io_manager,
    resource,
)
from dagviz.definitions.executor_defs import (
    ExecutorDefinition,
    dask_executor,
    in_process_executor,
    multiprocess_executor,
)
from dagviz.definitions.types import Nothing
from dagviz.errors import (
    DagvizError,
    DagsterError,
    DagsterExecutionStepExecutionError,
    DagsterExecutionStepNotFoundError,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvalidSubsetError,
    DagsterInvariantViolationError,
    DagsterRunNotFoundError,
    DagsterTypeCheckDidNotPass,
    DagvizExecutionError,
    DuplicateMappingKeyError,
    Failure,
    InvalidConfigError,
    InvalidDefinitionError,
    InvalidMappingKeyError,
    InvalidOpSelectionError,
    InvalidStepKeyError,
    ResourceInitError,
    RetryRequested,
    StepOutputError,
    UnknownJobError,
    UnknownResourceError,
    WorkspaceLoadError,
)
from dagviz.execution.api import execute_in_process
from dagviz.execution.event_data import DagsterEventType
from dagviz.execution.context import OpExecutionContext, build_op_context
from dagviz.execution.result import ExecutionResult
from dagviz.execution.run_records import DagsterRun, DagsterRunStatus
from dagviz.execution.run_resources import build_resources
from dagviz.execution.status import StepStatus
from dagviz.runtime import (
    DagsterInstance,
    ReexecutionOptions,
    execute_job,
    instance_for_test,
    reconstructable,
)

__version__ = "0.1.0"

# Pydantic-based names are imported on first use: ``import dagviz`` stays fast for jobs without them.
_PYDANTIC_NAMES = {
    "Config": "dagviz.config.pythonic",
    "PermissiveConfig": "dagviz.config.pythonic",
    "ConfigurableResource": "dagviz.definitions.configurable_resources",
}


def __getattr__(name: str) -> object:
    module = _PYDANTIC_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'dagviz' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BoolSource", "EnvVar", "IntEnvVar", "IntSource", "StringSource",
    "Backoff", "Config", "ConfigurableResource", "Definitions", "InitResourceContext", "Jitter", "PermissiveConfig",
    "ResourceDefinition", "ResourceInitError", "ResourceParam", "UnknownResourceError", "build_init_resource_context",
    "build_resources", "resource",
    "ExecutorDefinition", "dask_executor", "fs_io_manager", "in_process_executor", "mem_io_manager",
    "multiprocess_executor",
    "MetadataValue",
    "DagsterError", "DagsterExecutionStepExecutionError", "DagsterExecutionStepNotFoundError",
    "DagsterInvalidConfigError", "DagsterInvalidDefinitionError", "DagsterInvalidSubsetError",
    "DagsterInvariantViolationError", "DagsterTypeCheckDidNotPass", "GraphIn", "GraphOut", "InvalidOpSelectionError",
    "Nothing",
    "Any", "Array", "DagvizError", "DagvizExecutionError", "DuplicateMappingKeyError", "DynamicOut",
    "DynamicOutput", "ExecutionResult", "Failure", "Field", "GraphDefinition", "In", "InvalidConfigError",
    "InvalidDefinitionError", "InvalidMappingKeyError", "InvalidStepKeyError", "JobDefinition", "Noneable",
    "OpDefinition", "OpExecutionContext", "Out", "Output", "Permissive", "RetryPolicy", "RetryRequested",
    "Selector", "Shape", "StepOutputError", "StepStatus", "UnknownJobError", "WorkspaceLoadError", "build_op_context",
    "execute_in_process", "execute_job", "graph", "job", "op",
    "DagsterEventType", "DagsterInstance", "DagsterRun", "DagsterRunNotFoundError", "DagsterRunStatus",
    "ReexecutionOptions", "instance_for_test", "reconstructable",
]
