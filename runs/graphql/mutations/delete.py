"""``deleteRun``: delete a finished run, its events, log and the stored outputs no other run references."""

import graphene

from runs.errors import RunNotDeletableError, UnknownRunError
from runs.graphql.errors import RunNotFoundError, UnauthorizedError
from runs.services.retention import delete_runs


class DeleteRunSuccess(graphene.ObjectType):
    run_id = graphene.ID(required=True, description="The id of the run, which no longer exists.")


class DeleteRunFailure(graphene.ObjectType):
    message = graphene.String(required=True,
                              description="Why it cannot be deleted (it, or a run of its family, is still going).")


class DeleteRunResult(graphene.Union):
    class Meta:
        types = (DeleteRunSuccess, DeleteRunFailure, RunNotFoundError, UnauthorizedError)


class DeleteRun(graphene.Mutation):
    class Arguments:
        run_id = graphene.ID(required=True)

    Output = DeleteRunResult

    @staticmethod
    def mutate(root, info, run_id):
        try:
            report = delete_runs([run_id])
            return DeleteRunSuccess(run_id=report.deleted[0].run_id)
        except UnknownRunError as error:
            return RunNotFoundError(message=str(error))
        except RunNotDeletableError as error:
            return DeleteRunFailure(message=str(error))
