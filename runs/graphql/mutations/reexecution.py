"""``previewReexecution`` and ``reexecuteRun``: the same plan, previewed or launched."""

import graphene

from dagviz.errors import InvalidOpSelectionError as InvalidOpSelection
from dagviz.errors import InvalidStepKeyError as InvalidStepKey
from dagviz.execution.reexecution import ReexecutionError as CannotReexecute
from runs.errors import RunNotFinishedError, UnknownRunError
from runs.auth.graphql import actor_of
from runs.graphql.enums import ReexecutionStrategy, enum_value
from runs.graphql.errors import (
    InvalidOpSelectionError,
    InvalidStepKeyError,
    JobNotFoundError,
    PythonError,
    ReexecutionError,
    RunConfigValidationInvalid,
    RunNotFoundError,
    UnauthorizedError,
)
from runs.graphql.mutations.launch import LaunchRunSuccess, launch_result
from runs.services.reexecution import plan_reexecution, reexecute


class ReexecutionPlan(graphene.ObjectType):
    to_execute = graphene.List(graphene.NonNull(graphene.String), required=True,
                               description="Step keys that will run; op[?] stands for keys not yielded yet.")
    reused = graphene.List(graphene.NonNull(graphene.String), required=True,
                           description="Step keys whose outputs are taken from the parent run.")


class ReexecutionPlanResult(graphene.Union):
    class Meta:
        types = (ReexecutionPlan, RunNotFoundError, InvalidStepKeyError, ReexecutionError, PythonError,
                 UnauthorizedError)


class ReexecuteRunResult(graphene.Union):
    class Meta:
        types = (LaunchRunSuccess, RunConfigValidationInvalid, InvalidOpSelectionError, JobNotFoundError,
                 RunNotFoundError, InvalidStepKeyError, ReexecutionError, PythonError, UnauthorizedError)


def reexecution_error(error: Exception) -> object | None:
    """The union member for an error of planning a re-execution, or None if it is not one."""
    if isinstance(error, UnknownRunError):
        return RunNotFoundError(message=str(error))
    if isinstance(error, InvalidStepKey):
        return InvalidStepKeyError(message=str(error))
    if isinstance(error, (CannotReexecute, RunNotFinishedError, InvalidOpSelection)):
        return ReexecutionError(message=str(error))  # a selection the job no longer matches, for the preview
    return None


class ReexecutionArguments:
    """The arguments both mutations take: which run, which strategy, and for SELECTED which keys."""

    parent_run_id = graphene.ID(required=True)
    strategy = ReexecutionStrategy(required=True)
    step_keys = graphene.List(graphene.NonNull(graphene.String))


class PreviewReexecution(graphene.Mutation):
    class Arguments(ReexecutionArguments):
        pass

    Output = ReexecutionPlanResult

    @staticmethod
    def mutate(root, info, parent_run_id, strategy, step_keys=None):
        try:
            plan = plan_reexecution(parent_run_id, enum_value(strategy), step_keys)
        except (UnknownRunError, InvalidStepKey, CannotReexecute, RunNotFinishedError, InvalidOpSelection) as error:
            return reexecution_error(error)
        return ReexecutionPlan(to_execute=plan.to_execute, reused=plan.reused)


class ReexecuteRun(graphene.Mutation):
    class Arguments(ReexecutionArguments):
        pass

    Output = ReexecuteRunResult

    @staticmethod
    def mutate(root, info, parent_run_id, strategy, step_keys=None):
        return launch_result(lambda: reexecute(parent_run_id, enum_value(strategy), step_keys, actor=actor_of(info)),
                             reexecution_error)
