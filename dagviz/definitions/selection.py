"""Op selection, Dagster's syntax: ``"op"``, ``"*op"`` (and all upstream), ``"op+"`` / ``"op++"`` (levels downstream).

A subset job keeps the selected nodes. An input whose producer is not selected is read from
run config instead (``ops: {op: {inputs: {x: ...}}}``), as in Dagster; a mapped node whose
emitter is not selected runs once, unmapped, with that input from run config.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from typing import Iterable, Mapping, NamedTuple, Sequence

from dagviz.definitions.composition import COLLECT, CONFIG, FANIN, NOTHING, InputSource, NodeSpec
from dagviz.errors import InvalidOpSelectionError

# Dagster's selection grammar, shared by op selections and re-execution step selections:
# ``*`` all levels, ``+`` one level each, upstream before the item and downstream after it.
_CLAUSE_RE = re.compile(r"^(?P<up>\*?\+*)(?P<item>[^*+\s]+)(?P<down>\+*\*?)$")
ALL_LEVELS = sys.maxsize


class SelectionClause(NamedTuple):
    """One clause: how many levels upstream, the item it names, how many levels downstream."""

    up: int
    item: str
    down: int


def parse_clause(clause: str) -> SelectionClause | None:
    """``*double[a]++`` -> (all levels up, ``double[a]``, 2 levels down); None if it is not a clause."""
    match = _CLAUSE_RE.match(clause.strip())
    if match is None:
        return None
    return SelectionClause(_levels(match["up"]), match["item"], _levels(match["down"]))


def _levels(marks: str) -> int:
    return ALL_LEVELS if "*" in marks else len(marks)


def walk(start: set[str], links: Mapping[str, Iterable[str]], levels: int) -> tuple[set[str], set[str]]:
    """What ``start`` reaches within ``levels`` links (itself excluded), and the items whose links were followed."""
    reached: set[str] = set()
    expanded: set[str] = set()
    frontier, level = set(start), 0
    while frontier and level < levels:
        expanded |= frontier
        frontier = {other for item in frontier for other in links.get(item, ())
                    if other not in reached and other not in start}
        reached |= frontier
        level += 1
    return reached, expanded


def _upstream_of(node: NodeSpec) -> set[str]:
    return {item.node for source in node.inputs.values() for item in source.producers()}


def select_nodes(nodes: Mapping[str, NodeSpec], op_selection: Sequence[str]) -> set[str]:
    """The handles that ``op_selection`` names, with the levels up and downstream its ``*``/``+`` ask for."""
    upstream = {handle: _upstream_of(node) for handle, node in nodes.items()}
    downstream: dict[str, set[str]] = {handle: set() for handle in nodes}
    for handle, sources in upstream.items():
        for source in sources:
            downstream[source].add(handle)
    selected: set[str] = set()
    for text in op_selection:
        clause = parse_clause(text)
        named = set()
        if clause is not None:
            named = {handle for handle in nodes if handle == clause.item or handle.startswith(clause.item + ".")}
        if clause is None or not named:
            raise InvalidOpSelectionError(
                f"No qualified ops to execute found for op_selection={list(op_selection)!r} "
                f"(dagviz: {text!r} names no op; ops: {', '.join(nodes)})."
            )
        selected |= named | walk(named, upstream, clause.up)[0] | walk(named, downstream, clause.down)[0]
    return selected


class SelectedNodes(dict):
    """The nodes of a subset job; ``unselected`` keeps the others, whose run config is still accepted
    (and checked) but not required, as Dagster does."""

    unselected: dict[str, NodeSpec]


def subset_nodes(nodes: Mapping[str, NodeSpec], selected: Iterable[str]) -> SelectedNodes:
    """The selected nodes, rewired: inputs from unselected producers come from run config."""
    keep = set(selected)
    subset = SelectedNodes((handle, _rewired(nodes, node, keep)) for handle, node in nodes.items() if handle in keep)
    subset.unselected = {handle: node for handle, node in nodes.items() if handle not in keep}
    return subset


def _rewired(nodes: Mapping[str, NodeSpec], node: NodeSpec, keep: set[str]) -> NodeSpec:
    inputs = {}
    for name, source in node.inputs.items():
        unconnected = InputSource(NOTHING if node.op.ins[name].is_nothing else CONFIG)
        if source.kind == FANIN:
            items = tuple(item for item in source.sources if _still_connected(nodes, item, keep))
            inputs[name] = replace(source, sources=items) if items else unconnected
        elif source.node is None or _still_connected(nodes, source, keep):
            inputs[name] = source
        else:
            inputs[name] = unconnected
    return replace(node, inputs=inputs, scope=tuple(level for level in node.scope if level[0] in keep))


def _still_connected(nodes: Mapping[str, NodeSpec], source: InputSource, keep: set[str]) -> bool:
    """A producer outside the subset, or a collect over a fan-out whose emitter is outside it, is cut."""
    if source.node not in keep:
        return False
    if source.kind == COLLECT:
        producer = nodes[source.node]
        if not producer.op.outs[source.output].is_dynamic:
            return producer.scope[-1][0] in keep
    return True
