"""Bounded reading of run config (YAML or already-parsed JSON): size, aliases, expanded nodes, depth, NUL bytes.

PyYAML's ``safe_load`` composes aliases as shared nodes, so a 567-byte document of nested
anchors loads quickly and then costs gigabytes in whatever walks it (validation, ``json.dumps``).
The loader here counts, while composing and before constructing anything, how many alias
references there are and how many nodes the document has once every alias is expanded, and
refuses past the limits. Already-parsed JSON (GraphQL's ``JSONString``) gets the same node,
depth, size and NUL checks. Every refusal is an ``InvalidConfigError`` naming the limit and
the environment variable that sets it (read here: the engine has no Django settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from dagviz.env import env_int
from dagviz.errors import InvalidConfigError


@dataclass(frozen=True)
class ConfigLimits:
    """How big a run config may be; each limit is named by the environment variable that sets it."""

    max_bytes: int
    max_aliases: int
    max_nodes: int
    max_depth: int


def config_limits() -> ConfigLimits:
    """The limits from the environment, read on each call so a test or a deployment can change them."""
    return ConfigLimits(
        max_bytes=env_int("DAGVIZ_MAX_RUN_CONFIG_BYTES", 1_000_000),
        max_aliases=env_int("DAGVIZ_MAX_RUN_CONFIG_ALIASES", 100),
        max_nodes=env_int("DAGVIZ_MAX_RUN_CONFIG_NODES", 100_000),
        max_depth=env_int("DAGVIZ_MAX_RUN_CONFIG_DEPTH", 100),
    )


def _refuse(what: str, problem: str) -> InvalidConfigError:
    return InvalidConfigError([("", f"{what} {problem}")])


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that counts aliases, expanded nodes and depth while composing, refusing past the limits."""

    def __init__(self, text: str, limits: ConfigLimits, what: str) -> None:
        super().__init__(text)
        self.limits, self.what = limits, what
        self.aliases = 0
        self.depth = 0
        self.weights: dict[int, int] = {}  # id(node) -> its node count with every alias below it expanded

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):  # an already composed (and weighed) node, shared
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise _refuse(self.what, f"uses more than {self.limits.max_aliases} alias references (*name); "
                                         "the limit is DAGVIZ_MAX_RUN_CONFIG_ALIASES")
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise _refuse(self.what, f"is nested deeper than {self.limits.max_depth} levels; "
                                         "the limit is DAGVIZ_MAX_RUN_CONFIG_DEPTH")
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self._weigh(node)
        return node

    def _weigh(self, node: Node) -> None:
        """Record the node's expanded size: its children's, aliased ones counted in full each time they appear.

        A recursive alias (to a node still being composed) counts 1 here; the cycle it makes is
        refused afterwards by ``check_value``'s node limit.
        """
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        weight = 1 + sum(self.weights.get(id(child), 1) for child in children)
        if weight > self.limits.max_nodes:
            raise _refuse(self.what, f"has more than {self.limits.max_nodes} values once its aliases are expanded; "
                                     "the limit is DAGVIZ_MAX_RUN_CONFIG_NODES")
        self.weights[id(node)] = weight


def check_size(size: int, what: str, limits: ConfigLimits | None = None) -> None:
    """Refuse a document of ``size`` bytes over the limit (callers check a file's size before reading it)."""
    limits = limits or config_limits()
    if size > limits.max_bytes:
        raise _refuse(what, f"is {size:,} bytes, more than the limit of {limits.max_bytes:,} bytes "
                            "(DAGVIZ_MAX_RUN_CONFIG_BYTES)")


def load_bounded_yaml(text: str, what: str = "run config") -> Any:
    """``yaml.safe_load`` within the limits; a YAML syntax error is an ``InvalidConfigError`` too."""
    limits = config_limits()
    check_size(len(text.encode("utf-8", "surrogatepass")), what, limits)
    loader = _BoundedLoader(text, limits, what)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as error:
        raise _refuse(what, f"is not valid YAML or JSON: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise _refuse(what, f"is nested too deeply (limit {limits.max_depth} levels, "
                            "DAGVIZ_MAX_RUN_CONFIG_DEPTH)") from None
    finally:
        loader.dispose()
    check_value(data, what, limits)
    return data


def walk(value: Any, path: str = "") -> Iterator[tuple[Any, int, str]]:
    """Every value, key and container in ``value`` as ``(item, depth, path)``, depth first.

    Iterative, so a deeply nested value cannot exhaust the Python stack; keys are yielded with
    their mapping's path. Callers stop early by leaving the loop.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, path)]
    while stack:
        item, depth, where = stack.pop()
        yield item, depth, where
        if isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth + 1, where))
                stack.append((child, depth + 1, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1, f"{where}[{index}]") for index, child in enumerate(item))


def check_value(value: Any, what: str = "run config", limits: ConfigLimits | None = None) -> None:
    """Refuse parsed config (YAML or JSON) that is too big, too deep, or holds a NUL byte or a non-finite number.

    Strings and keys count towards the size limit, every value and key towards the node limit.
    """
    limits = limits or config_limits()
    size = 0
    for nodes, (item, depth, path) in enumerate(walk(value), start=1):
        if nodes > limits.max_nodes:
            raise _refuse(what, f"has more than {limits.max_nodes} values (DAGVIZ_MAX_RUN_CONFIG_NODES)")
        if depth > limits.max_depth:
            raise _refuse(what, f"is nested deeper than {limits.max_depth} levels (DAGVIZ_MAX_RUN_CONFIG_DEPTH)")
        if isinstance(item, str):
            size += len(item)
            if "\x00" in item:
                raise InvalidConfigError([(path, f"{what} contains a NUL byte (\\x00), which is not allowed")])
        elif isinstance(item, float) and not math.isfinite(item):  # JSON's NaN, Infinity, 1e999; YAML's .nan, .inf
            raise InvalidConfigError([(path, f"{what} holds {item!r}, which cannot be stored: only finite numbers "
                                             "are allowed")])
        if size > limits.max_bytes:
            raise _refuse(what, f"holds more than {limits.max_bytes:,} characters of text "
                                "(DAGVIZ_MAX_RUN_CONFIG_BYTES)")


def bounded_dict(value: Any, what: str) -> dict:
    """Parsed JSON (an API argument) as a config dict within the limits; nothing (None, "") is ``{}``."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _refuse(what, f"must be a JSON object, got {type(value).__name__}")
    check_value(value, what)
    return value
