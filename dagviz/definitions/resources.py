"""Resources: objects ops share during a run (clients, connections), declared once on the job.

```python
@resource(config_schema={"url": str})
def database(init_context):
    connection = connect(init_context.resource_config["url"])
    yield connection          # what ops get
    connection.close()        # teardown, at the end of the run

@op(required_resource_keys={"db"})
def load(context): context.resources.db.query(...)

@op
def report(client: ResourceParam[Client]): ...   # by parameter name and annotation

@job(resource_defs={"db": database, "client": Client()})   # plain objects are wrapped
```

A resource is set up at most once per process per run, when a step first needs it, and torn
down when the run ends there (``dagviz.execution.run_resources``). ``ConfigurableResource``
(pydantic fields as config) lives in ``dagviz.definitions.configurable_resources``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
from typing import Annotated, Any, Callable, Iterable, Mapping, TypeVar

from dagviz.config.schema import Any as AnyConfig, Errors, Field, Noneable, resolve_config_field
from dagviz.errors import InvalidConfigError, InvalidDefinitionError, UnknownResourceError

RESOURCE_PARAM = "resource_param"
T = TypeVar("T")
ResourceParam = Annotated[T, RESOURCE_PARAM]
"""``def op(client: ResourceParam[Client])``: the parameter is the resource named ``client``, not an input."""

_resource_logger = logging.getLogger("dagviz.resources")


class InitResourceContext:
    """What a resource function receives: its validated config, the resources it needs, the run id, a logger."""

    def __init__(self, resource_config: Any = None, resources: "Resources | None" = None,
                 run_id: str | None = None, resource_def: "ResourceDefinition | None" = None) -> None:
        self.resource_config = resource_config
        self.resources = resources if resources is not None else Resources({})
        self.run_id = run_id
        self.resource_def = resource_def
        self.log = _resource_logger

    def __repr__(self) -> str:
        return f"<InitResourceContext run={self.run_id}>"


class ResourceDefinition:
    """How to make a resource: a function of an ``InitResourceContext``; a generator tears down after its yield."""

    def __init__(self, resource_fn: Callable[..., Any], config_schema: Any = None, description: str | None = None,
                 required_resource_keys: Iterable[str] | None = None) -> None:
        self.resource_fn = resource_fn
        self.config_field: Field | None = resolve_config_field(config_schema)
        self.description = description
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self._takes_context = bool(inspect.signature(resource_fn).parameters)

    @staticmethod
    def hardcoded_resource(value: Any, description: str | None = None) -> "ResourceDefinition":
        """A resource that is always ``value`` (what a plain object given as a resource becomes)."""
        return ResourceDefinition(lambda _context: value, description=description)

    @staticmethod
    def none_resource(description: str | None = None) -> "ResourceDefinition":
        return ResourceDefinition.hardcoded_resource(None, description)

    def config_schema_field(self) -> Field:
        """The ``config`` field of this resource in run config (``resources: {key: {config: ...}}``)."""
        return self.config_field if self.config_field is not None else Field(AnyConfig, is_required=False)

    def configured(self, config: Any) -> "ResourceDefinition":
        """The same resource with its config fixed to ``config`` (validated now); run config then sets none."""
        errors: Errors = []
        cleaned = self.config_schema_field().config_type.validate(config, "config", errors)
        if errors:
            raise InvalidConfigError(errors)
        original = self

        def with_fixed_config(context: InitResourceContext) -> Any:
            fixed = InitResourceContext(cleaned, context.resources, context.run_id, original)
            return original.resource_fn(fixed) if original._takes_context else original.resource_fn()

        return ResourceDefinition(with_fixed_config, None, self.description, self.required_resource_keys)

    def __call__(self, context: InitResourceContext | None = None) -> Any:
        """Call the resource function directly (tests): its config is validated and defaulted first.

        A generator resource comes back as a context manager (``with my_resource(context) as value:``).
        """
        context = context if context is not None else InitResourceContext()
        errors: Errors = []
        config = self.config_schema_field().config_type.validate(context.resource_config, "config", errors)
        if errors and not (context.resource_config is None and not self.config_schema_field().is_required):
            raise InvalidConfigError(errors)
        context = InitResourceContext(config, context.resources, context.run_id, self)
        result = self.resource_fn(context) if self._takes_context else self.resource_fn()
        if inspect.isgenerator(result):
            return contextlib.contextmanager(lambda: result)()
        return result

    def setup(self, context: InitResourceContext) -> tuple[Any, Any]:
        """Run the resource function: (the resource, the generator to resume for teardown or None)."""
        result = self.resource_fn(context) if self._takes_context else self.resource_fn()
        if inspect.isgenerator(result):
            try:
                return next(result), result
            except StopIteration:
                raise InvalidDefinitionError(
                    f"Resource function {getattr(self.resource_fn, '__name__', self.resource_fn)!r} returned "
                    "without yielding its resource."
                ) from None
        return result, None

    def __repr__(self) -> str:
        return f"<ResourceDefinition {getattr(self.resource_fn, '__name__', '?')}>"


def build_init_resource_context(config: Any = None, resources: Mapping[str, Any] | None = None,
                                run_id: str | None = None) -> InitResourceContext:
    """A context to call a resource function directly in a test (``my_resource(build_init_resource_context(...))``)."""
    return InitResourceContext(config, Resources(resources or {}), run_id)


def resource(fn: Callable[..., Any] | None = None, *, config_schema: Any = None, description: str | None = None,
             required_resource_keys: Iterable[str] | None = None) -> Any:
    """Declare a resource, bare (``@resource``) or with arguments (``@resource(config_schema={"url": str})``)."""

    def decorate(function: Callable[..., Any]) -> ResourceDefinition:
        return ResourceDefinition(function, config_schema, description or inspect.getdoc(function),
                                  required_resource_keys)

    return decorate(fn) if fn is not None else decorate


class Resources:
    """``context.resources``: the resources an op declared, by key (``context.resources.db``)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            if name.startswith("__"):
                raise AttributeError(name) from None
            raise UnknownResourceError(
                f"Unknown resource `{name}`. Specify `{name}` as a required resource on the compute / config "
                "function that accessed it."
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("context.resources is read-only")

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __dir__(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"Resources({', '.join(sorted(self._values))})"


def is_resource_annotation(annotation: Any) -> bool:
    """Whether a parameter annotation makes the parameter a resource (``ResourceParam[T]``, a resource class)."""
    if RESOURCE_PARAM in getattr(annotation, "__metadata__", ()):
        return True
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, ResourceDefinition):
        return True
    configurable = sys.modules.get("dagviz.definitions.configurable_resources")
    return configurable is not None and issubclass(annotation, configurable.ConfigurableResource)


def as_resource_definition(value: Any) -> ResourceDefinition:
    """A resource definition for what a user gives as a resource: a definition, a ConfigurableResource, any object."""
    if isinstance(value, ResourceDefinition):
        return value
    make = getattr(type(value), "_resource_definition", None)
    if make is not None:
        return make(value)
    return ResourceDefinition.hardcoded_resource(value)


def resolve_resource_defs(resources: Mapping[str, Any] | None) -> dict[str, ResourceDefinition]:
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise InvalidDefinitionError(f"resource_defs must be a dict of resource key to resource, got {resources!r}.")
    return {key: as_resource_definition(value) for key, value in resources.items()}


def missing_resource_error(key: str, op_name: str, available: Iterable[str]) -> InvalidDefinitionError:
    return InvalidDefinitionError(
        f"resource with key '{key}' required by op '{op_name}' was not provided. Please provide a ResourceDefinition "
        f"to key '{key}', or change the required key to one of the following keys which points to an "
        f"ResourceDefinition: {list(available)}"
    )


def missing_dependency_error(key: str, resource_key: str, available: Iterable[str]) -> InvalidDefinitionError:
    return InvalidDefinitionError(
        f"resource with key '{key}' required by resource with key '{resource_key}' was not provided. Please provide "
        f"a ResourceDefinition to key '{key}', or change the required key to one of the following keys which points "
        f"to an ResourceDefinition: {list(available)}"
    )


def check_resources_provided(job_name: str, nodes: Mapping[str, Any], resource_defs: Mapping[str, ResourceDefinition]) -> None:
    """Raise ``InvalidDefinitionError`` (Dagster's wording) for the first resource key an op or a resource needs and nobody provides."""
    for node in nodes.values():
        for key in sorted(node.op.required_resource_keys):
            if key not in resource_defs:
                raise missing_resource_error(key, node.op.name, resource_defs)
    for resource_key, definition in resource_defs.items():
        for key in sorted(definition.required_resource_keys):
            if key not in resource_defs:
                raise missing_dependency_error(key, resource_key, resource_defs)


def required_resource_keys(nodes: Mapping[str, Any], resource_defs: Mapping[str, ResourceDefinition]) -> set[str]:
    """The resource keys a job's ops need, with the keys those resources need in turn."""
    needed: set[str] = set()
    pending = [key for node in nodes.values() for key in node.op.required_resource_keys]
    while pending:
        key = pending.pop()
        if key in needed:
            continue
        needed.add(key)
        definition = resource_defs.get(key)
        if definition is not None:
            pending.extend(definition.required_resource_keys)
    return needed


# Dagster's IO managers, accepted so jobs that name them run unchanged: dagviz's output store keeps
# every output whatever the job names here (docs/dagster-compat.md).
fs_io_manager = ResourceDefinition(
    lambda _context: None, config_schema={"base_dir": Field(Noneable(str), is_required=False)},
    description="Accepted for Dagster compatibility; outputs go to dagviz's output store.",
)
mem_io_manager = ResourceDefinition.none_resource("Accepted for Dagster compatibility; outputs go to dagviz's output store.")
