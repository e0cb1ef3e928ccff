"""Pythonic config: ``class MyConfig(Config)`` fields become a config schema of dagviz's own types.

An op parameter ``config: MyConfig`` gives the op that schema: run config is validated,
defaulted, scaffolded and described by the schema types (``dagviz.config.schema``) exactly as
for ``Field`` schemas, and only once. At run time the op receives ``MyConfig`` built from the
validated values: enum names become members, nested dicts nested Config instances. Pydantic
runs again only for classes that declare validators or constraints of their own, which the
schema does not express.

```python
class Training(Config):
    epochs: int = 3
    mode: Mode = Mode.FAST             # an enum: run config names a member ("FAST")
    layers: list[int] = [64, 64]
    optimizer: Optimizer = Optimizer()  # a nested Config
    seed: Optional[int] = None
```
"""

from __future__ import annotations

import collections.abc
import enum
import threading
import types
import typing
from typing import Any as TypingAny, Callable

from pydantic import BaseModel, ConfigDict

from dagviz.config.schema import (
    Any,
    Array,
    ConfigType,
    Enum,
    Errors,
    Field,
    Map,
    Noneable,
    Permissive,
    Scalar,
    Shape,
)
from dagviz.config.env_vars import FromEnv, env_reference
from dagviz.errors import InvalidConfigError, InvalidDefinitionError


class Config(BaseModel):
    """Base class of config classes: typed fields with defaults and descriptions, frozen once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PermissiveConfig(Config):
    """A Config class that also accepts fields it does not declare (they are kept as given)."""

    model_config = ConfigDict(frozen=True, extra="allow")


def is_config_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Config)


_SCALARS = (int, float, str, bool)
_LISTS = (list, collections.abc.Sequence, collections.abc.MutableSequence)
_DICTS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
_lock = threading.RLock()
_shapes: dict[type, Shape] = {}
_builders: dict[type, "_Builder"] = {}

Converter = Callable[[TypingAny], TypingAny]


def _optional_inner(annotation: TypingAny) -> TypingAny | None:
    """``X`` for ``Optional[X]`` / ``X | None``; None when the annotation is not optional."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if type(None) in args:
            rest = [arg for arg in args if arg is not type(None)]
            if len(rest) == 1:
                return rest[0]
    return None


def config_type_for_annotation(annotation: TypingAny, where: str) -> ConfigType:
    """The config type for a Python annotation (``int``, ``list[str]``, an enum, a Config class...)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return config_type_for_annotation(args[0], where)
    if annotation in _SCALARS:
        return FromEnv(Scalar(annotation))  # as in Dagster, EnvVar("NAME") or {env: NAME} may give it
    if annotation is TypingAny or annotation is object:
        return Any
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Enum.from_python_enum(annotation)
    if is_config_class(annotation):
        return config_shape(annotation)
    inner = _optional_inner(annotation)
    if inner is not None:
        return Noneable(config_type_for_annotation(inner, where))
    if annotation in _LISTS or origin in _LISTS:
        return Array(config_type_for_annotation(args[0], where) if args else Any)
    if annotation in _DICTS or origin in _DICTS:
        if not args:
            return Permissive({})
        if args[0] is not str:
            raise InvalidDefinitionError(f"{where}: dict keys in config must be str, got {args[0]!r}.")
        return Map(config_type_for_annotation(args[1], where))
    raise InvalidDefinitionError(
        f"{where}: type {annotation!r} cannot be used in config; use int, float, str, bool, Any, an Enum, "
        "a Config class, list[...], dict[str, ...] or Optional[...]."
    )


def to_config_value(value: TypingAny) -> TypingAny:
    """A Python value as run config writes it: Config instances as dicts, enum members by name."""
    name = env_reference(value)
    if name is not None:
        return {"env": name}  # the reference, never the value
    if isinstance(value, Config):
        return {name: to_config_value(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [to_config_value(item) for item in value]
    if isinstance(value, dict):
        return {key: to_config_value(item) for key, item in value.items()}
    return value


def _field_for(config_class: type, name: str, info: TypingAny) -> Field:
    where = f"Config class '{config_class.__name__}' field '{name}'"
    config_type = config_type_for_annotation(info.annotation, where)
    description = info.description
    if info.is_required():
        if isinstance(config_type, Noneable):  # Optional[X] without a default: absent means None
            return Field(config_type, is_required=False, description=description)
        return Field(config_type, is_required=True, description=description)
    if info.default_factory is not None:  # filled in when the instance is built
        return Field(config_type, is_required=False, description=description)
    if info.default is None and not isinstance(config_type, Noneable):
        config_type = Noneable(config_type)
    try:
        return Field(config_type, default_value=to_config_value(info.default), description=description)
    except InvalidDefinitionError as error:
        raise InvalidDefinitionError(f"{where}: its default {info.default!r} does not fit its type ({error}).") from None


def config_shape(config_class: type) -> Shape:
    """The schema of a Config class (computed once per class)."""
    shape = _shapes.get(config_class)
    if shape is not None:
        return shape
    with _lock:
        fields = {name: _field_for(config_class, name, info) for name, info in config_class.model_fields.items()}
        permissive = config_class.model_config.get("extra") == "allow"
        shape = Permissive(fields) if permissive else Shape(fields)
        _shapes[config_class] = shape
    return shape


def config_field_for_class(config_class: type) -> Field:
    """An op's config field for a Config class: required when one of its fields is."""
    return Field(config_shape(config_class))


# -- building instances from validated values ------------------------------------------------------


def _converter(annotation: TypingAny) -> Converter | None:
    """How to turn a validated config value into the field's Python value (None: it already is)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _converter(args[0])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = annotation
        return lambda value: members[value] if isinstance(value, str) else value
    if is_config_class(annotation):
        nested = annotation
        return lambda value: build_config(nested, value) if isinstance(value, dict) else value
    inner = _optional_inner(annotation)
    if inner is not None:
        convert = _converter(inner)
        return None if convert is None else (lambda value: None if value is None else convert(value))
    if origin in _LISTS and args:
        convert = _converter(args[0])
        return None if convert is None else (lambda value: [convert(item) for item in value])
    if origin in _DICTS and len(args) == 2:
        convert = _converter(args[1])
        return None if convert is None else (lambda value: {key: convert(item) for key, item in value.items()})
    return None


class _Builder:
    """Builds instances of one Config class from validated values (per class, computed once)."""

    __slots__ = ("config_class", "converters", "validating")

    def __init__(self, config_class: type) -> None:
        self.config_class = config_class
        self.converters = {
            name: converter for name, info in config_class.model_fields.items()
            if (converter := _converter(info.annotation)) is not None
        }
        decorators = config_class.__pydantic_decorators__
        # Rules the schema does not express (validators, constraints like gt=0): pydantic checks them.
        self.validating = bool(
            decorators.validators or decorators.field_validators or decorators.root_validators
            or decorators.model_validators
            or any(info.metadata for info in config_class.model_fields.values())
        )

    def build(self, values: dict) -> TypingAny:
        converters = self.converters
        kwargs = {
            key: converters[key](value) if key in converters and value is not None else value
            for key, value in values.items()
        } if converters else values
        if self.validating:
            return self.config_class(**kwargs)
        return self.config_class.model_construct(**kwargs)


def build_config(config_class: type, values: dict | None) -> TypingAny:
    """An instance of ``config_class`` from values already validated against its schema."""
    builder = _builders.get(config_class)
    if builder is None:
        builder = _builders[config_class] = _Builder(config_class)
    return builder.build(values or {})


def validate_config(config_class: type, raw: TypingAny, where: str) -> dict:
    """A plain dict checked against the class's schema, defaults filled (``InvalidConfigError`` otherwise)."""
    errors: Errors = []
    cleaned = config_shape(config_class).validate(raw if raw is not None else {}, "", errors)
    if errors:
        raise InvalidConfigError([(f"{where}.{path}" if path else where, message) for path, message in errors])
    return cleaned  # type: ignore[return-value]


__all__ = [
    "Config", "PermissiveConfig", "build_config", "config_field_for_class", "validate_config",
    "config_shape", "config_type_for_annotation", "is_config_class", "to_config_value",
]
