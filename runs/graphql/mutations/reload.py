"""``reloadWorkspace``: import the workspace's code again, after it was edited, without restarting the server."""

import graphene

from runs.graphql.jobs import Job, WorkspaceError, errors_of, jobs_of
from runs.workspace import reload_workspace


class ReloadWorkspaceSuccess(graphene.ObjectType):
    jobs = graphene.List(graphene.NonNull(Job), required=True, description="The jobs now served, by name.")
    workspace_errors = graphene.List(
        graphene.NonNull(WorkspaceError), required=True,
        description="Entries that failed to load; the jobs they had before the reload are still served.")


class ReloadWorkspace(graphene.Mutation):
    """Re-import every module and file of ``DAGVIZ_WORKSPACE``; runs launched afterwards use the new code."""

    Output = ReloadWorkspaceSuccess

    @staticmethod
    def mutate(root, info):
        workspace = reload_workspace()
        return ReloadWorkspaceSuccess(jobs=jobs_of(workspace), workspace_errors=errors_of(workspace))
