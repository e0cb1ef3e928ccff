"""Op parameters that are not inputs: ``config`` (a Config class or a plain type) and resources.

```python
@op
def train(context, config: Training, warehouse: Warehouse, client: ResourceParam[Client], rows: list): ...
#                ^ config              ^ resource "warehouse"  ^ resource "client"          ^ an input
```

As in Dagster, the parameter named ``config`` is the op's config (a parameter annotated with
a Config class is too, whatever its name); a parameter annotated with a ConfigurableResource
class or ``ResourceParam[...]`` is the resource of the same name. Everything else is an input.
"""

from __future__ import annotations

import inspect
import sys
import typing
from dataclasses import dataclass
from typing import Any, Callable

from dagviz.config.schema import Any as AnyConfig, Field
from dagviz.definitions.resources import is_resource_annotation
from dagviz.errors import InvalidDefinitionError

CONFIG_PARAM = "config"


@dataclass(frozen=True)
class SpecialParams:
    """Which parameters of an op function are its config and its resources."""

    config_name: str | None = None
    config_class: type | None = None  # a Config class; None when the config is a plain value
    config_field: Field | None = None
    resource_names: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.resource_names + ((self.config_name,) if self.config_name else ()))


NO_SPECIAL_PARAMS = SpecialParams()


def annotations_of(fn: Callable) -> dict[str, Any]:
    """The function's annotations, string ones resolved where possible (``Annotated`` metadata kept)."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # one annotation names something not resolvable here: resolve the others one by one
        hints: dict[str, Any] = {}
        namespace = getattr(fn, "__globals__", {})
        for name, annotation in getattr(fn, "__annotations__", {}).items():
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, namespace)  # noqa: S307 - the function's own annotation text
                except Exception:
                    continue
            hints[name] = annotation
        return hints


def _config_class(annotation: Any) -> type | None:
    pythonic = sys.modules.get("dagviz.config.pythonic")  # no Config subclass exists before it is imported
    if pythonic is not None and pythonic.is_config_class(annotation):
        return annotation
    return None


def special_params(fn: Callable, params: list[inspect.Parameter], op_name: str) -> SpecialParams:
    """Classify ``params`` (the function's parameters after ``context``)."""
    hints = annotations_of(fn) if any(p.annotation is not p.empty for p in params) else {}
    config_param: inspect.Parameter | None = None
    resources: list[str] = []
    for param in params:
        annotation = hints.get(param.name, param.annotation)
        if is_resource_annotation(annotation):
            resources.append(param.name)
        elif param.name == CONFIG_PARAM or _config_class(annotation) is not None:
            if config_param is not None:
                raise InvalidDefinitionError(
                    f"op '{op_name}' has two config parameters ('{config_param.name}' and '{param.name}'); "
                    "an op takes one, named 'config'."
                )
            config_param = param
    if config_param is None:
        return SpecialParams(resource_names=tuple(resources)) if resources else NO_SPECIAL_PARAMS
    annotation = hints.get(config_param.name, config_param.annotation)
    config_class = _config_class(annotation)
    if config_class is not None:
        if config_param.default is not config_param.empty:
            raise InvalidDefinitionError(
                f"op '{op_name}': parameter '{config_param.name}' is a Config class and cannot have a default value "
                "(give its fields defaults instead)."
            )
        from dagviz.config.pythonic import config_field_for_class

        config_field = config_field_for_class(config_class)
    else:
        config_field = _plain_config_field(config_param, annotation, op_name)
    return SpecialParams(config_param.name, config_class, config_field, tuple(resources))


def _plain_config_field(param: inspect.Parameter, annotation: Any, op_name: str) -> Field:
    """``config: int = 3``: the op's config is one plain value."""
    has_default = param.default is not param.empty
    if annotation is param.empty:
        return Field(AnyConfig, default_value=param.default) if has_default else Field(AnyConfig, is_required=False)
    from dagviz.config.pythonic import config_type_for_annotation

    config_type = config_type_for_annotation(annotation, f"op '{op_name}' parameter '{param.name}'")
    return Field(config_type, default_value=param.default) if has_default else Field(config_type)


def config_argument(op_def: Any, op_config: Any) -> Any:
    """What an op's ``config`` parameter receives: its Config class built from the validated config, or the value."""
    if op_def.config_class is None:
        return op_config
    from dagviz.config.pythonic import build_config

    return build_config(op_def.config_class, op_config)
