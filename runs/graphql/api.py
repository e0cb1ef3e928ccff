"""The GraphQL schema: queries, mutations and subscriptions of every domain, composed here."""

import graphene

from runs.graphql.jobs import JobQueries
from runs.graphql.mutations.delete import DeleteRun
from runs.graphql.mutations.launch import LaunchRun
from runs.graphql.mutations.reexecution import PreviewReexecution, ReexecuteRun
from runs.graphql.mutations.reload import ReloadWorkspace
from runs.graphql.mutations.terminate import TerminateRun
from runs.graphql.runs import RunQueries
from runs.graphql.subscriptions import RunSubscriptions


class Query(JobQueries, RunQueries, graphene.ObjectType):
    pass


class Mutation(graphene.ObjectType):
    launch_run = LaunchRun.Field()
    preview_reexecution = PreviewReexecution.Field()
    reexecute_run = ReexecuteRun.Field()
    reload_workspace = ReloadWorkspace.Field()
    terminate_run = TerminateRun.Field()
    delete_run = DeleteRun.Field()


class Subscription(RunSubscriptions, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=Subscription)
