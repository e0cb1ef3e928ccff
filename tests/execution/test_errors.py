"""Step failures and wrong outputs: what fails, what still runs, and what the failure says."""

from __future__ import annotations

import pytest

from dagviz import (
    DagvizError,
    DuplicateMappingKeyError,
    DynamicOut,
    DynamicOutput,
    Failure,
    Out,
    Output,
    StepOutputError,
    StepStatus,
    job,
    op,
)
from dagviz.execution.events import StepFailed, StepSkipped


@op(out=DynamicOut())
def three_keys():
    for key in ("k1", "k2", "k3"):
        yield DynamicOutput(key, mapping_key=key)


@op
def maybe_fail(value: str) -> str:
    if value == "k2":
        raise ValueError(f"boom {value}")
    return value.upper()


@op
def ident(value):
    return value


@op
def gather(values: list) -> list:
    return values


@job
def one_key_fails():
    gather(three_keys().map(maybe_fail).collect())


def _failures(result) -> list[StepFailed]:
    return [event for event in result.events if isinstance(event, StepFailed)]


def _run_emitter(emitter):
    @job(name=f"run_{emitter.name}")
    def emitter_job():
        gather(emitter().map(ident).collect())

    return emitter_job.execute_in_process(raise_on_error=False)


def test_failed_key_does_not_stop_other_keys_and_collect_is_skipped():
    result = one_key_fails.execute_in_process(raise_on_error=False)
    assert not result.success
    assert result.steps["maybe_fail[k1]"].status == StepStatus.SUCCESS
    assert result.steps["maybe_fail[k2]"].status == StepStatus.FAILURE
    assert result.steps["maybe_fail[k3]"].status == StepStatus.SUCCESS
    assert result.steps["three_keys"].status == StepStatus.SUCCESS
    assert result.steps["gather"].status == StepStatus.SKIPPED
    assert "STEP_STARTED" not in [event.kind for event in result.events_for_step("gather")]
    assert result.output_for_node("maybe_fail") == {"k1": "K1", "k3": "K3"}
    assert "maybe_fail[k2]" in result.failure_reason


def test_collect_downstream_of_a_failed_key_gets_a_skipped_event_marked_upstream_failed():
    result = one_key_fails.execute_in_process(raise_on_error=False)
    skipped = [event for event in result.events if isinstance(event, StepSkipped)]
    assert [event.step_key for event in skipped] == ["gather"]
    assert skipped[0].upstream_failed is True
    assert "maybe_fail[k2]" in skipped[0].reason


def test_failure_event_names_op_and_step_key_and_keeps_the_user_traceback():
    result = one_key_fails.execute_in_process(raise_on_error=False)
    (failure,) = _failures(result)
    assert failure.step_key == "maybe_fail[k2]"
    assert failure.op_name == "maybe_fail"
    assert failure.error.class_name == "ValueError"
    assert failure.error.message == "boom k2"
    assert "in maybe_fail" in failure.error.stack
    assert 'raise ValueError(f"boom {value}")' in failure.error.stack
    assert __file__ in failure.error.stack
    assert "maybe_fail[k2]" in failure.message and "maybe_fail" in failure.message


def test_raise_on_error_reraises_the_original_exception_with_a_note_naming_the_step():
    with pytest.raises(ValueError, match="boom k2") as raised:
        one_key_fails.execute_in_process()
    notes = getattr(raised.value, "__notes__", [])
    assert any("maybe_fail[k2]" in note and "maybe_fail" in note for note in notes)
    assert any(frame.name == "maybe_fail" for frame in raised.traceback)


def test_run_failure_reason_lists_failed_steps():
    result = one_key_fails.execute_in_process(raise_on_error=False)
    assert result.failure_reason == "1 step failed: maybe_fail[k2]"
    finished = result.events[-1]
    assert finished.kind == "RUN_FINISHED" and finished.success is False


def test_duplicate_mapping_key_fails_the_emitting_step_and_names_the_key():
    @op(out=DynamicOut())
    def duplicates():
        yield DynamicOutput(1, mapping_key="same_key")
        yield DynamicOutput(2, mapping_key="same_key")

    result = _run_emitter(duplicates)
    assert not result.success
    (failure,) = _failures(result)
    assert failure.step_key == "duplicates"
    assert failure.error.class_name == DuplicateMappingKeyError.__name__
    assert "same_key" in failure.error.message
    assert result.steps["gather"].status == StepStatus.SKIPPED


def test_invalid_mapping_key_built_inside_an_op_fails_that_step_naming_the_key():
    @op(out=DynamicOut())
    def bad_key():
        yield DynamicOutput(1, mapping_key="file-name.txt")

    result = _run_emitter(bad_key)
    (failure,) = _failures(result)
    assert failure.step_key == "bad_key"
    assert failure.error.class_name == "InvalidMappingKeyError"
    assert "file-name.txt" in failure.error.message


def test_plain_output_yielded_from_a_dynamic_out_fails_clearly():
    @op(out=DynamicOut())
    def yields_output():
        yield Output(1)

    result = _run_emitter(yields_output)
    (failure,) = _failures(result)
    assert failure.step_key == "yields_output"
    assert failure.error.class_name == StepOutputError.__name__
    assert "DynamicOut" in failure.error.message and "DynamicOutput" in failure.error.message
    assert result.steps["gather"].status == StepStatus.SKIPPED


def test_list_of_plain_values_returned_from_a_dynamic_out_fails_clearly():
    @op(out=DynamicOut())
    def returns_values():
        return [1, 2]

    result = _run_emitter(returns_values)
    (failure,) = _failures(result)
    assert failure.error.class_name == StepOutputError.__name__
    assert "DynamicOut" in failure.error.message and "[1, 2]" in failure.error.message
    assert "DynamicOutput" in failure.error.message


def test_none_returned_from_a_dynamic_out_fails_clearly():
    @op(out=DynamicOut())
    def returns_none():
        return None

    (failure,) = _failures(_run_emitter(returns_none))
    assert "DynamicOut" in failure.error.message


def test_a_plain_value_yielded_by_a_generator_op_fails_clearly():
    @op(out=DynamicOut())
    def yields_int():
        yield 1

    (failure,) = _failures(_run_emitter(yields_int))
    assert "yielded int" in failure.error.message
    assert "DynamicOutput" in failure.error.message


def test_a_dynamic_output_for_an_undeclared_output_name_fails_clearly():
    @op(out=DynamicOut())
    def wrong_name():
        yield DynamicOutput(1, mapping_key="a", output_name="nope")

    (failure,) = _failures(_run_emitter(wrong_name))
    assert "nope" in failure.error.message


def test_a_generator_op_that_skips_a_required_plain_output_fails():
    @op(out={"first": Out(), "second": Out()})
    def only_first():
        yield Output(1, "first")

    @job
    def missing_output():
        only_first()

    result = missing_output.execute_in_process(raise_on_error=False)
    (failure,) = _failures(result)
    assert "second" in failure.error.message


def test_optional_dynamic_out_with_no_keys_skips_mapped_steps_and_collect_and_the_run_succeeds():
    @op(out=DynamicOut(is_required=False))
    def nothing():
        return
        yield  # noqa: unreachable - makes this a generator

    result = _run_emitter(nothing)
    assert result.success
    assert result.steps["nothing"].status == StepStatus.SUCCESS
    assert not any(key.startswith("ident") for key in result.steps)
    assert not [event for event in result.events if event.step_key and event.step_key.startswith("ident")]
    assert result.steps["gather"].status == StepStatus.SKIPPED
    (skipped,) = [event for event in result.events if isinstance(event, StepSkipped)]
    assert skipped.step_key == "gather" and skipped.upstream_failed is False
    with pytest.raises(DagvizError, match="No outputs found for output 'result' from node 'ident'"):
        result.output_for_node("ident")  # as in Dagster: no keys is no output, not an empty dict


def test_required_dynamic_out_with_no_keys_gives_the_collect_an_empty_list():
    @op(out=DynamicOut())
    def nothing_required():
        return
        yield  # noqa: unreachable - makes this a generator

    result = _run_emitter(nothing_required)
    assert result.success
    assert result.steps["gather"].status == StepStatus.SUCCESS
    assert result.output_for_node("gather") == []

    @op(out=DynamicOut())
    def returns_empty():
        return []

    @job
    def direct_collect():
        gather(returns_empty().collect())

    assert direct_collect.execute_in_process().output_for_node("gather") == []


def test_a_failed_emitter_skips_its_mapped_steps_and_collect():
    @op(out=DynamicOut())
    def emits_then_fails():
        yield DynamicOutput("a", mapping_key="a")
        raise RuntimeError("emitter broke")

    result = _run_emitter(emits_then_fails)
    assert not result.success
    assert result.steps["emits_then_fails"].status == StepStatus.FAILURE
    assert result.steps["gather"].status == StepStatus.SKIPPED
    assert [event.step_key for event in _failures(result)] == ["emits_then_fails"]


def test_failure_raised_by_an_op_uses_its_description_as_the_message():
    @op
    def explicit_failure():
        raise Failure(description="the input file is empty")

    @job
    def failing():
        explicit_failure()

    (failure,) = _failures(failing.execute_in_process(raise_on_error=False))
    assert failure.error.class_name == "Failure"
    assert failure.error.message == "the input file is empty"


def test_steps_downstream_of_a_failed_static_step_are_skipped_not_run():
    @op
    def breaks():
        raise KeyError("missing")

    @op
    def after(value):
        return value

    @job
    def chain():
        after(after(breaks()))

    result = chain.execute_in_process(raise_on_error=False)
    assert result.steps["after"].status == StepStatus.SKIPPED
    assert result.steps["after_2"].status == StepStatus.SKIPPED
    assert all(step.status.is_final for step in result.steps.values())
