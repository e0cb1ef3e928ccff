"""GraphQL over websockets, in the ``graphql-transport-ws`` protocol (the graphql-ws library's).

connection_init -> connection_ack; subscribe -> next* -> complete; ping -> pong. One asyncio
task per operation, cancelled on ``complete`` and on disconnect. Queries and mutations run
in a worker thread (they use the ORM); subscriptions stream from the event pump.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from graphene_django.settings import graphene_settings
from graphene_django.views import instantiate_middleware
from graphql import ExecutionResult, GraphQLError, OperationType, get_operation_ast, parse

from runs.graphql.api import schema
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
        if original is not None and not isinstance(original, GraphQLError) and not settings.DEBUG:
            logger.error("GraphQL resolver failed", exc_info=original)
            formatted.append({"message": f"Internal error ({type(original).__name__}); see the server log.",
                              "path": error.path})
        else:
            formatted.append(error.formatted)
    return formatted


def _result_payload(result: ExecutionResult) -> dict:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = _format_errors(result.errors)
    return payload


class GraphQLWSConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.acknowledged = False
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
        try:
            document = parse(query)
        except GraphQLError as error:
            await self._send_errors(operation_id, [error])
            return
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.SUBSCRIPTION:
            result = await database_sync_to_async(schema.execute)(query, variable_values=variables,
                                                                 operation_name=operation_name,
                                                                 middleware=GRAPHQL_MIDDLEWARE)
            if result.errors and result.data is None:
                await self._send_errors(operation_id, result.errors)
                return
            await self.send_json({"type": "next", "id": operation_id, "payload": _result_payload(result)})
            return
        if nul_path(variables) is not None:  # graphql-core's subscribe takes no middleware: check here
            await self._send_errors(operation_id, [GraphQLError(f"Variable '{nul_path(variables)}' contains a NUL "
                                                                "byte (\\x00), which is not allowed.")])
            return
        stream = await schema.subscribe(query, variable_values=variables, operation_name=operation_name)
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
