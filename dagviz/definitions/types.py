"""Types of op inputs and outputs, checked at run time as Dagster does (``Out(int)``, ``x: int``, ``-> list[str]``).

A type comes from ``In(int)``/``Out(int)`` or from the function's annotations. Only types
that can be checked cheaply and unambiguously are checked: builtin scalars, ``list``/``dict``
(with item types), ``Optional``, and plain classes (``isinstance``). ``Any`` and anything
else are not checked. ``Nothing`` marks an input or output that only orders steps.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Callable

_SCALAR_NAMES = {int: "Int", float: "Float", str: "String", bool: "Bool"}


class Nothing:
    """The type of an input or output that carries no value: ``In(Nothing)`` only waits for its upstream."""


@dataclass(frozen=True, slots=True)
class CheckedType:
    """A type with Dagster's display name and a check of one value."""

    name: str
    check: Callable[[Any], bool]
    python_type: Any = None  # for the config type of an input given in run config


def _is_scalar(python_type: type) -> Callable[[Any], bool]:
    if python_type is bool:
        return lambda value: isinstance(value, bool)
    if python_type is float:
        return lambda value: isinstance(value, float)
    return lambda value: isinstance(value, python_type) and not isinstance(value, bool)


def resolve_type(annotation: Any) -> CheckedType | None:
    """The checked type for ``annotation``, or None when values are not checked (``Any``, unknown, absent)."""
    if annotation in (None, type(None), Any, object) or isinstance(annotation, str):
        return None
    if annotation is Nothing:
        return CheckedType("Nothing", lambda value: value is None, Nothing)
    if annotation in _SCALAR_NAMES:
        return CheckedType(_SCALAR_NAMES[annotation], _is_scalar(annotation), annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        return _optional(args)
    if annotation in (list, dict) or origin in (list, dict):
        return _container(origin or annotation, args)
    if isinstance(annotation, type) and origin is None:
        return CheckedType(annotation.__name__, lambda value: isinstance(value, annotation), annotation)
    return None


def _optional(args: tuple) -> CheckedType | None:
    inner_args = [arg for arg in args if arg is not type(None)]
    if len(inner_args) != 1 or len(args) != 2:
        return None
    inner = resolve_type(inner_args[0])
    if inner is None:
        return None
    return CheckedType(f"Optional[{inner.name}]", lambda value: value is None or inner.check(value), inner.python_type)


def _container(kind: type, args: tuple) -> CheckedType:
    if kind is list:
        item = resolve_type(args[0]) if args else None
        if item is None:
            return CheckedType("List[Any]" if args else "List", lambda value: isinstance(value, list), list)
        return CheckedType(f"List[{item.name}]",
                           lambda value: isinstance(value, list) and all(item.check(v) for v in value), list)
    key = resolve_type(args[0]) if args else None
    value_type = resolve_type(args[1]) if len(args) > 1 else None
    name = f"Dict[{key.name if key else 'Any'},{value_type.name if value_type else 'Any'}]" if args else "Dict"

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        return all((key is None or key.check(k)) and (value_type is None or value_type.check(v)) for k, v in value.items())

    return CheckedType(name, check, dict)


def describe_python_type(value: Any) -> str:
    return type(value).__name__


def type_check_failure(kind: str, name: str, checked: CheckedType, value: Any) -> str:
    """Dagster's sentence for a value of the wrong type (``kind`` is "output" or "input")."""
    text = repr(value)
    if len(text) > 200:
        text = text[:197] + "..."
    return (
        f'Type check failed for step {kind} "{name}" - expected type "{checked.name}". '
        f'Description: Value {text} of python type "{describe_python_type(value)}" must be a {checked.name.lower()}.'
    )
