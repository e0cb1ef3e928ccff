"""``ConfigurableResource``: a resource whose pydantic fields are its config.

```python
class Warehouse(ConfigurableResource):
    url: str
    pool: int = 2

    def setup_for_execution(self, context): self._conn = connect(self.url)
    def teardown_after_execution(self, context): self._conn.close()

@op
def load(warehouse: Warehouse): ...            # the parameter name is the resource key

@job(resource_defs={"warehouse": Warehouse(url="pg://...")})   # values given here are config defaults
```

Run config can override the values (``resources: {warehouse: {config: {pool: 4}}}``);
``Warehouse.configure_at_launch()`` leaves them all to run config. Each run builds its own
instance from the validated config, in each process that needs it. A field whose type is
another ConfigurableResource (``class Repo(ConfigurableResource): db: Warehouse``) is a
resource the outer one depends on, as in Dagster: it is not part of the outer config, and it
is set up before the outer resource and torn down after it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from pydantic import ConfigDict, PrivateAttr

from dagviz.config.env_vars import env_reference

from dagviz.config.pythonic import Config, build_config, config_shape, to_config_value
from dagviz.config.schema import Errors, Field, Shape
from dagviz.definitions.resources import InitResourceContext, ResourceDefinition
from dagviz.errors import InvalidDefinitionError


class ConfigurableResource(Config):
    """A resource declared as a class: its fields are its config; override the setup/teardown hooks as needed."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    _env_values: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        # Pydantic turns EnvVar("NAME") into a plain str: keep the references, which run config carries.
        self._env_values = {name: value for name, value in values.items() if env_reference(value) is not None}

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Called once per process per run, before the first op that needs this resource runs there."""

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Called when the run ends in a process where the resource was set up."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        """Set up, give ops this object, tear down; override to give ops something else."""
        self.setup_for_execution(context)
        try:
            yield self
        finally:
            self.teardown_after_execution(context)

    @classmethod
    def configure_at_launch(cls, **values: Any) -> "PartialResource":
        """This resource with its config given in run config at launch (``values`` become defaults)."""
        return PartialResource(cls, values)

    def _resource_definition(self) -> ResourceDefinition:
        values = {name: getattr(self, name) for name in self.model_fields_set}
        return ConfigurableResourceDefinition(type(self), {**values, **self._env_values}, fully_configured=True)


class PartialResource:
    """A ConfigurableResource class whose config is given at launch (``Db.configure_at_launch()``)."""

    def __init__(self, resource_class: type[ConfigurableResource], values: dict[str, Any]) -> None:
        self.resource_class = resource_class
        self.values = values

    def _resource_definition(self) -> ResourceDefinition:
        return ConfigurableResourceDefinition(self.resource_class, self.values, fully_configured=False)

    def __repr__(self) -> str:
        return f"{self.resource_class.__name__}.configure_at_launch()"


def _shape_with_defaults(shape: Shape, values: dict[str, Any]) -> Shape:
    """The class's schema with the given field values as those fields' defaults."""
    fields = dict(shape.fields)
    for name, value in values.items():
        field = fields.get(name)
        if field is not None:
            fields[name] = Field(field.config_type, default_value=value, description=field.description)
    return type(shape)(fields)


def _nested_resource_fields(resource_class: type) -> frozenset[str]:
    """Fields typed with a ConfigurableResource class: resources the outer resource depends on."""
    return frozenset(
        name for name, info in resource_class.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, ConfigurableResource)
    )


class ConfigurableResourceDefinition(ResourceDefinition):
    """The definition behind a ConfigurableResource: builds the instance from its config, runs its hooks."""

    def __init__(self, resource_class: type[ConfigurableResource], given: dict[str, Any],
                 fully_configured: bool) -> None:
        self.resource_class = resource_class
        nested_names = _nested_resource_fields(resource_class)
        self.nested: dict[str, ResourceDefinition] = {}
        for name in sorted(nested_names & set(given)):
            nested = given[name]
            make = getattr(type(nested), "_resource_definition", None)
            if make is None:
                raise InvalidDefinitionError(
                    f"Resource {resource_class.__name__}: field '{name}' must be given a "
                    f"{resource_class.model_fields[name].annotation.__name__} instance, got {nested!r}.")
            self.nested[name] = make(nested)
        missing = sorted(name for name in nested_names - set(given) if resource_class.model_fields[name].is_required())
        if missing:
            raise InvalidDefinitionError(
                f"Resource {resource_class.__name__}: the resources it depends on ({', '.join(missing)}) must be given "
                "when it is declared; run config does not configure them.")
        values = {name: to_config_value(value) for name, value in given.items() if name not in nested_names}
        shape = config_shape(resource_class)
        if nested_names:
            shape = type(shape)({key: field for key, field in shape.fields.items() if key not in nested_names})
        errors: Errors = []
        if fully_configured:
            # Dagster's shape: the class's fields, the instance's values as the default of the whole config.
            cleaned = shape.validate(values, "", errors)
            field = Field(shape, default_value=cleaned)
        else:
            shape = _shape_with_defaults(shape, values) if values else shape
            shape.validate(values, "", [])
            unknown = sorted(set(values) - set(shape.fields))
            if unknown:
                errors.append(("", f"unknown fields {unknown}"))
            field = Field(shape)
        if errors:
            problems = "; ".join(f"{path}: {message}" if path else message for path, message in errors)
            raise InvalidDefinitionError(f"Resource {resource_class.__name__}: {problems}.")
        super().__init__(self._run, field, resource_class.__doc__)

    def _run(self, context: InitResourceContext) -> Iterator[Any]:
        nested_values: dict[str, Any] = {}
        teardowns = []
        try:
            for name, definition in self.nested.items():
                field = definition.config_schema_field()
                nested_context = InitResourceContext(field.default() if field.has_default() else None,
                                                     context.resources, context.run_id, definition)
                nested_values[name], teardown = definition.setup(nested_context)
                if teardown is not None:
                    teardowns.append(teardown)
            instance = build_config(self.resource_class, {**(context.resource_config or {}), **nested_values})
            with instance.yield_for_execution(context) as value:
                yield value
        finally:
            for teardown in reversed(teardowns):
                next(teardown, None)

    def __repr__(self) -> str:
        return f"<ResourceDefinition {self.resource_class.__name__}>"
