"""The result of a run read through Dagster's API: status, per-node predicates, events and outputs.

Every expectation here was observed with Dagster 1.13.27 on the same job.
"""

from __future__ import annotations

import re

import pytest

from dagviz import DynamicOut, DynamicOutput, Out, Output, job, op
from dagviz.errors import DagvizError


@op(out=DynamicOut())
def emit():
    for key in ("a", "b", "c"):
        yield DynamicOutput(key, mapping_key=key, metadata={"key": key})


@op
def mapped(value):
    if value == "b":
        raise ValueError("b is bad")
    return Output(value.upper(), metadata={"n": 1})


@op
def after(value):
    return value


@op
def gather(values):
    return values


@job
def one_key_fails():
    gather(emit().map(mapped).map(after).collect())


@pytest.fixture(scope="module")
def failed_run():
    return one_key_fails.execute_in_process(raise_on_error=False)


def kinds_by_step(result, step_key: str) -> list[str]:
    return [event.event_type_value for event in result.all_events if event.step_key == step_key]


# -- run status --------------------------------------------------------------------------------------


def test_run_with_a_failed_key_is_not_successful_and_has_run_status_failure(failed_run):
    """Dagster 1.13: success False and dagster_run.status == DagsterRunStatus.FAILURE."""
    from dagviz import DagsterRunStatus

    assert failed_run.success is False
    assert failed_run.dagster_run.status == DagsterRunStatus.FAILURE


@op
def with_metadata():
    return Output(7, metadata={"n": 1})


@job
def succeeds():
    with_metadata()


def test_successful_run_has_run_status_success():
    """Dagster 1.13: dagster_run.status == DagsterRunStatus.SUCCESS."""
    from dagviz import DagsterRunStatus

    result = succeeds.execute_in_process()
    assert result.dagster_run.status == DagsterRunStatus.SUCCESS


# -- node predicates ---------------------------------------------------------------------------------


def test_mapped_node_with_one_failed_key_is_both_node_success_and_node_failed(failed_run):
    """Dagster 1.13: is_node_success is "any key succeeded", is_node_failed is "any key failed"."""
    assert failed_run.is_node_success("mapped") is True
    assert failed_run.is_node_failed("mapped") is True
    assert failed_run.is_node_skipped("mapped") is False


def test_node_downstream_of_a_failed_key_is_neither_success_nor_failed(failed_run):
    """Dagster 1.13: the collect after a failed key never succeeds nor fails."""
    assert failed_run.is_node_success("gather") is False
    assert failed_run.is_node_failed("gather") is False


def test_node_predicates_of_an_unknown_node_are_false(failed_run):
    """Dagster 1.13: is_node_success("nope") is False, not an error."""
    assert failed_run.is_node_success("nope") is False


@op(out={"a": Out(is_required=False)})
def never_yields_a(value):
    if value is None:
        yield Output(value, "a")


@job
def keys_all_skipped():
    gather(emit().map(never_yields_a).map(after).collect())


def test_mapped_node_whose_keys_were_all_skipped_is_node_skipped():
    """Dagster 1.13: after[a..c] each get STEP_SKIPPED; is_node_skipped("after") and ("gather") are True."""
    result = keys_all_skipped.execute_in_process()
    assert result.success
    assert kinds_by_step(result, "after[a]") == ["STEP_SKIPPED"]
    assert result.is_node_skipped("after") is True
    assert result.is_node_success("after") is False
    assert result.is_node_skipped("gather") is True


@op(out=DynamicOut(is_required=False))
def emit_nothing_optionally():
    yield from ()


@job
def optional_fan_out_with_no_keys():
    gather(emit_nothing_optionally().map(after).collect())


def test_mapped_node_with_no_keys_has_no_events_and_its_collect_is_skipped():
    """Dagster 1.13: the mapped node is untouched (not skipped); the collect is skipped."""
    result = optional_fan_out_with_no_keys.execute_in_process()
    assert result.events_for_node("after") == []
    assert result.is_node_untouched("after") is True
    assert result.is_node_skipped("after") is False
    assert result.is_node_skipped("gather") is True


# -- events ----------------------------------------------------------------------------------------


def test_all_events_start_with_the_run_start_and_end_with_the_run_outcome(failed_run):
    """Dagster 1.13 uses the legacy kinds PIPELINE_START / PIPELINE_FAILURE / PIPELINE_SUCCESS."""
    kinds = [event.event_type_value for event in failed_run.all_events]
    assert kinds[0] == "PIPELINE_START"
    assert kinds[-1] == "PIPELINE_FAILURE"
    assert [event.event_type_value for event in succeeds.execute_in_process().all_events][-1] == "PIPELINE_SUCCESS"


def test_emitter_reports_each_key_as_a_step_output_followed_by_handled_output(failed_run):
    """Dagster 1.13: a yielded key is a STEP_OUTPUT (no separate kind), each followed by HANDLED_OUTPUT."""
    assert kinds_by_step(failed_run, "emit") == [
        "STEP_START",
        "STEP_OUTPUT", "HANDLED_OUTPUT",
        "STEP_OUTPUT", "HANDLED_OUTPUT",
        "STEP_OUTPUT", "HANDLED_OUTPUT",
        "STEP_SUCCESS",
    ]


def test_events_for_a_mapped_node_are_the_events_of_each_of_its_keys(failed_run):
    """Dagster 1.13: 16 events, key by key: six for a success, four for the failure, six again."""
    events = [(event.event_type_value, event.step_key) for event in failed_run.events_for_node("mapped")]
    succeeded = ["STEP_START", "LOADED_INPUT", "STEP_INPUT", "STEP_OUTPUT", "HANDLED_OUTPUT", "STEP_SUCCESS"]
    assert events == (
        [(kind, "mapped[a]") for kind in succeeded]
        + [(kind, "mapped[b]") for kind in ["STEP_START", "LOADED_INPUT", "STEP_INPUT", "STEP_FAILURE"]]
        + [(kind, "mapped[c]") for kind in succeeded]
    )


def test_step_success_and_failure_events_name_their_step_keys(failed_run):
    """Dagster 1.13: successes emit, mapped[a], mapped[c], after[a], after[c]; the failure mapped[b]."""
    assert sorted(event.step_key for event in failed_run.get_step_success_events()) == [
        "after[a]", "after[c]", "emit", "mapped[a]", "mapped[c]",
    ]
    assert [event.step_key for event in failed_run.get_step_failure_events()] == ["mapped[b]"]


def test_step_failure_event_wraps_the_user_error_as_its_cause(failed_run):
    """Dagster 1.13: `Error occurred while executing op "mapped":`, caused by `ValueError: b is bad`."""
    (event,) = failed_run.get_step_failure_events()
    assert event.event_type_value == "STEP_FAILURE"
    assert event.is_step_failure
    assert event.message == 'Execution of step "mapped[b]" failed.'
    error = event.step_failure_data.error
    assert re.search(re.escape('Error occurred while executing op "mapped":'), error.message)
    assert error.cause.cls_name == "ValueError"
    assert re.search("b is bad", error.cause.message)


def _outputs_of(result, step_key: str) -> list:
    return [event.step_output_data for event in result.all_events
            if event.event_type_value == "STEP_OUTPUT" and event.step_key == step_key]


def test_dynamic_output_event_has_output_name_mapping_key_and_metadata(failed_run):
    """Dagster 1.13: step_output_data.output_name "result", mapping_key per key, metadata values with .value."""
    described = [(data.output_name, data.mapping_key, data.metadata["key"].value)
                 for data in _outputs_of(failed_run, "emit")]
    assert described == [("result", "a", "a"), ("result", "b", "b"), ("result", "c", "c")]


def test_plain_output_event_of_a_mapped_step_has_no_mapping_key_and_keeps_output_metadata(failed_run):
    """Dagster 1.13: mapped[a]'s output has mapping_key None and metadata {"n": IntMetadataValue(1)}."""
    (data,) = _outputs_of(failed_run, "mapped[a]")
    assert data.output_name == "result"
    assert data.mapping_key is None
    assert data.metadata["n"].value == 1


# -- outputs ---------------------------------------------------------------------------------------


def test_output_for_node_of_a_mapped_node_leaves_out_the_failed_key(failed_run):
    """Dagster 1.13: {'a': 'A', 'c': 'C'}."""
    assert failed_run.output_for_node("mapped") == {"a": "A", "c": "C"}
    assert failed_run.output_for_node("after") == {"a": "A", "c": "C"}


def test_output_for_node_of_a_node_that_never_ran_raises(failed_run):
    """Dagster 1.13: `No outputs found for output 'result' from node 'gather'.`."""
    with pytest.raises(DagvizError, match=re.escape("No outputs found for output 'result' from node 'gather'.")):
        failed_run.output_for_node("gather")


@op
def fails():
    raise ValueError("nope")


@job
def single_failure():
    fails()


def test_output_for_node_of_a_failed_step_raises():
    """Dagster 1.13: `No outputs found for output 'result' from node 'fails'.`."""
    result = single_failure.execute_in_process(raise_on_error=False)
    with pytest.raises(DagvizError, match=re.escape("No outputs found for output 'result' from node 'fails'.")):
        result.output_for_node("fails")


def test_output_for_node_of_a_mapped_node_with_no_keys_raises():
    """Dagster 1.13: `No outputs found for output 'result' from node 'after'.` (not an empty dict)."""
    result = optional_fan_out_with_no_keys.execute_in_process()
    with pytest.raises(DagvizError, match=re.escape("No outputs found for output 'result' from node 'after'.")):
        result.output_for_node("after")


def test_output_for_node_of_an_unknown_node_or_output_names_it(failed_run):
    """Dagster 1.13: `one_key_fails has no op named nope.` and `mapped has no output named zzz.`."""
    with pytest.raises(DagvizError, match=re.escape("one_key_fails has no op named nope.")):
        failed_run.output_for_node("nope")
    with pytest.raises(DagvizError, match=re.escape("mapped has no output named zzz.")):
        failed_run.output_for_node("mapped", "zzz")


@op(out=DynamicOut())
def emit_then_fail():
    yield DynamicOutput(1, mapping_key="a")
    raise ValueError("emit broke")


@job
def emitter_fails():
    gather(emit_then_fail().map(after).collect())


def test_output_for_node_of_a_failed_emitter_has_the_keys_yielded_before_the_failure():
    """Dagster 1.13: {'a': 1}, and the emitter is node-failed."""
    result = emitter_fails.execute_in_process(raise_on_error=False)
    assert result.output_for_node("emit_then_fail") == {"a": 1}
    assert result.is_node_failed("emit_then_fail") is True


def test_raise_on_error_raises_the_users_exception_itself():
    """Dagster 1.13 re-raises ValueError('nope'), not a wrapper."""
    with pytest.raises(ValueError, match="^nope"):
        single_failure.execute_in_process()
