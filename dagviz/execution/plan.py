"""The execution plan: which steps exist, what each waits for, and what becomes runnable next.

Static nodes get one step at the start. A node mapped over a dynamic output gets one step
per key, created the moment the emitting step yields that key (streaming fan-out), even
while the emitter is still running. Each step counts the inputs it still waits for; a
collect input waits until its emitter has finished and every key's step has settled, and
then receives the outputs in yield order. Failure and skipping flow downstream through
the same dependency links, so every step ends in exactly one final status.

In a re-execution, a step whose inputs all come from reused steps, that is not forced to
run, and that has outputs in the parent run is *reused*: its outputs (and, for an emitter,
its recorded keys in their yield order) are taken from the parent instead of running it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from dagviz.definitions.composition import (
    COLLECT, CONFIG, DEFAULT, DYNAMIC, FANIN, NOTHING, InputSource, NodeSpec, Scope,
)
from dagviz.errors import min_success_ratio_message
from dagviz.definitions.outputs import DEFAULT_OUTPUT
from dagviz.execution.compact_refs import CompactRefs
from dagviz.execution.events import DynamicOutputYielded, ErrorInfo, Event, StepFailed, StepReused, StepSkipped
from dagviz.execution.status import StepStatus, check_transition
from dagviz.step_keys import format_step_key

OK, SKIP, FAIL = "OK", "SKIP", "FAIL"
# A finished step's inputs: its task was built from them and nothing reads them again, so a
# run of a million keys does not keep a million input dicts (read-only, shared by every such step).
_NO_INPUTS: Mapping[str, tuple[str, Any]] = MappingProxyType({})
_NO_OUTPUTS: Mapping[str, str] = MappingProxyType({})
# How a step task names a resolved input: one ref, a collect's refs, or a list input's refs.
_INPUT_HOW = {COLLECT: "refs", FANIN: "refs"}


@dataclass(frozen=True, slots=True)
class Resolution:
    """What became of an awaited value: OK with its ref(s), or SKIP/FAIL with the reason.

    ``executed`` says whether a step of this run (rather than a reused one) produced it.
    """

    state: str
    value: Any = None  # a ref, or a list of refs for a collect
    reason: str = ""
    executed: bool = True
    failed_step: str = ""  # for FAIL: the step whose failure this is


@dataclass
class ParentRun:
    """What a re-execution may take from the run it re-executes."""

    run_id: str
    # step key -> output name -> ref, for steps that succeeded (or were themselves reused)
    outputs: dict[str, dict[str, str]]
    # (emitter step key, output name) -> [(mapping key, ref)] in yield order
    dynamic_items: dict[tuple[str, str], list[tuple[str, str]]]
    # steps that must run again even though the parent has their outputs (SELECTED, ALL)
    forced: Callable[[str], bool] = field(default=lambda step_key: False)
    # SELECTED runs exactly the forced steps: the others keep the parent's outputs even downstream of them
    only_forced: bool = False
    # step key -> output name -> preview, shown for the reused steps as in the parent
    previews: dict[str, dict[str, str]] = field(default_factory=dict)
    # SELECTED and FROM_SELECTED run only the selection (and, for FROM_SELECTED, what is downstream of it):
    # a step outside it that left no outputs in the parent is skipped, not run again (Dagster's rule)
    only_selection: bool = False

    def reusable(self, step_key: str) -> dict[str, str] | None:
        if self.forced(step_key):
            return None
        return self.outputs.get(step_key)


class _OneOutput(Mapping):
    """A step's outputs when it has written one: a read-only mapping of 48 bytes, where a dict of one
    item takes 184 (a run of a million keys holds a million of them)."""

    __slots__ = ("name", "ref")

    def __init__(self, name: str, ref: str) -> None:
        self.name, self.ref = name, ref

    def __getitem__(self, name: str) -> str:
        if name != self.name:
            raise KeyError(name)
        return self.ref

    def __iter__(self):
        yield self.name

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return repr({self.name: self.ref})


class Step:
    """One step of a run and its progress through the plan.

    A run of a million keys holds a million of these: eleven slots (128 bytes), a lone ``result``
    output kept as its ref alone, and the rare facts (why it was skipped) in one slot.
    """

    __slots__ = ("key", "node", "mapping_keys", "status", "attempts", "waiting", "inputs", "_outputs", "skipped",
                 "upstream_executed", "error")

    def __init__(self, key: str, node: NodeSpec, mapping_keys: tuple[str, ...]) -> None:
        self.key = key
        self.node = node
        self.mapping_keys = mapping_keys
        self.status = StepStatus.PENDING
        self.attempts = 0
        self.waiting = 0
        self.inputs: dict[str, tuple[str, Any]] | Mapping[str, tuple[str, Any]] = {}
        self._outputs: str | Mapping[str, str] = _NO_OUTPUTS  # a str: the ref of its one output, "result"
        self.skipped: Resolution | None = None  # why it was skipped: the reason, and the upstream failure if any
        self.upstream_executed = False
        self.error: Any = None

    @property
    def outputs(self) -> Mapping[str, str]:
        """Output name -> ref, read-only (written through ``add_output``)."""
        outputs = self._outputs
        return _OneOutput(DEFAULT_OUTPUT, outputs) if isinstance(outputs, str) else outputs

    @outputs.setter
    def outputs(self, outputs: Mapping[str, str]) -> None:
        self._outputs = outputs

    def add_output(self, name: str, ref: str) -> None:
        if not self._outputs:
            self._outputs = ref if name == DEFAULT_OUTPUT else _OneOutput(name, ref)
        else:
            self._outputs = {**self.outputs, name: ref}

    @property
    def skip_reason(self) -> str | None:
        return None if self.skipped is None else self.skipped.reason

    @property
    def upstream_failed(self) -> bool:
        return self.skipped is not None and self.skipped.state == FAIL

    @property
    def failed_upstream(self) -> str:
        """The failed step that made this one skip ("" if none did)."""
        return "" if self.skipped is None else self.skipped.failed_step

    def move_to(self, status: StepStatus) -> None:
        self.status = check_transition(self.key, self.status, status)
        if status.is_final:
            self.inputs = _NO_INPUTS


class PlanIndex:
    """What the plan needs to know about a job's shape, computed once per job."""

    def __init__(self, nodes: dict[str, NodeSpec]) -> None:
        self.nodes = nodes
        self.nodes_by_scope: dict[Scope, list[NodeSpec]] = defaultdict(list)
        for node in nodes.values():
            self.nodes_by_scope[node.scope].append(node)
        # (emitter handle, output) -> nodes that get one step per key of that output
        self.mapped_over: dict[tuple[str, str], list[NodeSpec]] = defaultdict(list)
        for node in nodes.values():
            if node.scope:
                self.mapped_over[node.scope[-1]].append(node)
        self.downstream: dict[str, set[str]] = defaultdict(set)
        # Nodes whose outputs a step created later may still wait for: read (not collected) by a node
        # mapped deeper. Other outputs reach every reader as they resolve, so the plan need not keep them.
        self.awaited_later: set[str] = set()
        for node in nodes.values():
            for source in node.inputs.values():
                for item in source.producers():
                    self.downstream[item.node].add(node.handle)
                    if source.kind != COLLECT and node.depth > nodes[item.node].depth:
                        self.awaited_later.add(item.node)

    def collect_level(self, source: InputSource) -> tuple[str, str, str | None]:
        """For a collect source: (emitter handle, dynamic output, collected node or None for a direct collect)."""
        upstream = self.nodes[source.node]
        if upstream.op.outs[source.output].is_dynamic:
            return source.node, source.output, None
        emitter, output = upstream.scope[-1]
        return emitter, output, source.node

    def nodes_within(self, emitter: str, output: str) -> list[NodeSpec]:
        """Every node with one step per key of this dynamic output (directly or nested deeper)."""
        return [node for node in self.nodes.values() if (emitter, output) in node.scope]

    def leaf_nodes(self) -> list[str]:
        return [handle for handle in self.nodes if not self.downstream.get(handle)]


class _FanIn:
    """Waits for every item of a list input (``total([one(), two()])``) and hands the step their values."""

    __slots__ = ("step", "input_name", "results", "outstanding")

    def __init__(self, step: Step, input_name: str, size: int) -> None:
        self.step = step
        self.input_name = input_name
        self.results: list[Resolution | None] = [None] * size
        self.outstanding = size


class _Collector:
    """Waits for every key of one emitter step's dynamic output and gathers one value per key."""

    __slots__ = ("step", "input_name", "collected_node", "collected_output", "optional", "min_success_ratio",
                 "keys", "emitter_done", "outstanding", "items", "failure", "executed")

    def __init__(self, step: Step, input_name: str, collected_node: str | None, collected_output: str,
                 optional: bool, keys: Mapping[str, str], min_success_ratio: float | None = None) -> None:
        self.step = step
        self.input_name = input_name
        self.collected_node = collected_node
        self.collected_output = collected_output
        self.optional = optional
        self.min_success_ratio = min_success_ratio
        self.keys = keys  # mapping key -> ref of the dynamic value, in yield order (shared, grows)
        self.emitter_done = False
        self.outstanding = 0
        self.items: dict[str, Resolution | str] = {}  # mapping key -> the ref it produced, or why it did not
        self.failure: Resolution | None = None
        self.executed = False


class ExecutionPlan:
    """The live plan of one run: steps created so far, and the rules that make more of them runnable."""

    def __init__(self, index: PlanIndex, op_configs: dict[str, Any], parent: ParentRun | None = None,
                 input_values: dict[str, dict[str, Any]] | None = None) -> None:
        self.index = index
        self.op_configs = op_configs
        self.input_values = input_values or {}  # node handle -> input -> value given in run config
        self.parent = parent
        self.steps: dict[str, Step] = {}
        self.ready: list[Step] = []
        # emitter step key, output -> {mapping key: ref} in yield order (segment refs kept as integers)
        self.dynamic_items: dict[tuple[str, str], CompactRefs] = {}
        self._resolved: dict[tuple[str, str], Resolution] = {}
        # who waits for an output: (step, input name), or (fan-in, item index) for an item of a list input
        self._waiters: dict[tuple[str, str], list[tuple[Step | _FanIn, Any]]] = defaultdict(list)
        self._collectors_by_emitter: dict[tuple[str, str], list[_Collector]] = defaultdict(list)
        self._collectors_by_item: dict[tuple[str, str, tuple[str, ...]], list[_Collector]] = defaultdict(list)
        self._notices: list[Event] = []  # events the plan itself decides (skipped, reused, replayed keys)
        self._created: list[tuple[Step, int]] = []  # steps created and not yet taken, with their order
        # failed steps a tolerant collect ran without; a collect that failed its ratio -> the failures it saw
        self.tolerated: set[str] = set()
        self._ratio_failures: dict[str, list[str]] = {}

    # -- creating steps -------------------------------------------------------------------

    def start(self) -> None:
        """Create the static steps (those not mapped over any dynamic output)."""
        self._materialize(self.index.nodes_by_scope.get((), []), ())

    def _materialize(self, nodes: Iterable[NodeSpec], mapping_keys: tuple[str, ...]) -> None:
        created = []
        for node in nodes:
            key = format_step_key(node.handle, mapping_keys)
            if key in self.steps:
                continue  # a retried emitter yielded a key again; its steps already exist
            step = Step(key, node, mapping_keys)
            self._created.append((step, len(self.steps)))  # its order: yield order among a mapped node's steps
            self.steps[key] = step
            created.append(step)
        # Wire every step before any can become ready, so collectors see all their keys; the
        # extra count keeps a step from looking ready while its later inputs are still being wired.
        for step in created:
            step.waiting += 1
            self._wire_inputs(step)
        for step in created:
            step.waiting -= 1
            self._check_ready(step)

    def _wire_inputs(self, step: Step) -> None:
        node = step.node
        for input_name, source in node.inputs.items():
            if source.kind == DEFAULT:
                step.inputs[input_name] = ("value", source.default)
            elif source.kind == CONFIG:
                step.inputs[input_name] = ("value", self.input_values.get(node.handle, {}).get(input_name))
            elif source.kind == NOTHING:
                step.inputs[input_name] = ("nothing", None)
            elif source.kind == DYNAMIC:
                depth = self.index.nodes[source.node].depth
                emitter_key = format_step_key(source.node, step.mapping_keys[:depth])
                ref = self.dynamic_items[(emitter_key, source.output)][step.mapping_keys[depth]]
                step.inputs[input_name] = ("ref", ref)
                if self.steps[emitter_key].status != StepStatus.REUSED:
                    step.upstream_executed = True
            elif source.kind == FANIN:
                self._wire_fan_in(step, input_name, source)
            elif source.kind == COLLECT:
                step.waiting += 1
                self._wire_collect(step, input_name, source)
            else:
                step.waiting += 1
                self._await(step, input_name, self._producer_token(step, source))

    def _producer_token(self, step: Step, source: InputSource) -> tuple[str, str]:
        depth = self.index.nodes[source.node].depth
        return format_step_key(source.node, step.mapping_keys[:depth]), source.output

    def _await(self, target: "Step | _FanIn", slot: Any, token: tuple[str, str]) -> None:
        resolution = self._resolved.get(token)
        if resolution is None:
            self._waiters[token].append((target, slot))
        else:
            self._hand_over(target, slot, resolution)

    def _hand_over(self, target: "Step | _FanIn", slot: Any, resolution: Resolution) -> None:
        if isinstance(target, _FanIn):
            self._fan_in_item(target, slot, resolution)
        else:
            self._deliver(target, slot, resolution)

    def _wire_fan_in(self, step: Step, input_name: str, source: InputSource) -> None:
        fan_in = _FanIn(step, input_name, len(source.sources))
        step.waiting += 1
        for slot, item in enumerate(source.sources):  # plain outputs only (composition enforces it)
            self._await(fan_in, slot, self._producer_token(step, item))

    def _fan_in_item(self, fan_in: _FanIn, slot: int, resolution: Resolution) -> None:
        """One item of a list input settled; when all have, the step gets the produced ones (Dagster's rule)."""
        if fan_in.results[slot] is not None:
            return
        fan_in.results[slot] = resolution
        fan_in.outstanding -= 1
        if fan_in.outstanding:
            return
        results = [result for result in fan_in.results if result is not None]
        failed = next((result for result in results if result.state == FAIL), None)
        produced = [result for result in results if result.state == OK]
        if failed is not None:
            combined = failed
        elif not produced:
            combined = Resolution(SKIP, reason=f"no item of list input '{fan_in.input_name}' was produced")
        else:
            combined = Resolution(OK, [result.value for result in produced],
                                  executed=any(result.executed for result in produced))
        self._deliver(fan_in.step, fan_in.input_name, combined)

    def _wire_collect(self, step: Step, input_name: str, source: InputSource) -> None:
        emitter, output, collected_node = self.index.collect_level(source)
        emitter_node = self.index.nodes[emitter]
        emitter_key = format_step_key(emitter, step.mapping_keys[: emitter_node.depth])
        keys = self.dynamic_items.setdefault((emitter_key, output), CompactRefs())
        collector = _Collector(step, input_name, collected_node, source.output,
                               not emitter_node.op.outs[output].is_required, keys, source.min_success_ratio)
        self._collectors_by_emitter[(emitter_key, output)].append(collector)
        if collected_node is not None:
            self._collectors_by_item[(collected_node, source.output, step.mapping_keys)].append(collector)
            collector.outstanding = len(keys)
        emitter_step = self.steps.get(emitter_key)
        if emitter_step is not None and emitter_step.status.is_final:
            self._emitter_settled(collector, emitter_step)

    # -- what the executor reports --------------------------------------------------------

    def on_dynamic_output(self, step_key: str, output: str, mapping_key: str, ref: str) -> None:
        """A key was yielded: create its mapped steps now, while the emitter keeps running."""
        items = self.dynamic_items.setdefault((step_key, output), CompactRefs())
        if mapping_key in items:
            return
        items[mapping_key] = ref
        step = self.steps[step_key]
        for collector in self._collectors_by_emitter.get((step_key, output), ()):
            if collector.collected_node is not None:
                collector.outstanding += 1
        mapped = self.index.mapped_over.get((step.node.handle, output))
        if mapped:
            self._materialize(mapped, step.mapping_keys + (mapping_key,))

    def on_output(self, step_key: str, output: str, ref: str) -> None:
        self.steps[step_key].add_output(output, ref)

    def on_success(self, step_key: str) -> None:
        step = self.steps[step_key]
        step.move_to(StepStatus.SUCCESS)
        self._publish_outputs(step, executed=True)

    def _publish_outputs(self, step: Step, executed: bool) -> None:
        published: dict[str, Resolution] = {}
        for output, out in step.node.op.outs.items():
            if out.is_dynamic:
                continue
            ref = step.outputs.get(output)
            if ref is not None:
                published[output] = Resolution(OK, ref, executed=executed)
            else:
                published[output] = Resolution(SKIP, reason=f"output '{output}' of '{step.key}' was not produced")
            self._resolve(step, output, published[output])
        self._settle_collectors_of_emitter(step)
        self._report_item(step, None, published)

    def on_failure(self, step_key: str, error: Any) -> None:
        step = self.steps[step_key]
        step.move_to(StepStatus.FAILURE)
        step.error = error
        self._fail_downstream(step, Resolution(FAIL, reason=f"upstream step '{step.key}' failed",
                                               failed_step=step.key))

    def _fail_downstream(self, step: Step, failure: Resolution) -> None:
        for output, out in step.node.op.outs.items():
            if not out.is_dynamic:
                self._resolve(step, output, failure)
        self._settle_collectors_of_emitter(step)
        self._report_item(step, failure)

    def on_canceled(self, step_key: str) -> None:
        """A running step was stopped by a cancel: what waits for it will not run either."""
        step = self.steps[step_key]
        step.move_to(StepStatus.CANCELED)
        self._fail_downstream(step, Resolution(FAIL, reason=f"upstream step '{step.key}' was canceled",
                                               failed_step=step.key))

    def on_running(self, step_key: str) -> None:
        step = self.steps[step_key]
        step.move_to(StepStatus.RUNNING)
        step.attempts += 1

    def on_retry(self, step_key: str) -> None:
        self.steps[step_key].move_to(StepStatus.PENDING)

    def skip(self, step: Step, reason: str) -> None:
        """Skip a step that has not run (e.g. the run was canceled)."""
        step.skipped = Resolution(SKIP, reason=reason)
        step.move_to(StepStatus.SKIPPED)
        self._notices.append(StepSkipped(step.key, reason=reason))

    def take_notices(self) -> list[Event]:
        """Events for what the plan decided since the last call: skipped steps, reused steps and their keys."""
        notices, self._notices = self._notices, []
        return notices

    def take_created(self) -> list[tuple[Step, int]]:
        """Steps created since the last call, in creation (yield) order, each with its number in that order."""
        created, self._created = self._created, []
        return created

    def take_ready(self) -> list[Step]:
        ready, self.ready = self.ready, []
        return ready

    # -- propagation ----------------------------------------------------------------------

    def _settle_collectors_of_emitter(self, step: Step) -> None:
        for output in step.node.op.dynamic_output_names:
            for collector in self._collectors_by_emitter.get((step.key, output), ()):
                self._emitter_settled(collector, step)

    def _resolve(self, step: Step, output: str, resolution: Resolution) -> None:
        token = (step.key, output)
        if step.node.handle in self.index.awaited_later:
            self._resolved[token] = resolution
        for waiter, slot in self._waiters.pop(token, ()):
            self._hand_over(waiter, slot, resolution)
        if resolution.state == OK:
            self._report_item(step, None, {output: resolution}, output)

    def _report_item(self, step: Step, failure: Resolution | None, published: Mapping[str, Resolution] | None = None,
                     only_output: str | None = None) -> None:
        """Tell collectors gathering ``step``'s node that this key settled: failed or skipped (``failure``), or
        with the ``published`` resolutions of its outputs (OK ones were reported as they resolved)."""
        if not step.mapping_keys:
            return
        outer, key = step.mapping_keys[:-1], step.mapping_keys[-1]
        for output in step.node.op.outs:
            if only_output is not None and output != only_output:
                continue
            resolved = published.get(output) if published else None
            if only_output is None and failure is None and resolved is not None and resolved.state == OK:
                continue  # already reported when the output resolved
            resolution = failure or resolved or Resolution(SKIP, reason="not produced")
            for collector in self._collectors_by_item.get((step.node.handle, output, outer), ()):
                self._collect_item(collector, key, resolution)

    def _collect_item(self, collector: _Collector, key: str, resolution: Resolution) -> None:
        if key in collector.items:
            return
        # A produced item is kept as its ref alone: a million keys' Resolution objects are 72 MB.
        collector.items[key] = resolution.value if resolution.state == OK else resolution
        collector.outstanding -= 1
        collector.executed = collector.executed or resolution.executed
        if resolution.state == FAIL and collector.failure is None and collector.min_success_ratio is None:
            collector.failure = resolution
        self._maybe_finish_collect(collector)

    def _emitter_settled(self, collector: _Collector, emitter: Step) -> None:
        if collector.emitter_done:
            return
        collector.emitter_done = True
        collector.executed = collector.executed or emitter.status != StepStatus.REUSED
        if emitter.status not in (StepStatus.SUCCESS, StepStatus.REUSED):
            state = FAIL if emitter.status in (StepStatus.FAILURE, StepStatus.CANCELED) or emitter.upstream_failed else SKIP
            collector.failure = Resolution(state, reason=f"upstream step '{emitter.key}' did not succeed")
        self._maybe_finish_collect(collector)

    def _maybe_finish_collect(self, collector: _Collector) -> None:
        # A collect settles only once every key has: even a failed key does not decide it early, so a
        # collecting step is never shown skipped while keys of its fan-out still run.
        if collector.step.status != StepStatus.PENDING or collector.step.waiting <= 0:
            return
        if not collector.emitter_done or collector.outstanding > 0:
            return
        executed = collector.executed
        if collector.failure is not None:
            resolution = collector.failure
        elif not collector.keys and collector.optional:
            resolution = Resolution(SKIP, reason="the optional dynamic output yielded no keys")
        elif collector.collected_node is None:
            resolution = Resolution(OK, list(collector.keys.values()), executed=executed)
        else:
            items = collector.items
            failed = [key for key in collector.keys if isinstance(items[key], Resolution) and items[key].state == FAIL]
            if failed and not self._tolerates(collector, failed):
                return
            refs = [items[key] for key in collector.keys if not isinstance(items[key], Resolution)]
            if collector.keys and not refs:  # Dagster: no mapped step produced the collected output
                resolution = Resolution(SKIP, reason=f"no step of '{collector.collected_node}' produced output "
                                                     f"'{collector.collected_output}'")
            else:
                resolution = Resolution(OK, refs, executed=executed)
        self._collected(collector, resolution)

    def _tolerates(self, collector: _Collector, failed: list[str]) -> bool:
        """For a tolerant collect with failed keys: run on if enough keys succeeded, else fail its step."""
        origins = [collector.items[key].failed_step for key in failed]
        ratio = collector.min_success_ratio or 1.0
        total = len(collector.keys)
        if (total - len(failed)) / total >= ratio:
            for origin in origins:
                self._tolerate(origin)
            return True
        step = collector.step
        self._ratio_failures[step.key] = origins
        error = ErrorInfo("MinSuccessRatioError", min_success_ratio_message(
            collector.collected_node or "", collector.input_name, step.key, total - len(failed), total, ratio,
            [format_step_key(collector.collected_node or "", step.mapping_keys + (key,)) for key in failed]))
        self._notices.append(StepFailed(step.key, attempt=1, error=error, op_name=step.node.op.name,
                                        allow_retries=False))
        self.on_failure(step.key, error)
        return False

    def _tolerate(self, step_key: str) -> None:
        """A failure a tolerant collect ran without, and the failures behind it if it was itself such a collect."""
        if step_key in self.tolerated:
            return
        self.tolerated.add(step_key)
        for origin in self._ratio_failures.get(step_key, ()):
            self._tolerate(origin)

    def _collected(self, collector: _Collector, resolution: Resolution) -> None:
        self._deliver(collector.step, collector.input_name, resolution)

    def _deliver(self, step: Step, input_name: str, resolution: Resolution) -> None:
        if step.status != StepStatus.PENDING or step.skipped is not None:
            return
        if resolution.state != OK:
            step.skipped = resolution
            step.move_to(StepStatus.SKIPPED)
            self._notices.append(StepSkipped(step.key, reason=step.skip_reason, upstream_failed=step.upstream_failed))
            self._skip_downstream(step)
            return
        kind = step.node.inputs[input_name].kind
        if step.node.op.ins[input_name].is_nothing:
            step.inputs[input_name] = ("nothing", None)
        else:
            step.inputs[input_name] = (_INPUT_HOW.get(kind, "ref"), resolution.value)
        step.upstream_executed = step.upstream_executed or resolution.executed
        step.waiting -= 1
        self._check_ready(step)

    def _skip_downstream(self, step: Step) -> None:
        resolution = Resolution(FAIL if step.upstream_failed else SKIP, reason=step.skip_reason or "",
                                failed_step=step.failed_upstream)
        for output, out in step.node.op.outs.items():
            if not out.is_dynamic:
                self._resolve(step, output, resolution)
        self._settle_collectors_of_emitter(step)
        self._report_item(step, resolution)

    def _check_ready(self, step: Step) -> None:
        if step.waiting != 0 or step.status != StepStatus.PENDING or step.skipped is not None:
            return
        reusable = None
        if self.parent is not None and (self.parent.only_forced or not step.upstream_executed):
            reusable = self.parent.reusable(step.key)
            if reusable is None and self.parent.only_selection and not self.parent.forced(step.key):
                self._skip_unselected(step)
                return
        if reusable is None:
            self.ready.append(step)
        else:
            self._reuse(step, reusable)

    def _skip_unselected(self, step: Step) -> None:
        """A step outside the selection with nothing to reuse: left out, as its parent left it."""
        assert self.parent is not None
        step.skipped = Resolution(SKIP, reason=f"not selected, and it left no outputs in parent run {self.parent.run_id}")
        step.move_to(StepStatus.SKIPPED)
        self._notices.append(StepSkipped(step.key, reason=step.skip_reason))
        self._skip_downstream(step)

    def _reuse(self, step: Step, outputs: dict[str, str]) -> None:
        """Take the step's outputs (and its keys, for an emitter) from the parent run instead of running it."""
        assert self.parent is not None
        step.move_to(StepStatus.REUSED)
        step.outputs = MappingProxyType(dict(outputs))
        self._notices.append(StepReused(step.key, parent_run_id=self.parent.run_id, outputs=dict(outputs),
                                        previews=dict(self.parent.previews.get(step.key, {}))))
        for output in step.node.op.dynamic_output_names:
            for mapping_key, ref in self.parent.dynamic_items.get((step.key, output), ()):
                self._notices.append(DynamicOutputYielded(step.key, output_name=output, mapping_key=mapping_key, ref=ref))
                self.on_dynamic_output(step.key, output, mapping_key, ref)
        self._publish_outputs(step, executed=False)

    # -- results --------------------------------------------------------------------------

    def unfinished(self) -> list[Step]:
        return [step for step in self.steps.values() if not step.status.is_final]

    def failed(self) -> list[Step]:
        """Failed steps, except those a tolerant collect ran without."""
        return [step for step in self.steps.values()
                if step.status == StepStatus.FAILURE and step.key not in self.tolerated]
