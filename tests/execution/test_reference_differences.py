"""Where dagviz deliberately differs from Dagster 1.13 (docs/architecture.md, "Differences from the reference")."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, Out, Output, StepStatus, job, op
from dagviz.execution.reexecution import ParentRecord, parent_run_for
from dagviz.execution.api import execute_job

STARTED: list[str] = []


@op(out=DynamicOut())
def emit():
    for key in ("b", "a", "c"):
        yield DynamicOutput(key, mapping_key=key)


@op
def with_all_keys(value: str, every: list) -> str:
    return f"{value} of {''.join(every)}"


@op
def gather(values: list) -> list:
    return values


def test_a_mapped_op_may_take_the_collect_of_its_own_fan_outs_emitter():
    @job
    def sees_its_siblings():
        keys = emit()
        gather(keys.map(lambda value: with_all_keys(value, keys.collect())).collect())

    result = sees_its_siblings.execute_in_process()

    assert result.output_for_node("gather") == ["b of bac", "a of bac", "c of bac"]


@op
def double(value: str) -> str:
    STARTED.append(f"double[{value}]")
    return value * 2


@op
def triple(value: str) -> str:
    STARTED.append(f"triple[{value}]")
    return value * 3


def test_mapped_steps_start_when_their_key_is_yielded_not_level_by_level():
    """Dagster runs every double before any triple; dagviz runs each key's chain as the key arrives."""

    @job
    def chain():
        gather(emit().map(double).map(triple).collect())

    STARTED.clear()
    chain.execute_in_process()

    assert STARTED == ["double[b]", "triple[bb]", "double[a]", "triple[aa]", "double[c]", "triple[cc]"]


@op(out={"maybe": Out(is_required=False), "always": Out()})
def sometimes():
    yield Output(1, "always")


@op
def use_maybe(value: int) -> int:
    return value + 1


@job
def optional_upstream():
    maybe, always = sometimes()
    use_maybe(maybe)
    use_maybe.alias("use_always")(always)


def test_reexecuting_a_step_whose_optional_upstream_output_was_skipped_succeeds():
    """Dagster's bug #3511 fails this re-execution; in dagviz the step stays skipped and the run succeeds."""
    parent = optional_upstream.execute_in_process()
    assert parent.steps["use_maybe"].status == StepStatus.SKIPPED

    record = ParentRecord.from_result(parent)
    child = execute_job(optional_upstream, parent=parent_run_for(optional_upstream, record, "SELECTED", ["use_maybe"]))

    assert child.success
    assert child.steps["use_maybe"].status == StepStatus.SKIPPED
    assert child.steps["sometimes"].status == StepStatus.REUSED
