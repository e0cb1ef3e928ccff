"""``launchRun``: validate the op selection and run config and launch; typed results for each kind of bad input."""

from typing import Any, Callable

import graphene

from dagviz.config.safe_yaml import bounded_dict
from dagviz.errors import DagvizError, InvalidConfigError, UnknownJobError
from dagviz.errors import InvalidOpSelectionError as InvalidOpSelection
from runs.auth.graphql import actor_of
from runs.errors import InvalidRunTagsError
from runs.graphql.errors import (
    InvalidOpSelectionError,
    InvalidTagsError,
    JobNotFoundError,
    PythonError,
    RunConfigValidationInvalid,
    UnauthorizedError,
)
from runs.graphql.runs import RunType
from runs.services.launch import launch_run
from runs.services.run_tags import MAX_TAG_KEY_LENGTH, check_run_tags


class LaunchRunSuccess(graphene.ObjectType):
    run = graphene.Field(RunType, required=True)


class LaunchRunResult(graphene.Union):
    class Meta:
        types = (LaunchRunSuccess, RunConfigValidationInvalid, InvalidOpSelectionError, JobNotFoundError, PythonError,
                 UnauthorizedError, InvalidTagsError)


def launch_result(launch: Callable[[], Any], other_errors: Callable[[Exception], Any] | None = None) -> Any:
    """Run ``launch()`` and map what it raises to a union member (``other_errors`` maps more kinds)."""
    try:
        return LaunchRunSuccess(run=launch())
    except InvalidConfigError as error:
        return RunConfigValidationInvalid.from_error(error)
    except UnknownJobError as error:
        return JobNotFoundError(message=str(error))
    except InvalidOpSelection as error:
        return InvalidOpSelectionError(message=str(error))
    except DagvizError as error:
        mapped = other_errors(error) if other_errors else None
        return mapped or PythonError(message=str(error), class_name=type(error).__name__)


class LaunchRun(graphene.Mutation):
    class Arguments:
        job_name = graphene.String(required=True)
        run_config = graphene.JSONString()
        tags = graphene.JSONString(description=f'The run\'s tags, {{"key": "value"}}: keys non-empty, one line, at '
                                               f'most {MAX_TAG_KEY_LENGTH} characters; values strings.')
        executor = graphene.String()
        op_selection = graphene.List(graphene.NonNull(graphene.String),
                                     description='Ops to execute: "op", "*op" (and upstream), "op+" (and one level '
                                                 'downstream), "graph.op"; null or empty: the whole job.')

    Output = LaunchRunResult

    @staticmethod
    def mutate(root, info, job_name, run_config=None, tags=None, executor=None, op_selection=None):
        return launch_result(lambda: launch_run(job_name, bounded_dict(run_config, "runConfig"),
                                                check_run_tags(bounded_dict(tags, "tags")), executor,
                                                op_selection=op_selection, actor=actor_of(info)),
                             other_errors=tags_error)


def tags_error(error: Exception) -> InvalidTagsError | None:
    """The union member for refused run tags, or None if ``error`` is about something else."""
    return InvalidTagsError.from_error(error) if isinstance(error, InvalidRunTagsError) else None
