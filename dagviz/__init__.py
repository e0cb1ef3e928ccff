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

from dagviz.config.schema import Any, Array, Field, Noneable, Permissive, Shape
from dagviz.definitions.graph import GraphDefinition, GraphIn, GraphOut, JobDefinition, graph, job
from dagviz.definitions.ops import DynamicOut, In, OpDefinition, Out, RetryPolicy, op
from dagviz.definitions.outputs import DynamicOutput, Output
from dagviz.definitions.types import Nothing
from dagviz.errors import (
    DagvizError,
    DagsterInvalidSubsetError,
    DagsterTypeCheckDidNotPass,
    DagvizExecutionError,
    DuplicateMappingKeyError,
    Failure,
    InvalidConfigError,
    InvalidDefinitionError,
    InvalidMappingKeyError,
    InvalidOpSelectionError,
    InvalidStepKeyError,
    RetryRequested,
    StepOutputError,
    UnknownJobError,
    WorkspaceLoadError,
)
from dagviz.execution.api import execute_in_process, execute_job
from dagviz.execution.context import OpExecutionContext, build_op_context
from dagviz.execution.result import ExecutionResult
from dagviz.execution.status import StepStatus

__version__ = "0.1.0"

__all__ = [
    "DagsterInvalidSubsetError", "DagsterTypeCheckDidNotPass", "GraphIn", "GraphOut", "InvalidOpSelectionError",
    "Nothing",
    "Any", "Array", "DagvizError", "DagvizExecutionError", "DuplicateMappingKeyError", "DynamicOut",
    "DynamicOutput", "ExecutionResult", "Failure", "Field", "GraphDefinition", "In", "InvalidConfigError",
    "InvalidDefinitionError", "InvalidMappingKeyError", "InvalidStepKeyError", "JobDefinition", "Noneable",
    "OpDefinition", "OpExecutionContext", "Out", "Output", "Permissive", "RetryPolicy", "RetryRequested",
    "Shape", "StepOutputError", "StepStatus", "UnknownJobError", "WorkspaceLoadError", "build_op_context",
    "execute_in_process", "execute_job", "graph", "job", "op",
]
