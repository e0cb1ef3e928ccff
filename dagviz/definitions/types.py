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
_SCALAR_WORDS = {int: "int", float: "float", str: "string", bool: "bool"}


class Nothing:
    """The type of an input or output that carries no value: ``In(Nothing)`` only waits for its upstream."""


# A check returns None when the value is fine, else (offending value, what it must be), as Dagster
# describes the innermost offending item of a container.
Check = Callable[[Any], "tuple[Any, str] | None"]


@dataclass(frozen=True, slots=True)
class CheckedType:
    """A type with Dagster's display name, a fast check of one value, and what is wrong with a bad one."""

    name: str
    find_problem: Check
    python_type: Any = None  # for the config type of an input given in run config
    is_instance: tuple | None = None  # when the check is one isinstance test: the types (the hot path)

    def check(self, value: Any) -> bool:
        if self.is_instance is not None:
            return isinstance(value, self.is_instance)
        return self.find_problem(value) is None


def _scalar(python_type: type) -> Check:
    word = _SCALAR_WORDS[python_type]
    if python_type is int:  # as in Dagster, True passes as an int (bool is an int subclass)
        return lambda value: None if isinstance(value, int) else (value, word)
    if python_type is float:
        return lambda value: None if isinstance(value, float) else (value, word)
    return lambda value: None if isinstance(value, python_type) else (value, word)


def resolve_type(annotation: Any) -> CheckedType | None:
    """The checked type for ``annotation``, or None when values are not checked (``Any``, unknown, absent)."""
    if annotation in (None, type(None), Any, object) or isinstance(annotation, str):
        return None
    if annotation is Nothing:
        return CheckedType("Nothing", lambda value: None, Nothing)
    if annotation in _SCALAR_NAMES:
        return CheckedType(_SCALAR_NAMES[annotation], _scalar(annotation), annotation, (annotation,))
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        return _optional(args)
    if annotation in (list, dict) or origin in (list, dict):
        return _container(origin or annotation, args)
    if isinstance(annotation, type) and origin is None:
        name = annotation.__name__
        return CheckedType(name, lambda value: None if isinstance(value, annotation) else (value, name), annotation,
                           (annotation,))
    return None


def _optional(args: tuple) -> CheckedType | None:
    inner_args = [arg for arg in args if arg is not type(None)]
    if len(inner_args) != 1 or len(args) != 2:
        return None
    inner = resolve_type(inner_args[0])
    if inner is None:
        return None
    return CheckedType(f"{inner.name}?", lambda value: None if value is None else inner.find_problem(value),
                       inner.python_type)


def _first_problem(checked: CheckedType | None, values: Any) -> tuple[Any, str] | None:
    if checked is None:
        return None
    for value in values:
        problem = checked.find_problem(value)
        if problem is not None:
            return problem
    return None


def _container(kind: type, args: tuple) -> CheckedType:
    if kind is list:
        item = resolve_type(args[0]) if args else None

        def check_list(value: Any) -> tuple[Any, str] | None:
            return (value, "list") if not isinstance(value, list) else _first_problem(item, value)

        return CheckedType(f"[{item.name if item else 'Any'}]" if args else "List", check_list, list,
                           None if item else (list,))
    key = resolve_type(args[0]) if args else None
    value_type = resolve_type(args[1]) if len(args) > 1 else None
    name = f"Dict[{key.name if key else 'Any'},{value_type.name if value_type else 'Any'}]" if args else "Dict"

    def check_dict(value: Any) -> tuple[Any, str] | None:
        if not isinstance(value, dict):
            return value, "dict"
        return _first_problem(key, value.keys()) or _first_problem(value_type, value.values())

    return CheckedType(name, check_dict, dict)


def type_check_failure(kind: str, name: str, checked: CheckedType, value: Any) -> str:
    """Dagster's sentence for a value of the wrong type (``kind`` is "output" or "input")."""
    offending, expected = checked.find_problem(value) or (value, checked.name)
    text = str(offending)
    if len(text) > 200:
        text = text[:197] + "..."
    return (
        f'Type check failed for step {kind} "{name}" - expected type "{checked.name}". '
        f'Description: Value "{text}" of python type "{type(offending).__name__}" must be a {expected}.'
    )
