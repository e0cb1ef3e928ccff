"""The one grammar of step keys and mapping keys.

A step key names one execution of a node: ``op`` for a static step, ``op[key]`` for a
mapped copy, ``op[outer][inner]`` for nested fan-out, ``op[?]`` for the not yet resolved
steps of a mapped node, and ``graph.op[key]`` for a node inside a graph. Mapping keys
match ``^[A-Za-z0-9_]+$`` and are not reserved words, so brackets never appear inside a
key and every step key parses back unambiguously. Nothing else in dagviz builds or
splits step keys by hand.
"""

from __future__ import annotations

import keyword
import re
from typing import NamedTuple

from dagviz.errors import InvalidDefinitionError, InvalidMappingKeyError, InvalidStepKeyError, invalid_name_message

UNRESOLVED = "?"

_NAME = r"[A-Za-z0-9_]+"
_MAPPING_KEY_RE = re.compile(_NAME)
_NODE_HANDLE_RE = re.compile(rf"{_NAME}(?:\.{_NAME})*")
_STEP_KEY_RE = re.compile(rf"(?P<node>{_NAME}(?:\.{_NAME})*)(?P<keys>(?:\[(?:{_NAME}|\?)\])*)")
_KEYS_RE = re.compile(r"\[([^\]]*)\]")

# Words that would clash with Python or with names used by the op machinery.
RESERVED_NAMES = frozenset(keyword.kwlist) | frozenset(
    {
        "arg_dict",
        "bool",
        "conf",
        "config",
        "context",
        "dict",
        "float",
        "input",
        "input_arg_dict",
        "int",
        "meta",
        "output",
        "output_arg_dict",
        "str",
        "type",
    }
)


class StepKey(NamedTuple):
    """A parsed step key: the node's handle (``graph.op``) and its mapping keys, outermost first."""

    node: str
    mapping_keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        return format_step_key(self.node, self.mapping_keys)

    @property
    def is_unresolved(self) -> bool:
        """True for a pattern such as ``op[?]`` that stands for every key of a mapped node."""
        return UNRESOLVED in self.mapping_keys

    def matches(self, other: "StepKey") -> bool:
        """Whether the concrete ``other`` is this key, or is covered by this key's ``?`` parts."""
        if self.node != other.node or len(self.mapping_keys) != len(other.mapping_keys):
            return False
        return all(mine in (UNRESOLVED, theirs) for mine, theirs in zip(self.mapping_keys, other.mapping_keys))


def validate_mapping_key(mapping_key: object) -> str:
    """Return ``mapping_key`` if it is valid, else raise :class:`InvalidMappingKeyError` saying why."""
    if not isinstance(mapping_key, str):
        raise InvalidMappingKeyError(
            f"Mapping key {mapping_key!r} must be a string matching ^[A-Za-z0-9_]+$, got {type(mapping_key).__name__}."
        )
    if not _MAPPING_KEY_RE.fullmatch(mapping_key):
        raise InvalidMappingKeyError(
            f"{invalid_name_message(mapping_key, reserved=False)} (dagviz: mapping key {mapping_key!r}: use letters, "
            "digits and underscores; clean file names with e.g. re.sub(r'\\W', '_', name))"
        )
    if mapping_key in RESERVED_NAMES:
        raise InvalidMappingKeyError(
            f"{invalid_name_message(mapping_key, reserved=True)} (dagviz: mapping key {mapping_key!r}; choose another key)"
        )
    return mapping_key


def validate_node_name(name: str) -> str:
    """Return ``name`` if it can name an op, graph or job, else raise ``InvalidDefinitionError``."""
    if not isinstance(name, str) or not _MAPPING_KEY_RE.fullmatch(name):
        raise InvalidDefinitionError(f"Name {name!r} is invalid: names must match ^[A-Za-z0-9_]+$.")
    if name in RESERVED_NAMES:
        raise InvalidDefinitionError(f"Name {name!r} is a reserved word; choose another name.")
    return name


def join_handle(parent: str | None, name: str) -> str:
    """The handle of node ``name`` inside the graph whose handle is ``parent`` (``graph.op``)."""
    return f"{parent}.{name}" if parent else name


def format_step_key(node: str, mapping_keys: tuple[str, ...] = ()) -> str:
    """``node`` followed by one ``[key]`` per mapping key, outermost first."""
    if not mapping_keys:
        return node
    return node + "[" + "][".join(mapping_keys) + "]"


def mapped_key_range(node: str) -> tuple[str, str]:
    """``(low, high)``: the keys of ``node``'s mapped steps are exactly the strings ``low <= key < high`` in
    code-point order (``node[`` and what follows; no node name holds a ``[``)."""
    return node + "[", node + chr(ord("[") + 1)


def unresolved_step_key(node: str, depth: int) -> str:
    """The pattern for every step of a node mapped ``depth`` levels deep, e.g. ``op[?][?]``."""
    return format_step_key(node, (UNRESOLVED,) * depth)


def parse_step_key(step_key: str) -> StepKey:
    """Parse ``graph.op[k1][k2]`` (or a pattern with ``?``) into a :class:`StepKey`."""
    match = _STEP_KEY_RE.fullmatch(step_key) if isinstance(step_key, str) else None
    if match is None:
        raise InvalidStepKeyError(
            f"Step key {step_key!r} is invalid: expected 'op', 'op[key]', 'op[outer][inner]', "
            "'op[?]' or 'graph.op[key]' with keys matching ^[A-Za-z0-9_]+$."
        )
    return StepKey(match["node"], tuple(_KEYS_RE.findall(match["keys"])))


def sanitize_mapping_key(text: str) -> str:
    """A valid mapping key made from arbitrary text (``"report 2024.csv"`` -> ``"report_2024_csv"``)."""
    key = re.sub(r"[^A-Za-z0-9_]", "_", text) or "_"
    return f"{key}_" if key in RESERVED_NAMES else key
