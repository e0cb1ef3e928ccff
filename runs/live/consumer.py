"""GraphQL over websockets, in the ``graphql-transport-ws`` protocol (the graphql-ws library's).

connection_init -> connection_ack; subscribe -> next* -> complete; ping -> pong. One asyncio
task per operation, cancelled on ``complete`` and on disconnect. Queries and mutations run
in a worker thread (they use the ORM); subscriptions stream from the event pump.

With ``DAGVIZ_AUTH`` on, ``connection_init`` decides who the connection is: the user of the
``Authorization: Bearer TOKEN`` in its payload, else the session's (the browser UI's cookie). Every
operation runs as that user, with the same role check as HTTP (``RoleMiddleware``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from graphene_django.settings import graphene_settings
from graphene_django.views import instantiate_middleware
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)

from runs.auth.graphql import refusal_message, unauthorized
from runs.auth.roles import Action, auth_enabled, may, role_of
from runs.auth.tokens import bearer_token, user_for_token
from runs.graphql.api import schema
from runs.graphql.limits import parse_within_limits, within_limits
from runs.graphql.nul_guard import nul_path

logger = logging.getLogger(__name__)
# The same field middleware as GraphQL over HTTP (GRAPHENE["MIDDLEWARE"]): NUL bytes refused, etc.
GRAPHQL_MIDDLEWARE = list(instantiate_middleware(graphene_settings.MIDDLEWARE))

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT_SECONDS = 10.0

# Close codes of the protocol.
BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, BAD_SUBPROTOCOL = 4400, 4401, 4403, 4406
INIT_TIMEOUT, DUPLICATE_ID, TOO_MANY_INITS = 4408, 4409, 4429


def _format_errors(errors: list[GraphQLError] | None) -> list[dict]:
    formatted = []
    for error in errors or []:
        original = getattr(error, "original_error", None)
        # As over HTTP: errors without a path come from validating the document, not from a resolver.
        if original is not None and not isinstance(original, GraphQLError) and error.path is not None \
                and not settings.DEBUG:
            logger.error("GraphQL resolver failed", exc_info=original)
            formatted.append({"message": f"Internal error ({type(original).__name__}); see the server log.",
                              "path": error.path})
        else:
            formatted.append(error.formatted)
    return formatted


@dataclass
class OperationContext:
    """``info.context`` of an operation over the websocket: who it runs as, like ``request.user`` over HTTP."""

    user: AbstractBaseUser | AnonymousUser


def _authorization_of(payload: Any) -> Any:
    """The ``Authorization`` value of a ``connection_init`` payload (either case of the key), or None."""
    if not isinstance(payload, dict):
        return None
    return payload.get("Authorization", payload.get("authorization"))


def _token_user(authorization: Any) -> AbstractBaseUser | None:
    """The user of a ``Bearer TOKEN`` value; None for anything else or a token that is unknown or revoked."""
    raw = bearer_token(authorization) if isinstance(authorization, str) else None
    return user_for_token(raw) if raw else None


def _has_role(user: AbstractBaseUser | AnonymousUser) -> bool:
    return role_of(user) is not None


def _read_refusal(user: AbstractBaseUser | AnonymousUser, operation: OperationDefinitionNode) -> GraphQLError | None:
    """The error refusing a subscription to a user who may not read, or None."""
    if may(user, Action.READ):
        return None
    first = operation.selection_set.selections[0]
    name = first.name.value if isinstance(first, FieldNode) else "subscription"
    return unauthorized(refusal_message(name, Action.READ, user))


def _result_payload(result: ExecutionResult) -> dict:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = _format_errors(result.errors)
    return payload


class GraphQLWSConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.acknowledged = False
        # The session's user (channels' AuthMiddlewareStack); connection_init may replace it by a token's.
        self.user = self.scope.get("user") or AnonymousUser()
        self.operations: dict[str, asyncio.Task] = {}
        if PROTOCOL not in self.scope.get("subprotocols", []):
            await self.accept()
            await self.close(code=BAD_SUBPROTOCOL)
            return
        await self.accept(subprotocol=PROTOCOL)
        self.init_timer = asyncio.ensure_future(self._close_unless_initialised())

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(INIT_TIMEOUT_SECONDS)
        if not self.acknowledged:
            await self.close(code=INIT_TIMEOUT)

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "init_timer", None)
        if timer is not None:
            timer.cancel()
        for task in getattr(self, "operations", {}).values():
            task.cancel()
        self.operations = {}

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message, default=str))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
            kind = message["type"]
        except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: JSON nested too deep
            await self.close(code=BAD_REQUEST)
            return
        if kind == "connection_init":
            if self.acknowledged:
                await self.close(code=TOO_MANY_INITS)
                return
            if not await self._authenticate(message.get("payload")):
                return
            self.acknowledged = True
            await self.send_json({"type": "connection_ack"})
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            task = self.operations.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            await self.close(code=BAD_REQUEST)

    async def _authenticate(self, payload: Any) -> bool:
        """Decide who the connection is (auth on); False after closing it: 4403 for a bad token or a user
        without a role, 4401 when nobody is signed in."""
        if not auth_enabled():
            return True
        authorization = _authorization_of(payload)
        if authorization is not None:
            user = await database_sync_to_async(_token_user)(authorization)
            if user is None:
                await self.close(code=FORBIDDEN, reason="Forbidden")
                return False
            self.user = user
        if not self.user.is_authenticated:
            await self.close(code=UNAUTHORIZED, reason="Unauthorized")
            return False
        if not await database_sync_to_async(_has_role)(self.user):
            await self.close(code=FORBIDDEN, reason="Forbidden")
            return False
        return True

    async def _subscribe(self, message: dict) -> None:
        if not self.acknowledged:
            await self.close(code=UNAUTHORIZED)
            return
        operation_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(operation_id, str) or not isinstance(payload, dict) or not isinstance(
                payload.get("query"), str):
            await self.close(code=BAD_REQUEST)
            return
        if operation_id in self.operations:
            await self.close(code=DUPLICATE_ID)
            return
        self.operations[operation_id] = asyncio.ensure_future(self._run_operation(operation_id, payload))

    async def _run_operation(self, operation_id: str, payload: dict) -> None:
        try:
            await self._execute(operation_id, payload)
        except asyncio.CancelledError:
            return
        except Exception:  # report and end this operation only; the connection stays open
            logger.exception("GraphQL operation %s failed", operation_id)
            await self.send_json({"type": "error", "id": operation_id,
                                  "payload": [{"message": "Internal error; see the server log."}]})
            self.operations.pop(operation_id, None)
            return
        if self.operations.pop(operation_id, None) is not None:
            await self.send_json({"type": "complete", "id": operation_id})

    async def _execute(self, operation_id: str, payload: dict) -> None:
        query, variables = payload["query"], payload.get("variables") or {}
        operation_name = payload.get("operationName")
        # Parsed off the event loop and within the query limits (runs/graphql/limits.py), so an oversized
        # document is refused with an error message before anything runs and never stalls other connections.
        document, errors = await sync_to_async(parse_within_limits, thread_sensitive=False)(
            schema.graphql_schema, query, variables)
        if errors or document is None:
            await self._send_errors(operation_id, errors)
            return
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.SUBSCRIPTION:
            result = await database_sync_to_async(within_limits(schema.execute))(
                query, variable_values=variables, operation_name=operation_name,
                context_value=OperationContext(self.user), middleware=GRAPHQL_MIDDLEWARE)
            if result.errors and result.data is None:
                await self._send_errors(operation_id, result.errors)
                return
            await self.send_json({"type": "next", "id": operation_id, "payload": _result_payload(result)})
            return
        if nul_path(variables) is not None:  # graphql-core's subscribe takes no middleware: check here
            await self._send_errors(operation_id, [GraphQLError(f"Variable '{nul_path(variables)}' contains a NUL "
                                                                "byte (\\x00), which is not allowed.")])
            return
        # graphql-core's subscribe takes no middleware either: the role is checked here (a role taken
        # away after the connection started stops new operations).
        refused = await database_sync_to_async(_read_refusal)(self.user, operation)
        if refused is not None:
            await self._send_errors(operation_id, [refused])
            return
        stream = await schema.subscribe(query, variable_values=variables, operation_name=operation_name,
                                        context_value=OperationContext(self.user))
        if isinstance(stream, ExecutionResult):  # validation failed, or the subscription could not start
            await self._send_errors(operation_id, stream.errors)
            return
        try:
            async for result in stream:
                await self.send_json({"type": "next", "id": operation_id, "payload": _result_payload(result)})
        except GraphQLError as error:  # raised while streaming: an error for this operation
            await self._send_errors(operation_id, [error])
        finally:
            await stream.aclose()

    async def _send_errors(self, operation_id: str, errors: list[GraphQLError] | None) -> None:
        self.operations.pop(operation_id, None)
        await self.send_json({"type": "error", "id": operation_id, "payload": _format_errors(errors)})
