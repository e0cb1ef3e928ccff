"""Typed errors returned by mutations (a union member each), instead of top-level GraphQL errors, and the
GraphQL error for a query argument out of bounds."""

import graphene
from graphql import GraphQLError

from dagviz.config.schema import problem_reason
from dagviz.errors import InvalidConfigError
from runs.errors import ArgumentOutOfBoundsError, InvalidRunTagsError

BAD_USER_INPUT = "BAD_USER_INPUT"


def bad_argument(argument: str, message: str) -> GraphQLError:
    """The GraphQL error for an argument out of bounds: ``extensions.code`` BAD_USER_INPUT, ``argument`` naming it."""
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT, "argument": argument})


def out_of_bounds(error: ArgumentOutOfBoundsError) -> GraphQLError:
    return bad_argument(error.argument, str(error))


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


class TagError(graphene.ObjectType):
    key = graphene.String(required=True, description="The tag's key as given (may be empty).")
    message = graphene.String(required=True)


class InvalidTagsError(graphene.ObjectType):
    """Run tags the launch refuses: an empty, too long or multi-line key, or a value that is not a string."""

    message = graphene.String(required=True)
    errors = graphene.List(graphene.NonNull(TagError), required=True, description="One per bad tag.")

    @staticmethod
    def from_error(error: InvalidRunTagsError) -> "InvalidTagsError":
        return InvalidTagsError(message=str(error),
                                errors=[TagError(key=key, message=message) for key, message in error.problems])


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
