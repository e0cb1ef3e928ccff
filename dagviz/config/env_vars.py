"""Config read from environment variables, as in Dagster: ``EnvVar("DB_URL")``, ``StringSource``, ``{env: NAME}``.

Run config keeps the reference (``{"env": "DB_URL"}``), never the value, so a secret is not written
to the database or shown on the launchpad. The value is read when a run starts, in the process that
runs it (``resolve_env_vars``); validating or launching a run does not need the variable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dagviz.config.schema import Array, ConfigType, Errors, Map, Noneable, Scalar, Shape

if TYPE_CHECKING:
    from dagviz.config.run_config import ResolvedRunConfig


class EnvVar(str):
    """The name of an environment variable whose value a config field takes when the run starts."""

    @property
    def env_var_name(self) -> str:
        return str(self)

    def get_value(self, default: str | None = None) -> str | None:
        return os.environ.get(self.env_var_name, default)

    @staticmethod
    def int(name: str) -> "IntEnvVar":
        """For an ``int`` field: ``port=EnvVar.int("DB_PORT")``."""
        return IntEnvVar(name)


class IntEnvVar(int):
    """``EnvVar.int(NAME)``: an int field's value, read from an environment variable when the run starts."""

    env_var_name: str

    def __new__(cls, name: str) -> "IntEnvVar":
        value = super().__new__(cls, 0)
        value.env_var_name = name
        return value

    def get_value(self, default: int | None = None) -> int | None:
        raw = os.environ.get(self.env_var_name)
        return default if raw is None else int(raw)


def env_reference(value: object) -> str | None:
    """The variable name when ``value`` is ``EnvVar(...)``, ``EnvVar.int(...)`` or ``{"env": NAME}``, else None."""
    if isinstance(value, (EnvVar, IntEnvVar)):
        return value.env_var_name
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("env"), str):
        return value["env"]
    return None


class FromEnv(ConfigType):
    """A scalar given as itself or read from an environment variable (``{env: NAME}`` / ``EnvVar``)."""

    def __init__(self, inner: Scalar) -> None:
        self.inner = inner
        self.name = inner.describe()

    def validate(self, value: object, path: str, errors: Errors) -> object:
        name = env_reference(value)
        if name is not None:
            return {"env": name}  # read when the run starts (``resolve_env_vars``)
        return self.inner.validate(value, path, errors)

    def read(self, name: str, path: str, errors: Errors) -> object:
        raw = os.environ.get(name)
        if raw is None:
            errors.append((path, f'You have attempted to fetch the environment variable "{name}" which is not set. '
                                 "In order for this execution to succeed it must be set in this environment."))
            return None
        python_type = self.inner.python_type
        if python_type is str:
            return raw
        if python_type is bool:
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no", ""):
                return False
        else:
            try:
                return python_type(raw)
            except ValueError:
                pass
        errors.append((path, f'expected {self.inner.describe()} in environment variable "{name}", got {raw!r}'))
        return None

    def describe(self) -> str:
        return self.inner.describe()

    def to_json(self) -> dict:
        return self.inner.to_json()  # {env: NAME} is accepted wherever the scalar is


StringSource = FromEnv(Scalar(str))
IntSource = FromEnv(Scalar(int))
BoolSource = FromEnv(Scalar(bool))


def uses_env(config_type: ConfigType) -> bool:
    """Whether values of this type may name environment variables (so they need resolving)."""
    if isinstance(config_type, FromEnv):
        return True
    if isinstance(config_type, Shape):
        return any(uses_env(field.config_type) for field in config_type.fields.values())
    if isinstance(config_type, (Array, Noneable, Map)):
        return uses_env(config_type.inner)
    return False


def resolve_env_vars(config_type: ConfigType, value: Any, path: str, errors: Errors) -> Any:
    """``value`` (already validated against ``config_type``) with every ``{env: NAME}`` replaced by the variable's value."""
    if value is None:
        return None
    if isinstance(config_type, FromEnv):
        name = env_reference(value)
        return config_type.read(name, path, errors) if name is not None else value
    if isinstance(config_type, Shape):  # Permissive and Selector too
        if not isinstance(value, dict):
            return value
        return {key: resolve_env_vars(config_type.fields[key].config_type, item, f"{path}.{key}" if path else key, errors)
                if key in config_type.fields else item for key, item in value.items()}
    if isinstance(config_type, Array) and isinstance(value, list):
        return [resolve_env_vars(config_type.inner, item, f"{path}[{index}]", errors) for index, item in enumerate(value)]
    if isinstance(config_type, Map) and isinstance(value, dict):
        return {key: resolve_env_vars(config_type.inner, item, f"{path}.{key}", errors) for key, item in value.items()}
    if isinstance(config_type, Noneable):
        return resolve_env_vars(config_type.inner, value, path, errors)
    return value


def resolve_run_env(job: Any, config: "ResolvedRunConfig") -> "ResolvedRunConfig":
    """The run's op and resource configs with their environment variables read now (at run start).

    Raises ``InvalidConfigError`` naming the path of every variable that is not set.
    """
    import dataclasses

    from dagviz.errors import InvalidConfigError

    errors: Errors = []
    op_configs = dict(config.op_configs)
    for handle, value in config.op_configs.items():
        field = job.nodes[handle].op.config_field
        if field is not None and uses_env(field.config_type):
            op_configs[handle] = resolve_env_vars(field.config_type, value, f"ops.{handle}.config", errors)
    resource_configs = dict(config.resource_configs)
    for key, value in config.resource_configs.items():
        definition = job.resource_defs.get(key)
        config_type = definition.config_schema_field().config_type if definition is not None else None
        if config_type is not None and uses_env(config_type):
            resource_configs[key] = resolve_env_vars(config_type, value, f"resources.{key}.config", errors)
    if errors:
        raise InvalidConfigError(errors, job.name)
    if op_configs == config.op_configs and resource_configs == config.resource_configs:
        return config
    return dataclasses.replace(config, op_configs=op_configs, resource_configs=resource_configs)
