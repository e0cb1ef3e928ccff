"""Typed errors returned by mutations (a union member each), instead of top-level GraphQL errors."""

import graphene

from dagviz.config.schema import problem_reason
from dagviz.errors import InvalidConfigError


class ConfigError(graphene.ObjectType):
    path = graphene.String(required=True, description="Dotted path in the run config, e.g. ops.emit.config.n")
    message = graphene.String(required=True)
    reason = graphene.String(required=True, description="WRONG_TYPE, UNKNOWN_FIELD, MISSING_FIELD, SYNTAX_ERROR...")


class RunConfigValidationInvalid(graphene.ObjectType):
    job_name = graphene.String()
    errors = graphene.List(graphene.NonNull(ConfigError), required=True)

    @staticmethod
    def from_error(error: InvalidConfigError) -> "RunConfigValidationInvalid":
        return RunConfigValidationInvalid(
            job_name=error.job_name,
            errors=[ConfigError(path=path, message=message, reason=problem_reason(message))
                    for path, message in error.errors],
        )


class JobNotFoundError(graphene.ObjectType):
    message = graphene.String(required=True)


class RunNotFoundError(graphene.ObjectType):
    message = graphene.String(required=True)


class InvalidStepKeyError(graphene.ObjectType):
    message = graphene.String(required=True)


class InvalidOpSelectionError(graphene.ObjectType):
    """The op selection names ops the job does not have (or is not a selection at all)."""

    message = graphene.String(required=True)


class ReexecutionError(graphene.ObjectType):
    """The re-execution cannot be planned (e.g. from failure of a run that succeeded, or of a run still going)."""

    message = graphene.String(required=True)


class PythonError(graphene.ObjectType):
    """Any other error, without its stack trace."""

    message = graphene.String(required=True)
    class_name = graphene.String(required=True)


class UnauthorizedError(graphene.ObjectType):
    """The caller's role does not allow this mutation; nothing was done."""

    message = graphene.String(required=True, description="Which role the mutation needs and which the caller has.")
