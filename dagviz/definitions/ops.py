"""Op definitions: the ``@op`` decorator, its inputs (``In``), outputs (``Out``, ``DynamicOut``) and retries."""

from __future__ import annotations

import collections.abc
import enum
import functools
import inspect
import random
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from dagviz.config.schema import NO_DEFAULT, Field, resolve_config_field
from dagviz.definitions.op_params import annotations_of, special_params
from dagviz.definitions.outputs import DEFAULT_OUTPUT, DynamicOutput, Output
from dagviz.definitions.types import CheckedType, Nothing, resolve_type
from dagviz.errors import InvalidDefinitionError
from dagviz.step_keys import validate_node_name

CONTEXT_PARAM_NAMES = ("context", "_context", "_")  # as Dagster: a first parameter "ctx" is an input


@dataclass(frozen=True)
class In:
    """An op input: an optional description and a default used when nothing is connected."""

    dagster_type: Any = None
    description: str | None = None
    default_value: Any = NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default_value is not NO_DEFAULT

    @property
    def is_nothing(self) -> bool:
        return self.dagster_type is Nothing


@dataclass(frozen=True)
class Out:
    """A plain op output; ``is_required=False`` lets the op skip it (downstream steps are then skipped)."""

    dagster_type: Any = None
    description: str | None = None
    is_required: bool = True

    is_dynamic = False


@dataclass(frozen=True)
class DynamicOut(Out):
    """An output yielded as many ``DynamicOutput`` values, one per mapping key.

    A required one with no keys gives downstream collects ``[]``; an optional one
    (``is_required=False``) with no keys skips the mapped steps and the collect.
    """

    is_dynamic = True


class Backoff(enum.Enum):
    """How the retry delay grows with the attempt number n: LINEAR ``n * delay``, EXPONENTIAL ``(2**n - 1) * delay``."""

    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(enum.Enum):
    """Randomness added to the delay: FULL anywhere in ``[0, delay_n]``, PLUS_MINUS ``delay_n +/- delay``."""

    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed step up to ``max_retries`` times, waiting ``delay`` seconds (shaped by backoff and jitter).

    Each mapped key retries on its own.
    """

    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise InvalidDefinitionError(f"RetryPolicy max_retries must be >= 0, got {self.max_retries}.")
        for name in ("backoff", "jitter"):
            if getattr(self, name) is not None and self.delay is None:
                raise InvalidDefinitionError(f"Can not set {name} on RetryPolicy without also setting delay")

    def calculate_delay(self, attempt_num: int) -> float:
        """Seconds to wait before the next attempt after attempt ``attempt_num`` (1 for the first) failed."""
        base = float(self.delay or 0)
        if self.backoff is Backoff.EXPONENTIAL:
            delay = (2 ** attempt_num - 1) * base
        elif self.backoff is Backoff.LINEAR:
            delay = attempt_num * base
        else:
            delay = base
        if self.jitter is Jitter.FULL:
            delay = random.random() * delay
        elif self.jitter is Jitter.PLUS_MINUS:
            delay = delay + (2 * random.random() - 1) * base
        return delay


def _out_from_annotation(annotation: Any) -> Out:
    """``-> List[DynamicOutput[int]]`` or ``-> Iterator[DynamicOutput]`` make the output dynamic, as in Dagster."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, collections.abc.Iterator, collections.abc.Generator, collections.abc.Iterable) and args:
        item = args[0]
        if item is DynamicOutput or typing.get_origin(item) is DynamicOutput:
            item_args = typing.get_args(item)
            return DynamicOut(item_args[0] if item_args else None)
    if annotation is Output or origin is Output:
        return Out(args[0] if args else None)
    if annotation is inspect.Signature.empty:
        return Out()
    return Out(annotation)


def _resolve_outs(out: Any, op_name: str, return_annotation: Any = inspect.Signature.empty) -> dict[str, Out]:
    if out is None:
        return {DEFAULT_OUTPUT: _out_from_annotation(return_annotation)}
    if isinstance(out, Out):
        return {DEFAULT_OUTPUT: out}
    if isinstance(out, dict) and all(isinstance(value, Out) for value in out.values()):
        for name in out:
            validate_node_name(name)
        return dict(out)
    raise InvalidDefinitionError(
        f"op '{op_name}': out must be an Out, a DynamicOut or a dict of them, got {out!r}."
    )


def _takes_context(params: list[inspect.Parameter]) -> bool:
    if not params:
        return False
    first = params[0]
    annotation = first.annotation
    annotation_name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return first.name in CONTEXT_PARAM_NAMES or "ExecutionContext" in str(annotation_name)


def _resolve_ins(fn: Callable, ins: dict[str, In] | None, op_name: str,
                 not_inputs: frozenset[str] = frozenset()) -> tuple[bool, dict[str, In]]:
    params = list(inspect.signature(fn).parameters.values())
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidDefinitionError(f"op '{op_name}': *args and **kwargs are not supported as op inputs.")
    takes_context = _takes_context(params)
    input_params = [param for param in (params[1:] if takes_context else params) if param.name not in not_inputs]
    declared = dict(ins or {})
    resolved: dict[str, In] = {}
    for param in input_params:
        spec = declared.pop(param.name, None) or In()
        if not spec.has_default and param.default is not param.empty:
            spec = In(spec.dagster_type, spec.description, param.default)
        resolved[param.name] = spec
    for name in [name for name, spec in declared.items() if spec.is_nothing]:
        resolved[name] = declared.pop(name)  # ordering only: never passed to the function
    if declared:
        raise InvalidDefinitionError(
            f"op '{op_name}': ins {sorted(declared)} have no matching parameter in the function "
            f"(parameters: {[p.name for p in input_params]})."
        )
    return takes_context, resolved


def _checked_input_types(ins: dict[str, In], hints: dict[str, Any]) -> dict[str, CheckedType]:
    checked = {}
    for name, spec in ins.items():
        if spec.is_nothing:
            continue
        resolved = resolve_type(spec.dagster_type if spec.dagster_type is not None else hints.get(name))
        if resolved is not None:
            checked[name] = resolved
    return checked


class OpDefinition:
    """A unit of computation: a function, its inputs, outputs, config schema and retry policy."""

    def __init__(
        self,
        fn: Callable,
        name: str | None = None,
        config_schema: Any = None,
        ins: dict[str, In] | None = None,
        out: Any = None,
        retry_policy: RetryPolicy | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        required_resource_keys: Iterable[str] | None = None,
    ) -> None:
        self.name = validate_node_name(name or fn.__name__)
        self.compute_fn = fn
        self.config_field: Field | None = resolve_config_field(config_schema)
        self._set_special_params(fn, config_schema, required_resource_keys)
        self.takes_context, self.ins = _resolve_ins(fn, ins, self.name, self.special_params.names)
        hints = annotations_of(fn)
        self.outs = _resolve_outs(out, self.name, hints.get("return", inspect.Signature.empty))
        self.input_types = _checked_input_types(self.ins, hints)
        self.output_types = {name: checked for name, spec in self.outs.items()
                             if (checked := resolve_type(spec.dagster_type)) is not None}
        self.retry_policy = retry_policy
        self.tags = dict(tags or {})
        self.description = description or inspect.getdoc(fn)
        self.is_generator = inspect.isgeneratorfunction(fn)
        if self.config_field is not None and not self.takes_context and self.config_param is None:
            raise InvalidDefinitionError(
                f"op '{self.name}' has a config_schema but its function takes no 'context' parameter to read it from."
            )

    def _set_special_params(self, fn: Callable, config_schema: Any, required_resource_keys: Iterable[str] | None) -> None:
        """The ``config`` parameter and resource parameters, which are not inputs."""
        params = list(inspect.signature(fn).parameters.values())
        special = special_params(fn, params[1:] if _takes_context(params) else params, self.name)
        self.special_params = special
        self.config_param = special.config_name
        self.config_class = special.config_class
        self.resource_params = special.resource_names
        if special.config_field is not None:
            if config_schema not in (None, {}):
                raise InvalidDefinitionError(
                    f"op '{self.name}' has a '{special.config_name}' parameter and a config_schema; "
                    "if the @op has a config arg, you cannot specify a config schema."
                )
            self.config_field = special.config_field
        if required_resource_keys and special.resource_names:
            raise InvalidDefinitionError(
                f"op '{self.name}': cannot specify resource requirements in both @op decorator and as arguments to "
                f"the decorated function (required_resource_keys={sorted(required_resource_keys)}, resource "
                f"parameters {list(special.resource_names)})."
            )
        self.required_resource_keys = frozenset(required_resource_keys or ()) | frozenset(special.resource_names)

    @property
    def config_schema(self) -> Field | None:
        """The op's config field (``.config_type.fields`` for a dict or a Config class), as Dagster names it."""
        return self.config_field

    @functools.cached_property
    def dynamic_output_names(self) -> list[str]:
        # Asked for every step of every key; an op's outputs never change once it is defined.
        return [name for name, out in self.outs.items() if out.is_dynamic]

    def alias(self, name: str) -> "PendingInvocation":
        """Use this op under another node name in a job (``op.alias("second")(x)``)."""
        return PendingInvocation(self, validate_node_name(name))

    def with_retry_policy(self, retry_policy: RetryPolicy) -> "PendingInvocation":
        return PendingInvocation(self, None, retry_policy)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return PendingInvocation(self, None)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


@dataclass
class PendingInvocation:
    """An op about to be invoked under an alias or with a different retry policy."""

    op: OpDefinition
    alias_name: str | None = None
    retry_policy: RetryPolicy | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def alias(self, name: str) -> "PendingInvocation":
        return PendingInvocation(self.op, validate_node_name(name), self.retry_policy, self.tags)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from dagviz.definitions.composition import current_composition, invoke_op_directly

        composition = current_composition()
        if composition is None:
            return invoke_op_directly(self.op, args, kwargs)
        return composition.invoke_op(self, args, kwargs)


def op(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    config_schema: Any = None,
    ins: dict[str, In] | None = None,
    out: Any = None,
    retry_policy: RetryPolicy | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
) -> Any:
    """Declare an op; usable bare (``@op``) or with arguments (``@op(out=DynamicOut())``)."""

    def decorate(function: Callable) -> OpDefinition:
        return OpDefinition(function, name, config_schema, ins, out, retry_policy, tags, description,
                            required_resource_keys)

    return decorate(fn) if fn is not None else decorate
