"""Calling an op function directly (unit tests): the arguments a run would give it, from what the caller gave.

```python
train(build_op_context(resources={"warehouse": Warehouse(url="...")}), config=Training(epochs=2))
train(config={"epochs": 2}, warehouse=Warehouse(url="..."))   # a dict is validated, defaults filled
```

As in Dagster: a context may be passed first (one is built when the op takes one and none is
given); the ``config`` parameter takes a Config instance or a dict, and defaults to the
context's ``op_config``; resource parameters come from the keyword arguments or from the
context's resources. Resources given as keyword arguments are set up for the call and torn
down after it; a context's resources live as long as the context (``with build_op_context(...)``).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from typing import Any, Iterator

from dagviz.definitions.resources import missing_resource_error

_MISSING = object()


@contextlib.contextmanager
def direct_arguments(op_def: Any, args: tuple, kwargs: dict) -> Iterator[tuple[tuple, dict]]:
    """The positional and keyword arguments to call ``op_def.compute_fn`` with."""
    from dagviz.execution.context import OpExecutionContext, build_op_context

    args_list = list(args)
    kwargs = dict(kwargs)
    params = list(inspect.signature(op_def.compute_fn).parameters)
    context: Any = None
    if op_def.takes_context:
        if args_list:
            context = args_list.pop(0)
        elif params[0] in kwargs:
            context = kwargs.pop(params[0])
        params = params[1:]
    elif args_list and isinstance(args_list[0], OpExecutionContext):
        context = args_list.pop(0)  # Dagster lets any op be given a context (for its resources)
    if not op_def.config_param and not op_def.required_resource_keys:
        if op_def.takes_context:
            args_list.insert(0, context if context is not None else build_op_context())
        yield tuple(args_list), kwargs
        return
    kwargs.update(zip(params, args_list))  # by name from here on: config and resources are found by name
    if len(args_list) > len(params):
        raise TypeError(f"op '{op_def.name}' takes {len(params)} arguments after its context, got {len(args_list)}.")
    context = context if context is not None else build_op_context()
    opened = None
    try:
        if op_def.required_resource_keys:
            opened = _resource_arguments(op_def, context, kwargs)
        if op_def.config_param:
            context = _config_argument(op_def, context, kwargs)
        yield ((context,) if op_def.takes_context else ()), kwargs
    finally:
        if opened is not None:
            opened.teardown()


def _resource_arguments(op_def: Any, context: Any, kwargs: dict) -> Any:
    """Put resource parameters in ``kwargs``; returns the resources set up for this call (or None)."""
    from dagviz.execution.run_resources import open_direct_resources

    given = {name: kwargs.pop(name) for name in op_def.resource_params if name in kwargs}
    available = list(context.resources)
    for key in sorted(op_def.required_resource_keys):
        if key not in given and key not in context.resources:
            raise missing_resource_error(key, op_def.name, available)
    opened = open_direct_resources(given) if given else None
    for name in op_def.resource_params:
        kwargs[name] = opened.get(name) if name in given else getattr(context.resources, name)  # type: ignore[union-attr]
    return opened


def _config_argument(op_def: Any, context: Any, kwargs: dict) -> Any:
    """Put the config parameter in ``kwargs``; returns the context, with ``op_config`` set to what the op got."""
    given = kwargs.pop(op_def.config_param, _MISSING)
    raw = context.op_config if given is _MISSING else given
    config_class = op_def.config_class
    if config_class is not None:
        from dagviz.config.pythonic import build_config, to_config_value, validate_config

        if isinstance(raw, config_class):
            value, op_config = raw, to_config_value(raw)
        else:
            op_config = validate_config(config_class, raw, f"op '{op_def.name}' config")
            value = build_config(config_class, op_config)
    else:
        value = op_config = _validated(op_def, raw)
    kwargs[op_def.config_param] = value
    if context.op_config != op_config:
        context = copy.copy(context)
        context.op_config = op_config
    return context


def _validated(op_def: Any, raw: Any) -> Any:
    from dagviz.errors import InvalidConfigError

    errors: list[tuple[str, str]] = []
    field = op_def.config_field
    if raw is None and field.has_default():
        return field.default()
    value = field.config_type.validate(raw, f"op '{op_def.name}' config", errors)
    if errors:
        raise InvalidConfigError(errors)
    return value
