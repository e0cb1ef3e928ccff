"""Run config of a job: its schema (ops, execution, resources) and its validation into what the engine uses.

```yaml
ops:
  emit: {config: {n: 3}}
  my_graph: {ops: {inner: {config: {...}}}}
execution:
  multiprocess: {max_concurrent: 2}     # or in_process: {}; Dagster's `config:` wrapper is accepted
resources:
  db: {config: {url: "postgresql://..."}}   # validated by each resource's own schema
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from dagviz.config.schema import (
    Any as AnyConfig, ConfigType, Errors, Field, Noneable, Permissive, Selector, Shape, resolve_config_type,
)
from dagviz.config.safe_yaml import check_size, load_bounded_yaml
from dagviz.definitions.composition import CONFIG
from dagviz.errors import InvalidConfigError

if TYPE_CHECKING:
    from dagviz.definitions.composition import NodeSpec
    from dagviz.definitions.resources import ResourceDefinition
    from dagviz.definitions.types import CheckedType

START_METHODS = ("spawn", "forkserver", "fork")


class StartMethod(ConfigType):
    """``start_method: spawn`` or Dagster's selector form ``start_method: {forkserver: {}}``; gives the name."""

    name = "start_method"

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if isinstance(value, dict) and len(value) == 1:
            (value, options), = value.items()
            if options is not None and not isinstance(options, dict):
                errors.append((f"{path}.{value}", f"expected a dict of options, got {type(options).__name__}"))
        if value not in START_METHODS:
            errors.append((path, f"expected one of {', '.join(START_METHODS)} (or {{forkserver: {{}}}}), got {value!r}"))
        return value

    def has_default(self) -> bool:
        return True

    def default(self) -> object:
        return "spawn"

    def to_json(self) -> dict:
        return {"type": "Enum", "values": list(START_METHODS)}


class InputValue(ConfigType):
    """An op input given in run config: the value itself, or Dagster's ``{value: ...}`` form."""

    def __init__(self, inner: ConfigType) -> None:
        self.inner = inner
        self.name = inner.describe()

    def validate(self, value: object, path: str, errors: Errors) -> object:
        if isinstance(value, dict) and set(value) == {"value"} and not isinstance(self.inner, Shape):
            value = value["value"]
        elif self.inner is AnyConfig:  # an untyped input: only Dagster's selector form says what the value is
            errors.append((path, f"expected a dict {{value: ...}} for an untyped input, got {type(value).__name__}"))
            return value
        return self.inner.validate(value, path, errors)

    def to_json(self) -> dict:
        return self.inner.to_json()


def _input_config_type(hint: "CheckedType | None") -> ConfigType:
    """The run-config type of an op input given there: its checked scalar or container type, else any value."""
    python_type = hint.python_type if hint is not None else None
    if python_type in (int, float, str, bool, list, dict):
        return InputValue(resolve_config_type(python_type))
    return InputValue(AnyConfig)


# Executor sections are open dicts so Dagster knobs dagviz does not use (retries, ...) are accepted.
EXECUTOR_FIELDS: dict[str, Any] = {
    "in_process": Permissive({}),
    "multiprocess": Permissive(
        {
            "max_concurrent": Field(Noneable(int), description="Worker processes (none or 0: the CPU count)."),
            "start_method": Field(StartMethod(), description="spawn, forkserver or fork."),
        }
    ),
    "dask": Permissive(
        {
            "address": Field(str, is_required=False, description="Scheduler address; none starts a LocalCluster."),
            "n_workers": Field(int, is_required=False),
            "threads_per_worker": Field(int, is_required=False),
        }
    ),
}


@dataclass(frozen=True)
class ExecutorChoice:
    """Which executor runs the steps, with its config (e.g. ``multiprocess``, ``{"max_concurrent": 2}``)."""

    name: str = "in_process"
    config: dict = field(default_factory=dict)


def executor_of(job: Any, config: "ResolvedRunConfig") -> ExecutorChoice:
    """The run's executor: the run config's when it names one, else the job's ``executor_def``, else in_process."""
    executor_def = getattr(job, "executor_def", None)
    if config.executor_given or executor_def is None:
        return config.executor
    return ExecutorChoice(executor_def.name, dict(executor_def.config))


@dataclass(frozen=True)
class ResolvedRunConfig:
    """A validated run config: each node's op config (defaults filled) and the executor."""

    raw: dict
    op_configs: dict[str, Any]
    executor: ExecutorChoice
    executor_given: bool
    op_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> input -> value from run config
    resource_configs: dict[str, Any] = field(default_factory=dict)  # resource key -> its validated config


def _insert(tree: dict, parts: list[str], node: "NodeSpec") -> None:
    head, rest = parts[0], parts[1:]
    if rest:
        _insert(tree.setdefault(head, {}), rest, node)
    else:
        tree[head] = node


def _ops_shape(tree: dict, optional: frozenset[str] = frozenset()) -> Shape:
    """The ``ops`` section; nodes in ``optional`` (outside an op selection) may be configured, need not be."""
    fields: dict[str, Field] = {}
    for name, item in tree.items():
        if isinstance(item, dict):
            inner = _ops_shape(item, optional)
            fields[name] = Field(Shape({"ops": Field(inner, is_required=inner.is_required() or None)}))
        elif item.handle in optional:
            fields[name] = Field(Shape(_node_fields(item)), is_required=False)
        else:
            fields[name] = Field(Shape(_node_fields(item)))
    return Shape(fields)


def _node_fields(node: "NodeSpec") -> dict[str, Field]:
    """An op's run-config section: its ``config`` and the ``inputs`` that no other op connects."""
    fields: dict[str, Field] = {}
    if node.op.config_field:
        fields["config"] = node.op.config_field
    from_config = {name: Field(_input_config_type(node.op.input_types.get(name)))
                   for name, source in node.inputs.items() if source.kind == CONFIG}
    if from_config:
        fields["inputs"] = Field(Shape(from_config))
    return fields


def resources_shape(resource_defs: Mapping[str, "ResourceDefinition"] | None) -> Shape:
    """The ``resources`` section: ``{key: {config: ...}}`` for each of the job's resources.

    A job without resources accepts any section (Dagster's default resources are not dagviz's).
    """
    if not resource_defs:
        return Permissive({})
    return Shape({key: Field(Shape({"config": definition.config_schema_field()}))
                  for key, definition in resource_defs.items()})


def _resources_field(resource_defs: Mapping[str, "ResourceDefinition"] | None) -> Field:
    shape = resources_shape(resource_defs)
    return Field(shape, is_required=shape.is_required() or None)


def resolve_resource_configs(resource_defs: Mapping[str, "ResourceDefinition"],
                             section: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a ``resources`` section on its own (direct invocation); each key's config, defaults filled."""
    errors: list[tuple[str, str]] = []
    cleaned = resources_shape(resource_defs).validate(dict(section or {}), "resources", errors)
    if errors:
        raise InvalidConfigError(errors)
    return _resource_configs(resource_defs, cleaned)  # type: ignore[arg-type]


def _resource_configs(resource_defs: Mapping[str, "ResourceDefinition"] | None, cleaned: dict | None) -> dict[str, Any]:
    return {key: ((cleaned or {}).get(key) or {}).get("config") for key in (resource_defs or {})}


def run_config_type(nodes: Mapping[str, "NodeSpec"], default_executor: str = "in_process", *,
                    resource_defs: Mapping[str, "ResourceDefinition"] | None = None) -> Shape:
    """The schema of a job's run config (``resource_defs``: the job's resources, for the ``resources`` section)."""
    tree: dict = {}
    unselected = getattr(nodes, "unselected", {})  # a subset job (op selection) still accepts their config
    for handle, node in {**unselected, **nodes}.items():
        _insert(tree, handle.split("."), node)
    return Shape(
        {
            "ops": Field(_ops_shape(tree, frozenset(unselected))),
            "execution": Field(Selector(EXECUTOR_FIELDS, default_choice=default_executor), is_required=False),
            "resources": _resources_field(resource_defs),
            "loggers": Field(Permissive({}), is_required=False),
        }
    )


def _op_section_at(cleaned_ops: dict, handle: str, section: str) -> Any:
    entry: Any = {"ops": cleaned_ops}
    for part in handle.split("."):
        entry = (entry.get("ops") or {}).get(part) or {}
    return entry.get(section)


def resolve_run_config(
    job_name: str, nodes: Mapping[str, "NodeSpec"], run_config: Mapping[str, Any] | None, *,
    resource_defs: Mapping[str, "ResourceDefinition"] | None = None,
) -> ResolvedRunConfig:
    """Validate ``run_config`` against the job's schema, or raise :class:`InvalidConfigError` listing every problem."""
    raw = dict(run_config or {})
    if not isinstance(run_config, (Mapping, type(None))):
        raise InvalidConfigError([("", f"run config must be a dict, got {type(run_config).__name__}")], job_name)
    execution = raw.get("execution")
    if isinstance(execution, dict) and set(execution) == {"config"}:
        raw["execution"] = execution["config"]  # Dagster writes execution: {config: {multiprocess: ...}}
    errors: list[tuple[str, str]] = []
    cleaned = run_config_type(nodes, resource_defs=resource_defs).validate(raw, "", errors)
    if errors:
        raise InvalidConfigError(errors, job_name)
    assert isinstance(cleaned, dict)
    (name, config), = cleaned["execution"].items()
    op_configs = {handle: _op_section_at(cleaned["ops"], handle, "config")
                  for handle, node in nodes.items() if node.op.config_field}
    op_inputs = {handle: _op_section_at(cleaned["ops"], handle, "inputs") or {}
                 for handle, node in nodes.items() if any(s.kind == CONFIG for s in node.inputs.values())}
    return ResolvedRunConfig(raw, op_configs, ExecutorChoice(name, config), "execution" in raw, op_inputs,
                             _resource_configs(resource_defs, cleaned.get("resources")))


def default_run_config(nodes: Mapping[str, "NodeSpec"], *,
                       resource_defs: Mapping[str, "ResourceDefinition"] | None = None) -> dict:
    """The run config with every default written out (what a launchpad starts from)."""
    config: dict = run_config_type(nodes, resource_defs=resource_defs).validate({}, "", [])  # type: ignore[assignment]
    config.pop("loggers", None)  # accepted for Dagster compatibility, never used
    resources = {key: section for key, section in (config.pop("resources", None) or {}).items()
                 if isinstance(section, dict) and section.get("config") not in (None, {})}
    if resources:
        config["resources"] = resources
    return config


def load_run_config(source: str | None) -> dict:
    """Run config from a YAML/JSON file path or inline JSON/YAML text (``{...}``); ``{}`` for nothing.

    Read through the bounded loader (``dagviz/config/safe_yaml.py``): a file is refused by its
    size before it is read, and aliases, values, depth and NUL bytes are limited while parsing.
    Raises ``InvalidConfigError`` naming the file, the YAML problem or the limit.
    """
    if not source:
        return {}
    text = source
    if not source.lstrip().startswith("{"):
        text = _read_config_file(source)
    data = load_bounded_yaml(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidConfigError([("", f"run config must be a mapping at the top level, got {type(data).__name__}")])
    return data


def _read_config_file(path: str) -> str:
    """The text of a run config file, refused by its size before reading it."""
    try:
        check_size(os.path.getsize(path), f"run config file {path!r}")
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise InvalidConfigError([("", f"cannot read run config {path!r}: no such file (or inline JSON)")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidConfigError([("", f"cannot read run config {path!r}: {error}")]) from None
