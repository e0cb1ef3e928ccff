"""``terminateRun``: cancel a queued run or stop a running one."""

import graphene

from runs.errors import RunNotTerminableError, UnknownRunError
from runs.auth.graphql import actor_of
from runs.graphql.errors import RunNotFoundError, UnauthorizedError
from runs.graphql.runs import RunType
from runs.services.terminate import terminate_run


class TerminateRunSuccess(graphene.ObjectType):
    run = graphene.Field(RunType, required=True, description="The run, now CANCELING (or CANCELED if it was queued).")


class TerminateRunFailure(graphene.ObjectType):
    message = graphene.String(required=True, description="Why it cannot be terminated (e.g. it has finished).")


class TerminateRunResult(graphene.Union):
    class Meta:
        types = (TerminateRunSuccess, TerminateRunFailure, RunNotFoundError, UnauthorizedError)


class TerminateRun(graphene.Mutation):
    class Arguments:
        run_id = graphene.ID(required=True)

    Output = TerminateRunResult

    @staticmethod
    def mutate(root, info, run_id):
        try:
            return TerminateRunSuccess(run=terminate_run(run_id, actor=actor_of(info)))
        except UnknownRunError as error:
            return RunNotFoundError(message=str(error))
        except RunNotTerminableError as error:
            return TerminateRunFailure(message=str(error))
