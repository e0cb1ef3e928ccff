"""Graphene middleware refusing string arguments that hold a NUL byte, before any resolver sees them.

PostgreSQL cannot store or compare text containing ``\\x00`` (psycopg raises ``DataError``), while
SQLite accepts it: without this guard ``step(key:)``, ``keyContains``, ``runs(jobName:)`` or a launch's
tags gave "Internal error (DataError)" on one database and a plain answer on the other. Refusing
every argument up front (inputs and JSON values included, recursively) gives one typed answer on both.

Lone UTF-16 surrogates (U+D800 to U+DFFF, which a JSON body can carry as ``"\\ud800"``) are refused the
same way: neither database driver can encode them as UTF-8 (``UnicodeEncodeError``), and PostgreSQL's
``jsonb`` refuses them in JSON values.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from graphql import GraphQLError

from dagviz.config.safe_yaml import walk


def nul_path(value: Any) -> str | None:
    """The path of the first string (or key) in ``value`` holding a NUL byte; None when there is none."""
    return next((path for item, _, path in walk(value) if isinstance(item, str) and "\x00" in item), None)


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_path(value: Any) -> str | None:
    """The path of the first string (or key) in ``value`` holding a lone surrogate; None when there is none."""
    return next((path for item, _, path in walk(value) if isinstance(item, str) and _SURROGATE.search(item)), None)


class NulByteMiddleware:
    """Refuses a field whose arguments hold ``\\x00`` or a lone surrogate anywhere, with a GraphQL error naming it."""

    def resolve(self, next_: Callable[..., Any], root: Any, info: Any, **args: Any) -> Any:
        if args:
            where = nul_path(args)
            if where is not None:
                raise GraphQLError(f"Argument '{where}' of field '{info.field_name}' contains a NUL byte "
                                   "(\\x00), which is not allowed in any argument.")
            where = surrogate_path(args)
            if where is not None:
                raise GraphQLError(f"Argument '{where}' of field '{info.field_name}' contains a lone surrogate "
                                   "(U+D800 to U+DFFF), which is not valid Unicode text.")
        return next_(root, info, **args)
