"""Jobs: their static graph (nodes, inputs, outputs, fan-out marks), config schema and default config."""

from __future__ import annotations

import graphene
from graphql import GraphQLError

from dagviz.config.run_config import default_run_config, resolve_run_config, run_config_type
from dagviz.config.safe_yaml import bounded_dict
from dagviz.definitions.composition import COLLECT, DEFAULT, NodeSpec
from dagviz.definitions.graph import JobDefinition
from dagviz.errors import InvalidConfigError, UnknownJobError
from dagviz.errors import InvalidOpSelectionError as InvalidOpSelection
from dagviz.workspace import Workspace
from runs.errors import InvalidRunTagsError
from runs.graphql.enums import InputKind
from runs.graphql.errors import InvalidOpSelectionError, InvalidTagsError, JobNotFoundError, RunConfigValidationInvalid
from runs.services.allowlists import check_launch_reach
from runs.services.op_selection import parse_op_selection
from runs.services.run_tags import check_run_tags
from runs.workspace import get_workspace


class OutputDefinition(graphene.ObjectType):
    name = graphene.String(required=True)
    is_dynamic = graphene.Boolean(required=True)


class InputDefinition(graphene.ObjectType):
    name = graphene.String(required=True)
    from_node = graphene.String(description="The node whose output feeds this input (null: a default value).")
    from_output = graphene.String()
    kind = graphene.Field(InputKind, required=True)
    min_success_ratio = graphene.Float(description="For a COLLECT input made with .collect(min_success_ratio=r): "
                                                   "the share of keys that must succeed; null: every key must.")


class GraphNode(graphene.ObjectType):
    name = graphene.String(required=True, description="The node's handle: 'op', 'op_2' or 'graph.op'.")
    op_name = graphene.String(required=True)
    description = graphene.String()
    is_dynamic_mapped = graphene.Boolean(required=True, description="One step per mapping key.")
    is_dynamic_collect = graphene.Boolean(required=True, description="Gathers a fan-out into a list.")
    mapping_depth = graphene.Int(required=True, description="How many fan-outs this node is nested in.")
    outputs = graphene.List(graphene.NonNull(OutputDefinition), required=True)
    inputs = graphene.List(graphene.NonNull(InputDefinition), required=True)

    @staticmethod
    def from_spec(spec: NodeSpec) -> "GraphNode":
        inputs = [
            InputDefinition(name=name, from_node=source.node, from_output=source.output,
                            kind="PLAIN" if source.kind == DEFAULT else source.kind,
                            min_success_ratio=source.min_success_ratio)
            for name, source in spec.inputs.items()
        ]
        return GraphNode(
            name=spec.handle, op_name=spec.op.name, description=spec.op.description,
            is_dynamic_mapped=bool(spec.scope), mapping_depth=len(spec.scope),
            is_dynamic_collect=any(source.kind == COLLECT for source in spec.inputs.values()),
            outputs=[OutputDefinition(name=name, is_dynamic=out.is_dynamic) for name, out in spec.op.outs.items()],
            inputs=inputs,
        )


class JobGraph(graphene.ObjectType):
    nodes = graphene.List(graphene.NonNull(GraphNode), required=True)


class Job(graphene.ObjectType):
    name = graphene.String(required=True)
    description = graphene.String()
    tags = graphene.JSONString(required=True)
    is_dynamic = graphene.Boolean(required=True, description="Whether any node fans out.")
    graph = graphene.Field(JobGraph, required=True)
    config_schema = graphene.JSONString(required=True)
    default_run_config = graphene.JSONString(required=True, description="Every field with its default filled in.")

    @staticmethod
    def resolve_tags(job, info):
        return job.tags

    @staticmethod
    def resolve_graph(job, info):
        return JobGraph(nodes=[GraphNode.from_spec(spec) for spec in job.nodes.values()])

    @staticmethod
    def resolve_config_schema(job, info):
        return run_config_type(job.nodes, resource_defs=job.resource_defs).to_json()

    @staticmethod
    def resolve_default_run_config(job, info):
        return default_run_config(job.nodes, resource_defs=job.resource_defs)


class WorkspaceError(graphene.ObjectType):
    location = graphene.String(required=True, description="The module or file that failed to load.")
    message = graphene.String(required=True, description="The error with its traceback.")


def jobs_of(workspace: Workspace) -> list[JobDefinition]:
    """The workspace's jobs by name, as ``jobs`` lists them (the query and ``reloadWorkspace`` alike)."""
    return sorted(workspace.jobs.values(), key=lambda job: job.name)


def errors_of(workspace: Workspace) -> list[WorkspaceError]:
    """The workspace's load errors, as ``workspaceErrors`` lists them (the query and ``reloadWorkspace`` alike)."""
    return [WorkspaceError(location=where, message=text) for where, text in workspace.errors.items()]


class RunConfigValid(graphene.ObjectType):
    job_name = graphene.String(required=True)


class RunConfigValidationResult(graphene.Union):
    class Meta:
        types = (RunConfigValid, RunConfigValidationInvalid, InvalidOpSelectionError, JobNotFoundError,
                 InvalidTagsError)


class JobQueries(graphene.ObjectType):
    validate_run_config = graphene.Field(
        RunConfigValidationResult, required=True, job_name=graphene.String(required=True),
        run_config=graphene.JSONString(), op_selection=graphene.List(graphene.NonNull(graphene.String)),
        tags=graphene.JSONString(description="Run tags to check as launchRun would (checked after the config)."),
        description="Check an op selection, a run config (against the selected ops) and run tags without launching "
                    "anything.")
    jobs = graphene.List(graphene.NonNull(Job), required=True)
    job = graphene.Field(Job, name=graphene.String(required=True))
    workspace_errors = graphene.List(graphene.NonNull(WorkspaceError), required=True)

    @staticmethod
    def resolve_jobs(root, info):
        return jobs_of(get_workspace())

    @staticmethod
    def resolve_job(root, info, name):
        try:
            return get_workspace().get(name)
        except UnknownJobError as error:
            raise GraphQLError(str(error)) from None

    @staticmethod
    def resolve_validate_run_config(root, info, job_name, run_config=None, op_selection=None, tags=None):
        try:
            job = get_workspace().get(job_name)
            target = job.get_subset(parse_op_selection(op_selection))
            config = bounded_dict(run_config, "runConfig")
            resolved = resolve_run_config(job.name, target.nodes, config, resource_defs=target.resource_defs)
            check_launch_reach(job.name, config, resolved)  # what launchRun would refuse too
            check_run_tags(bounded_dict(tags, "tags"))
        except UnknownJobError as error:
            return JobNotFoundError(message=str(error))
        except InvalidOpSelection as error:
            return InvalidOpSelectionError(message=str(error))
        except InvalidConfigError as error:
            return RunConfigValidationInvalid.from_error(error)
        except InvalidRunTagsError as error:
            return InvalidTagsError.from_error(error)
        return RunConfigValid(job_name=job.name)

    @staticmethod
    def resolve_workspace_errors(root, info):
        return errors_of(get_workspace())

