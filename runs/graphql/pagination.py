"""Relay-style connections over querysets, with cursors that are plain column values."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import graphene
from graphql import GraphQLError

MAX_PAGE = 1000
DEFAULT_PAGE = 100


class PageInfo(graphene.ObjectType):
    has_next_page = graphene.Boolean(required=True)
    end_cursor = graphene.String()


def connection_type(node_type: type, name: str) -> type:
    """``XConnection { edges { cursor node } pageInfo totalCount }`` for ``node_type``."""
    edge = type(f"{name}Edge", (graphene.ObjectType,), {
        "cursor": graphene.String(required=True), "node": graphene.Field(node_type, required=True),
    })
    return type(f"{name}Connection", (graphene.ObjectType,), {
        "edges": graphene.List(graphene.NonNull(edge), required=True),
        "page_info": graphene.Field(PageInfo, required=True),
        "total_count": graphene.Int(description="Items matching the filters (all pages)."),
        "resolve_total_count": lambda root, info: root.count() if root.count else None,
        "_edge": edge,
    })


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0:
        raise GraphQLError(f"first must be 0 or more, got {first}.")
    return min(first, MAX_PAGE)


def build_connection(connection: type, rows: Iterable[Any], first: int, cursor_of: Callable[[Any], str],
                     total_count: Callable[[], int] | None = None) -> Any:
    """``rows`` holds up to ``first + 1`` items; the extra one only says there is a next page."""
    items = list(rows)
    has_next = len(items) > first
    items = items[:first]
    edges = [connection._edge(cursor=cursor_of(item), node=item) for item in items]
    result = connection(edges=edges, page_info=PageInfo(has_next_page=has_next,
                                                        end_cursor=edges[-1].cursor if edges else None))
    result.count = total_count  # counted only when the client asks for totalCount
    return result


def parse_cursor(after: str | None, what: str) -> int | None:
    """An integer cursor from ``after`` (None when absent), or a GraphQL error naming the bad value."""
    if after in (None, ""):
        return None
    try:
        return int(after)
    except ValueError:
        raise GraphQLError(f"Invalid {what} cursor {after!r}: use a cursor returned by this API.") from None
