"""Config types, Dagster style: ``{"n": int}``, ``Field(int, default_value=3)``, ``[str]``, ``Noneable(int)``.

Validation walks a value against a type and reports every problem with its dotted path
(``ops.emit.config.n: expected int, got str 'x'``); it also returns the value with every
default filled in, which is what ops see as ``context.op_config``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any as TypingAny

from dagviz.errors import InvalidDefinitionError

Errors = list[tuple[str, str]]

# Every problem message starts with one of these; APIs report the matching reason code.
_REASONS = (("expected ", "WRONG_TYPE"), ("unknown field", "UNKNOWN_FIELD"),
            ("missing required field", "MISSING_FIELD"), ("cannot read", "UNREADABLE"),
            ("run config is not valid", "SYNTAX_ERROR"), ("run config must be", "WRONG_TYPE"),
            ("not allowed", "NOT_ALLOWED"))


def problem_reason(message: str) -> str:
    """A stable code for a config problem message (WRONG_TYPE, UNKNOWN_FIELD, MISSING_FIELD, ...)."""
    return next((reason for prefix, reason in _REASONS if message.startswith(prefix)), "INVALID")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: TypingAny = _NoDefault()


def _describe_value(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


class ConfigType:
    """A type config values are checked against."""

    name = "config"

    def validate(self, value: object, path: str, errors: Errors) -> object:
        raise NotImplementedError

    def has_default(self) -> bool:
        """Whether an absent value can be filled in without the user writing it."""
        return False

    def default(self) -> object:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def to_json(self) -> dict:
        """A JSON description of the schema, for APIs and editors."""
        return {"type": self.name}


class Scalar(ConfigType):
    """``int``, ``float``, ``str`` or ``bool``; bools are not ints, ints are accepted as floats."""

    def __init__(self, python_type: type) -> None:
        self.python_type = python_type
        self.name = python_type.__name__

    def validate(self, value: object, path: str, errors: Errors) -> object:
        ok = isinstance(value, self.python_type) and not (self.python_type is not bool and isinstance(value, bool))
        if self.python_type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            errors.append((path, f"expected {self.name}, got {_describe_value(value)}"))
        return value


class AnyType(ConfigType):
    """Accepts any value."""

    name = "Any"

    def validate(self, value: object, path: str, errors: Errors) -> object:
        return value


Any = AnyType()


class Noneable(ConfigType):
    """The inner type or ``None``; absent means ``None``."""

    def __init__(self, inner: object) -> None:
        self.inner = resolve_config_type(inner)
        self.name = f"Noneable({self.inner.describe()})"

    def validate(self, value: object, path: str, errors: Errors) -> object:
        return None if value is None else self.inner.validate(value, path, errors)

    def has_default(self) -> bool:
        return True

    def default(self) -> object:
        return None

    def to_json(self) -> dict:
        return {"type": "Noneable", "inner": self.inner.to_json()}


class Array(ConfigType):
    """A list whose items all have the inner type."""

    def __init__(self, inner: object) -> None:
        self.inner = resolve_config_type(inner)
        self.name = f"[{self.inner.describe()}]"

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if not isinstance(value, (list, tuple)):
            errors.append((path, f"expected a list of {self.inner.describe()}, got {_describe_value(value)}"))
            return value
        return [self.inner.validate(item, f"{path}[{index}]", errors) for index, item in enumerate(value)]

    def to_json(self) -> dict:
        return {"type": "Array", "of": self.inner.to_json()}


class Enum(ConfigType):
    """One of a fixed set of names; for a Python enum, its member names (as in Dagster)."""

    def __init__(self, name: str, values: list[str]) -> None:
        self.name = name
        self.values = list(values)
        self._allowed = frozenset(self.values)

    @classmethod
    def from_python_enum(cls, enum_class: type) -> "Enum":
        return cls(enum_class.__name__, [member.name for member in enum_class])  # type: ignore[attr-defined]

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if not isinstance(value, str) or value not in self._allowed:
            errors.append((path, f"expected one of {', '.join(self.values)} ({self.name}), got {_describe_value(value)}"))
        return value

    def to_json(self) -> dict:
        return {"type": "Enum", "name": self.name, "values": list(self.values)}


class Map(ConfigType):
    """A dict with string keys chosen by the user and values of one type (``dict[str, int]``)."""

    def __init__(self, inner: object) -> None:
        self.inner = resolve_config_type(inner)
        self.name = f"{{str: {self.inner.describe()}}}"

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if not isinstance(value, dict):
            errors.append((path, f"expected a dict of {self.inner.describe()}, got {_describe_value(value)}"))
            return value
        cleaned: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append((path, f"expected str keys, got {_describe_value(key)}"))
                continue
            cleaned[key] = self.inner.validate(item, _join(path, key), errors)
        return cleaned

    def to_json(self) -> dict:
        return {"type": "Map", "of": self.inner.to_json()}


@dataclass(eq=False)
class Field:
    """A config field: its type, an optional default, whether it is required, a description."""

    config: TypingAny = Any
    default_value: TypingAny = NO_DEFAULT
    is_required: bool | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        self.config_type = resolve_config_type(self.config)
        if self.is_required and self.default_value is not NO_DEFAULT:
            raise InvalidDefinitionError("A Field cannot be required and have a default_value at the same time.")
        if self.is_required is None:
            self.is_required = self.default_value is NO_DEFAULT and not self.config_type.has_default()
        if self.default_value is not NO_DEFAULT:
            errors: Errors = []
            self.config_type.validate(self.default_value, "default_value", errors)
            if errors:
                raise InvalidDefinitionError(f"Field default_value does not match its type: {errors[0][1]}")

    def has_default(self) -> bool:
        return self.default_value is not NO_DEFAULT or self.config_type.has_default()

    def default(self) -> object:
        if self.default_value is not NO_DEFAULT:
            return self.default_value
        return self.config_type.default()


class Shape(ConfigType):
    """A dict with named fields; unknown keys are errors (see :class:`Permissive` for open dicts)."""

    name = "dict"
    allow_unknown = False

    def __init__(self, fields: dict[str, object]) -> None:
        self.fields: dict[str, Field] = {
            key: value if isinstance(value, Field) else Field(value) for key, value in fields.items()
        }

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if value is None and not self.is_required():
            value = {}
        if not isinstance(value, dict):
            errors.append((path, f"expected a dict with fields {self._field_list()}, got {_describe_value(value)}"))
            return value
        cleaned: dict[str, object] = {}
        for key, item in value.items():
            field = self.fields.get(key)
            if field is not None:
                cleaned[key] = field.config_type.validate(item, _join(path, key), errors)
            elif self.allow_unknown:
                cleaned[key] = item
            else:
                errors.append((path, f"unknown field '{key}' (valid fields: {self._field_list()})"))
        for key, field in self.fields.items():
            if key in value:
                continue
            if field.has_default():
                cleaned[key] = field.default()
            elif field.is_required:
                errors.append((path, f"missing required field '{key}' ({field.config_type.describe()})"))
        return cleaned

    def is_required(self) -> bool:
        return any(field.is_required for field in self.fields.values())

    def has_default(self) -> bool:
        return not self.is_required()

    def default(self) -> object:
        return {key: field.default() for key, field in self.fields.items() if field.has_default()}

    def _field_list(self) -> str:
        return ", ".join(self.fields) or "none"

    def describe(self) -> str:
        return "{" + ", ".join(f"{k}: {f.config_type.describe()}" for k, f in self.fields.items()) + "}"

    def to_json(self) -> dict:
        return {
            "type": "Permissive" if self.allow_unknown else "Shape",
            "fields": {
                key: {
                    **field.config_type.to_json(),
                    "required": bool(field.is_required),
                    **({"default": field.default()} if field.has_default() else {}),
                    **({"description": field.description} if field.description else {}),
                }
                for key, field in self.fields.items()
            },
        }


class Permissive(Shape):
    """A dict with optional known fields that also accepts any other keys."""

    allow_unknown = True


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_SCALARS = {python_type: Scalar(python_type) for python_type in (int, float, str, bool)}


def resolve_config_type(schema: object) -> ConfigType:
    """Turn a Dagster-style shorthand (``int``, ``{"n": int}``, ``[str]``, ``Field``...) into a ConfigType."""
    if isinstance(schema, ConfigType):
        return schema
    if isinstance(schema, Field):
        raise InvalidDefinitionError("A Field can only be used as the value of a dict key in a config schema.")
    if isinstance(schema, type) and schema in _SCALARS:
        return _SCALARS[schema]
    if schema is TypingAny or schema is object:
        return Any
    if schema is dict:
        return Permissive({})
    if schema is list:
        return Array(Any)
    if isinstance(schema, dict):
        return Shape(schema)
    if isinstance(schema, list):
        if len(schema) != 1:
            raise InvalidDefinitionError(f"A list config type names exactly one item type, like [int]; got {schema!r}.")
        return Array(schema[0])
    if typing.get_origin(schema) is typing.Union and type(None) in typing.get_args(schema):
        (inner,) = [arg for arg in typing.get_args(schema) if arg is not type(None)]
        return Noneable(inner)
    raise InvalidDefinitionError(
        f"Unsupported config type {schema!r}: use int, float, str, bool, Any, a dict of fields, a one-item list, "
        "Field, Noneable, Shape or Permissive."
    )


def resolve_config_field(schema: object) -> Field | None:
    """An op's ``config_schema`` as a Field (``None`` when the op takes no config)."""
    if schema is None:
        return None
    return schema if isinstance(schema, Field) else Field(schema)


class Selector(Shape):
    """A dict with exactly one of its fields set, like ``{multiprocess: {max_concurrent: 2}}``."""

    def __init__(self, fields: dict[str, object], default_choice: str | None = None) -> None:
        super().__init__(fields)
        self.default_choice = default_choice

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if value is None and self.default_choice:
            value = {self.default_choice: {}}
        if not isinstance(value, dict) or len(value) != 1:
            errors.append((path, f"expected exactly one of {self._field_list()}, got {_describe_value(value)}"))
            return value
        (choice, inner), = value.items()
        field = self.fields.get(choice)
        if field is None:
            errors.append((path, f"unknown field '{choice}' (valid choices: {self._field_list()})"))
            return value
        return {choice: field.config_type.validate({} if inner is None else inner, _join(path, choice), errors)}

    def is_required(self) -> bool:
        return self.default_choice is None

    def default(self) -> object:
        choice = self.default_choice
        return {choice: self.fields[choice].default()} if choice else {}

    def to_json(self) -> dict:
        return {**super().to_json(), "type": "Selector"}
