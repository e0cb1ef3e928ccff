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
from runs.services.failure_groups import keys_for_reexecution
from runs.services.reexecution import plan_reexecution, reexecute


class ReexecutionPlanStep(graphene.ObjectType):
    step_key = graphene.String(required=True)
    reason = graphene.String(required=True, description="Why it runs (\"selected\", \"downstream of selected\", "
                                                        "\"failed in parent\", ...) or \"reused from parent\".")


class ReexecutionPlan(graphene.ObjectType):
    to_execute = graphene.List(graphene.NonNull(graphene.String), required=True,
                               description="Step keys that will run; op[?] stands for keys not yielded yet.")
    reused = graphene.List(graphene.NonNull(graphene.String), required=True,
                           description="Step keys whose outputs are taken from the parent run.")
    steps = graphene.List(graphene.NonNull(ReexecutionPlanStep), required=True,
                          description="Every step of toExecute then reused, with the reason it runs or is reused.")


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
    failure_group = graphene.String(description="Instead of stepKeys: the failed steps of the parent run with this "
                                                "error signature (FailureGroup.signature), with FROM_SELECTED or "
                                                "SELECTED.")


class PreviewReexecution(graphene.Mutation):
    class Arguments(ReexecutionArguments):
        pass

    Output = ReexecutionPlanResult

    @staticmethod
    def mutate(root, info, parent_run_id, strategy, step_keys=None, failure_group=None):
        try:
            step_keys = keys_for_reexecution(parent_run_id, enum_value(strategy), step_keys, failure_group)
            plan = plan_reexecution(parent_run_id, enum_value(strategy), step_keys)
        except (UnknownRunError, InvalidStepKey, CannotReexecute, RunNotFinishedError, InvalidOpSelection) as error:
            return reexecution_error(error)
        return ReexecutionPlan(to_execute=plan.to_execute, reused=plan.reused,
                               steps=[ReexecutionPlanStep(step_key=step.step_key, reason=step.reason.value)
                                      for step in plan.steps])


class ReexecuteRun(graphene.Mutation):
    class Arguments(ReexecutionArguments):
        pass

    Output = ReexecuteRunResult

    @staticmethod
    def mutate(root, info, parent_run_id, strategy, step_keys=None, failure_group=None):
        def launch():
            keys = keys_for_reexecution(parent_run_id, enum_value(strategy), step_keys, failure_group)
            return reexecute(parent_run_id, enum_value(strategy), keys, actor=actor_of(info))

        return launch_result(launch, reexecution_error)
