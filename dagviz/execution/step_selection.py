"""Dagster's step selection for re-execution, resolved against the steps a finished run had.

A clause (the grammar of ``dagviz.definitions.selection``) names a step key (``double[a]``) or a
pattern (``double[?]``: every key of a mapped node), optionally extended upstream and downstream: ``*double`` adds every
step it depends on, ``+double`` one level of them, ``emit+`` / ``emit++`` / ``emit*`` one, two or
every level of the steps that depend on it. Dependencies are those of the parent run's steps: a
mapped step depends on its emitter, a collect on every key of the node it collects. The result
is exactly the set of steps the re-execution runs (``ReexecutionStrategy.SELECTED``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Iterable, Sequence

from dagviz.definitions.composition import COLLECT, InputSource
from dagviz.definitions.selection import parse_clause, walk
from dagviz.errors import (
    DagsterExecutionStepNotFoundError,
    DagsterInvalidSubsetError,
    InvalidStepKeyError,
    unknown_steps_message,
)
from dagviz.step_keys import UNRESOLVED, StepKey, format_step_key, parse_step_key, unresolved_step_key

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition


def resolve_step_selection(job: "JobDefinition", parent_step_keys: Iterable[str],
                           selection: Sequence[str]) -> list[str]:
    """The steps a re-execution with ``selection`` runs: concrete keys of the parent run, plus
    ``node[?]`` patterns for nodes selected by name (every key, including keys a rerun emitter adds).

    Raises ``DagsterExecutionStepNotFoundError`` naming items that are no step or node of the
    parent run, and ``DagsterInvalidSubsetError`` for a clause that selects nothing.
    """
    graph = _StepGraph(job, parent_step_keys)
    clauses = [parse_clause(clause) for clause in selection]
    invalid = [clause.item for clause in clauses if clause is not None and not graph.knows(clause.item)]
    if invalid:
        raise DagsterExecutionStepNotFoundError(unknown_steps_message(invalid))
    concrete: set[str] = set()
    named_or_upstream: set[str] = set()  # concrete keys the selection names or reaches upstream
    patterns: list[str] = []
    for clause in clauses:
        if clause is None:
            raise DagsterInvalidSubsetError(f"No qualified steps to execute found for step_selection={list(selection)}")
        start, pattern = graph.steps_of(clause.item)
        if pattern is not None and pattern not in patterns:
            patterns.append(pattern)
        concrete.update(start)
        upstream, _ = walk(start, graph.links(upstream=True), clause.up)
        concrete.update(upstream)
        if pattern is None:
            named_or_upstream.update(start)
        named_or_upstream.update(upstream)
        downstream, expanded = walk(start, graph.links(upstream=False), clause.down)
        concrete.update(downstream)
        for emitter in expanded:  # a rerun emitter may yield keys the parent never had
            for pattern in graph.mapped_patterns(emitter):
                if pattern not in patterns:
                    patterns.append(pattern)
    _refuse_keys_of_a_rerun_emitter(job, named_or_upstream, concrete)
    return [key for key in graph.order if key in concrete] + patterns


def _refuse_keys_of_a_rerun_emitter(job: "JobDefinition", keys: set[str], selected: set[str]) -> None:
    """A parent's mapped key cannot be selected together with the emitter that yields it (Dagster's rule):
    run again, the emitter decides the keys anew; select ``node[?]`` or ``emitter*`` instead."""
    offending = []
    for key in sorted(keys):
        parsed = parse_step_key(key)
        scope = job.nodes[parsed.node].scope
        if any(format_step_key(emitter, parsed.mapping_keys[:level]) in selected
               for level, (emitter, _output) in enumerate(scope)):
            offending.append(key)
    if offending:
        noun = "step" if len(offending) == 1 else "steps"
        raise DagsterExecutionStepNotFoundError(
            f"Can not build subset plan from unknown {noun}: {', '.join(offending)} (dagviz: the selection also "
            "re-runs the emitter of these keys, which yields its keys anew; select node[?] or emitter* instead)"
        )


class _StepGraph:
    """The parent run's steps and which of them each depends on (built only when a clause walks it)."""

    def __init__(self, job: "JobDefinition", step_keys: Iterable[str]) -> None:
        self.job = job
        self.order = list(step_keys)
        self.known = set(self.order)
        self.parsed = {key: parse_step_key(key) for key in self.order}
        self._upstream: dict[str, set[str]] | None = None
        self._downstream: dict[str, set[str]] | None = None

    def knows(self, item: str) -> bool:
        if item in self.known:
            return True
        try:
            key = parse_step_key(item)
        except InvalidStepKeyError:
            return False
        node = self.job.nodes.get(key.node)
        if node is None or not node.depth:
            return False
        # A mapped node's bare name is not a step (Dagster refuses it too); ``node[?]`` names all its keys.
        return key.is_unresolved and len(key.mapping_keys) == node.depth

    def steps_of(self, item: str) -> tuple[set[str], str | None]:
        """The parent's steps an item names, and the ``node[?]`` pattern when it names a mapped node."""
        if item in self.known:
            return {item}, None
        key = parse_step_key(item)
        pattern = key if key.mapping_keys else parse_step_key(unresolved_step_key(key.node, self.job.nodes[key.node].depth))
        return {step for step, parsed in self.parsed.items() if pattern.matches(parsed)}, str(pattern)

    def mapped_patterns(self, step_key: str) -> list[str]:
        """``child[key..][?]`` for every node mapped directly over a dynamic output of this (emitter) step."""
        parsed = self.parsed[step_key]
        emitter = self.job.nodes.get(parsed.node)
        if emitter is None or not emitter.op.dynamic_output_names:
            return []
        return [format_step_key(node.handle, parsed.mapping_keys + (UNRESOLVED,))
                for node in self.job.nodes.values()
                if node.depth == emitter.depth + 1 and node.scope[-1][0] == emitter.handle]

    def links(self, upstream: bool) -> dict[str, set[str]]:
        """Each step's dependencies (``upstream``) or dependents, among the parent's steps."""
        if self._upstream is None:
            self._build()
        assert self._upstream is not None and self._downstream is not None
        return self._upstream if upstream else self._downstream

    def _build(self) -> None:
        by_node: dict[str, list[StepKey]] = defaultdict(list)
        for parsed in self.parsed.values():
            by_node[parsed.node].append(parsed)
        upstream: dict[str, set[str]] = {}
        downstream: dict[str, set[str]] = defaultdict(set)
        for key, parsed in self.parsed.items():
            node = self.job.nodes.get(parsed.node)
            if node is None:
                continue
            deps = set()
            for source in node.inputs.values():
                for item in source.producers():
                    deps.update(self._producers(parsed, item, by_node))
            upstream[key] = deps & self.known
            for dep in upstream[key]:
                downstream[dep].add(key)
        self._upstream, self._downstream = upstream, dict(downstream)

    def _producers(self, consumer: StepKey, source: InputSource, by_node: dict[str, list[StepKey]]) -> list[str]:
        producer = self.job.nodes.get(source.node or "")
        if producer is None:
            return []
        prefix = consumer.mapping_keys[: producer.depth]
        if source.kind == COLLECT and not producer.op.outs[source.output].is_dynamic:
            # collecting a mapped node: every key of it under this step's own keys
            outer = consumer.mapping_keys
            return [str(step) for step in by_node.get(producer.handle, ())
                    if step.mapping_keys[: len(outer)] == outer]
        return [format_step_key(producer.handle, prefix)]
