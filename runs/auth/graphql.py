"""The role check of the GraphQL API, in one place for HTTP and websockets: a graphene middleware.

Every root field is checked before its resolver runs: queries need ``Action.READ``, each mutation
the action ``MUTATION_ACTIONS`` gives it. A mutation missing from that table needs
``Action.ADMINISTER``, so a new mutation is closed until someone decides who may call it.
"""

from __future__ import annotations

from typing import Any, Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from graphql import GraphQLError, GraphQLResolveInfo, GraphQLUnionType, OperationType, get_named_type

from runs.auth.roles import ROLE_NEEDED, Action, Role, actor_name, allows, auth_enabled, role_of, role_of_caller
from runs.graphql.errors import UnauthorizedError

UNAUTHORIZED_CODE = "UNAUTHORIZED"

MUTATION_ACTIONS: dict[str, Action] = {
    "launchRun": Action.OPERATE,
    "reexecuteRun": Action.OPERATE,
    "previewReexecution": Action.OPERATE,
    "terminateRun": Action.OPERATE,
    "deleteRun": Action.OPERATE,
    "reloadWorkspace": Action.OPERATE,
}


def user_of(info: GraphQLResolveInfo) -> AbstractBaseUser | AnonymousUser | None:
    """The user an operation runs as: ``request.user`` over HTTP, the connection's user over websockets."""
    return getattr(info.context, "user", None)


def _role(info: GraphQLResolveInfo) -> Role | None:
    """The caller's role, read once per operation (a query of many aliased root fields makes one lookup)."""
    return role_of_caller(info.context, user_of(info))


def action_for(operation: OperationType, field_name: str) -> Action:
    """What a root field of ``operation`` needs (unknown mutations: the most, so they start closed)."""
    if operation == OperationType.MUTATION:
        return MUTATION_ACTIONS.get(field_name, Action.ADMINISTER)
    return Action.READ


def _article(role: Role) -> str:
    return "an" if role.value[0] in "aeiou" else "a"


def refusal_message(what: str, action: Action, user: AbstractBaseUser | AnonymousUser | None) -> str:
    """E.g. "launchRun needs the operator role; alice is a viewer."."""
    needed = ROLE_NEEDED[action].value
    if user is None or not user.is_authenticated:
        return f"{what} needs the {needed} role; nobody is signed in."
    role = role_of(user)
    held = f"is {_article(role)} {role.value}" if role else "has no role"
    return f"{what} needs the {needed} role; {user.get_username()} {held}."


def unauthorized(message: str) -> GraphQLError:
    """The top-level error for a refused field whose result type cannot hold ``UnauthorizedError``."""
    return GraphQLError(message, extensions={"code": UNAUTHORIZED_CODE})


def _answers_unauthorized(info: GraphQLResolveInfo) -> bool:
    """Whether the field's result is a union with ``UnauthorizedError`` (every mutation with typed errors)."""
    result_type = get_named_type(info.return_type)
    return isinstance(result_type, GraphQLUnionType) and any(
        member.name == UnauthorizedError._meta.name for member in result_type.types)


class RoleMiddleware:
    """Refuses a root field the caller's role does not allow, before its resolver runs.

    A refused mutation answers ``UnauthorizedError`` when its result union has it, otherwise
    (``reloadWorkspace``, queries) a GraphQL error with ``extensions.code = "UNAUTHORIZED"``.
    """

    def resolve(self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if info.path.prev is not None:  # nested fields: their root field was checked
            return next_(root, info, **args)
        action = action_for(info.operation.operation, info.field_name)
        if not auth_enabled() or allows(_role(info), action):
            return next_(root, info, **args)
        message = refusal_message(info.field_name, action, user_of(info))
        if _answers_unauthorized(info):
            return UnauthorizedError(message=message)
        raise unauthorized(message)


def actor_of(info: GraphQLResolveInfo) -> str:
    """Who is calling, as recorded on the runs a mutation launches or terminates ("" when nobody signed in)."""
    return actor_name(user_of(info))
