"""Every role against every mutation, with ``DAGVIZ_AUTH`` on: over HTTP (a signed-in session, an API token)
and over a real websocket.

Operators and admins get the normal result, and the mutation does its work as them; a viewer gets
``UnauthorizedError`` (``reloadWorkspace``: a top-level error) and nothing changes; anonymous callers
are refused before GraphQL runs (HTTP 401, websocket 4401).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from runs.auth.roles import Role
from runs.live.consumer import UNAUTHORIZED
from tests.run_async import run_async
from tests.security.auth_support import (
    ANONYMOUS,
    CASES,
    MUTATIONS,
    ROLES,
    auth_server,  # noqa: F401  (a fixture)
    auth_on,  # noqa: F401  (a fixture)
    bearer,
    check_answer,
    make_caller,
    post_json,
    post_with_token,
    session_client,
    ws_open,
    ws_operation,
    ws_receive,
)

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Context:
    user: User


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_over_http_with_a_session(auth_on, role, mutation):
    case, caller = CASES[mutation], make_caller(role)
    variables = case.prepare()
    before = case.state(variables)
    response = post_json(session_client(caller), case.query, variables)
    if role == ANONYMOUS:
        assert response.status_code == 401, response.content
        assert case.state(variables) == before
        return
    assert response.status_code == 200, response.content
    check_answer(case, caller, response.json(), before, variables)


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_over_http_with_a_token(auth_server, role, mutation):
    case, caller = CASES[mutation], make_caller(role)
    variables = case.prepare()
    before = case.state(variables)
    response = post_with_token(auth_server, case.query, variables, caller.token)
    if role == ANONYMOUS:
        assert response.status == 401, response.text
        assert case.state(variables) == before
        return
    assert response.status == 200, f"{response.status}: {response.text}\n{auth_server.log()[-3000:]}"
    check_answer(case, caller, response.json(), before, variables)


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_over_a_websocket_with_a_token(auth_server, role, mutation):
    case, caller = CASES[mutation], make_caller(role)
    variables = case.prepare()
    before = case.state(variables)

    async def scenario() -> dict | int:
        ws = await ws_open(auth_server, bearer(caller.token))
        try:
            if role == ANONYMOUS:
                await ws.wait_closed()
                return ws.close_code
            assert await ws_receive(ws) == {"type": "connection_ack"}
            return await ws_operation(ws, case.query, variables)
        finally:
            await ws.close()

    answer = run_async(scenario())
    if role == ANONYMOUS:
        assert answer == UNAUTHORIZED
        assert case.state(variables) == before
        return
    assert answer["type"] == "next", answer
    check_answer(case, caller, answer["payload"], before, variables)


def test_a_mutation_missing_from_the_table_needs_an_admin(auth_on):
    """A new mutation is closed by default: until it is given an action, only admins may call it."""
    import graphene

    from runs.auth.graphql import RoleMiddleware
    from runs.graphql.api import Query

    class Mutation(graphene.ObjectType):
        forget_everything = graphene.Boolean()

        @staticmethod
        def resolve_forget_everything(root, info):
            return True

    schema = graphene.Schema(query=Query, mutation=Mutation)
    for role in (Role.OPERATOR.value, Role.ADMIN.value):
        caller = make_caller(role)
        result = schema.execute("mutation { forgetEverything }", context_value=Context(caller.user),
                                middleware=[RoleMiddleware()])
        if role == Role.ADMIN.value:
            assert result.data == {"forgetEverything": True} and not result.errors
        else:
            assert result.data == {"forgetEverything": None}
            assert result.errors[0].message == "forgetEverything needs the admin role; operator-user is an operator."
            assert result.errors[0].extensions == {"code": "UNAUTHORIZED"}


def test_every_mutation_can_answer_unauthorized():
    """The role table names real mutations (a typo would close one), and each answers UnauthorizedError
    (reloadWorkspace, an object type: an error)."""
    from graphql import GraphQLUnionType, get_named_type

    from runs.auth.graphql import MUTATION_ACTIONS
    from runs.graphql.api import schema

    fields = schema.graphql_schema.mutation_type.fields
    assert set(MUTATION_ACTIONS) == set(MUTATIONS) and set(MUTATIONS) <= set(fields)
    for name in MUTATIONS:
        result = get_named_type(fields[name].type)
        if name != "reloadWorkspace":
            assert isinstance(result, GraphQLUnionType), name
            assert "UnauthorizedError" in [member.name for member in result.types], name
