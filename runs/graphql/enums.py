"""GraphQL enums, generated from the one definition of each set of values."""

import graphene

from dagviz.execution.reexecution import ReexecutionStrategy as EngineStrategy
from dagviz.execution.status import StepStatus as EngineStepStatus
from runs.models import RunStatus as ModelRunStatus

RunStatus = graphene.Enum("RunStatus", [(value, value) for value in ModelRunStatus.values])
StepStatus = graphene.Enum("StepStatus", [(status.value, status.value) for status in EngineStepStatus])
ReexecutionStrategy = graphene.Enum("ReexecutionStrategy", [(s.value, s.value) for s in EngineStrategy])
InputKind = graphene.Enum("InputKind", [("PLAIN", "PLAIN"), ("DYNAMIC", "DYNAMIC"), ("COLLECT", "COLLECT")])
MetadataSource = graphene.Enum("MetadataSource", [("OUTPUT", "OUTPUT"), ("FAILURE", "FAILURE")])


def enum_value(value: object) -> str:
    """The plain string of a GraphQL enum argument (graphene passes enum members or strings)."""
    return getattr(value, "value", value)  # type: ignore[return-value]
