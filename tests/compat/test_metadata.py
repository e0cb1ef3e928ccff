"""Output and failure metadata, as Dagster 1.13 behaves.

Every expectation here was observed by running the same job on Dagster 1.13.27. Dagster puts
output metadata on the output's event (``step_output_data.metadata``) and failure metadata on
the failure event (``step_failure_data.user_failure_data.metadata``), each value wrapped in a
``MetadataValue`` whose ``.value`` is the plain value; these tests pin the plain values, which
is what dagviz's output events (STEP_OUTPUT, DYNAMIC_OUTPUT) and STEP_FAILURE events carry.
No ``from __future__ import annotations``: Dagster 1.13 rejects a string annotation of ``context``.
"""

import pytest

from dagviz import DynamicOut, DynamicOutput, Failure, OpExecutionContext, Out, Output, job, op


def _output_metadata(result, step_key: str, output_name: str = "result", mapping_key: str | None = None) -> dict:
    """The metadata of one output event (a dynamic output's event when ``mapping_key`` is given)."""
    (event,) = [
        event for event in result.all_events
        if event.kind in ("STEP_OUTPUT", "DYNAMIC_OUTPUT") and event.step_key == step_key
        and event.output_name == output_name and (getattr(event, "mapping_key", None) or None) == mapping_key
    ]
    return event.metadata


def _failure(result, step_key: str):
    (event,) = [event for event in result.all_events if event.kind == "STEP_FAILURE" and event.step_key == step_key]
    return event


def _run(op_def, raise_on_error: bool = True):
    @job(name=f"{op_def.name}_job")
    def single():
        op_def()

    return single.execute_in_process(raise_on_error=raise_on_error)


def test_output_metadata_is_on_the_output_event_and_the_value_is_unchanged():
    """Dagster 1.13: ``Output(1, metadata={"rows": 3, ...})`` -> rows 3 (IntMetadataValue), name 'n' (Text), ..."""

    @op
    def with_metadata():
        return Output(1, metadata={
            "rows": 3, "name": "n", "ratio": 0.5, "flag": True, "d": {"a": 1}, "l": [1, 2], "none": None,
        })

    result = _run(with_metadata)

    assert result.output_for_node("with_metadata") == 1
    assert _output_metadata(result, "with_metadata") == {
        "rows": 3, "name": "n", "ratio": 0.5, "flag": True, "d": {"a": 1}, "l": [1, 2], "none": None,
    }


def test_metadata_value_wrappers_arrive_as_their_value():
    """Dagster 1.13: ``MetadataValue.url("http://x")`` is a UrlMetadataValue whose ``.value`` is 'http://x'."""
    from dagviz import MetadataValue

    @op
    def with_url():
        return Output(1, metadata={"url": MetadataValue.url("http://x")})

    assert _output_metadata(_run(with_url), "with_url") == {"url": "http://x"}


def test_dynamic_output_metadata_is_per_key_and_add_output_metadata_can_target_a_key():
    """Dagster 1.13: ``DynamicOutput(..., metadata=...)`` per key; ``add_output_metadata(..., mapping_key="b")`` before b."""

    @op(out=DynamicOut())
    def emit_with_metadata(context: OpExecutionContext):
        yield DynamicOutput("va", mapping_key="a", metadata={"k": "a"})
        context.add_output_metadata({"early": 1}, mapping_key="b")
        yield DynamicOutput("vb", mapping_key="b")
        yield DynamicOutput("vc", mapping_key="c")

    result = _run(emit_with_metadata)

    assert _output_metadata(result, "emit_with_metadata", mapping_key="a") == {"k": "a"}
    assert _output_metadata(result, "emit_with_metadata", mapping_key="b") == {"early": 1}
    assert _output_metadata(result, "emit_with_metadata", mapping_key="c") == {}


def test_add_output_metadata_applies_to_the_only_output():
    """Dagster 1.13: ``context.add_output_metadata({"k": "v"}); return 2`` -> {'k': 'v'} on 'result'."""

    @op
    def added(context: OpExecutionContext) -> int:
        context.add_output_metadata({"k": "v"})
        return 2

    result = _run(added)

    assert result.output_for_node("added") == 2
    assert _output_metadata(result, "added") == {"k": "v"}


def test_add_output_metadata_with_output_name_targets_that_output_only():
    """Dagster 1.13: ``add_output_metadata({"for": "q"}, output_name="q")`` -> p {}, q {'for': 'q'}."""

    @op(out={"p": Out(), "q": Out()})
    def named(context: OpExecutionContext):
        context.add_output_metadata({"for": "q"}, output_name="q")
        return 1, 2

    result = _run(named)

    assert _output_metadata(result, "named", "p") == {}
    assert _output_metadata(result, "named", "q") == {"for": "q"}


def test_added_and_output_metadata_are_merged_and_added_wins_on_a_shared_label():
    """Dagster 1.13: added {added: 1} + Output(metadata={direct: 2}) -> both; added {a: 1} + Output {a: 2} -> {a: 1}."""

    @op
    def both(context: OpExecutionContext):
        context.add_output_metadata({"added": 1})
        return Output(5, metadata={"direct": 2})

    @op
    def conflict(context: OpExecutionContext):
        context.add_output_metadata({"a": 1})
        return Output(1, metadata={"a": 2})

    assert _output_metadata(_run(both), "both") == {"direct": 2, "added": 1}
    assert _output_metadata(_run(conflict), "conflict") == {"a": 1}


def test_repeated_add_output_metadata_merges_and_the_later_value_wins():
    """Dagster 1.13: {a: 1}, then {b: 2}, then {a: 3} -> {'a': 3, 'b': 2}."""

    @op
    def twice(context: OpExecutionContext) -> int:
        context.add_output_metadata({"a": 1})
        context.add_output_metadata({"b": 2})
        context.add_output_metadata({"a": 3})
        return 1

    assert _output_metadata(_run(twice), "twice") == {"a": 3, "b": 2}


def test_metadata_for_a_key_already_yielded_fails_the_step():
    """Dagster 1.13: "In op 'late', attempted to log output metadata for output 'result' with mapping_key 'b'
    which has already been yielded. Metadata must be logged before the output is yielded."
    """

    @op(out=DynamicOut())
    def late(context: OpExecutionContext):
        yield DynamicOutput("vb", mapping_key="b")
        context.add_output_metadata({"late": 1}, mapping_key="b")

    result = _run(late, raise_on_error=False)

    assert not result.success
    message = _failure(result, "late").error.message
    assert "'late'" in message and "'b'" in message and "already been yielded" in message


def test_metadata_for_an_unknown_output_fails_the_step():
    """Dagster 1.13: ``add_output_metadata({...}, output_name="nope")`` -> 'bad_name has no output named nope.'."""

    @op
    def bad_name(context: OpExecutionContext) -> int:
        context.add_output_metadata({"a": 1}, output_name="nope")
        return 1

    result = _run(bad_name, raise_on_error=False)

    assert not result.success
    assert "nope" in _failure(result, "bad_name").error.message


def test_metadata_without_output_name_fails_the_step_when_there_are_several_outputs():
    """Dagster 1.13: 'Attempted to add metadata without providing output_name, but multiple outputs exist. ...'."""

    @op(out={"p": Out(), "q": Out()})
    def ambiguous(context: OpExecutionContext):
        context.add_output_metadata({"a": 1})
        return 1, 2

    result = _run(ambiguous, raise_on_error=False)

    assert not result.success
    assert "output_name" in _failure(result, "ambiguous").error.message


def test_failure_event_carries_the_description_and_metadata():
    """Dagster 1.13: ``Failure(description="bad", metadata={"why": "x", "n": 2})`` -> class Failure, 'bad', {why: x, n: 2}."""

    @op
    def fails():
        raise Failure(description="bad", metadata={"why": "x", "n": 2})

    result = _run(fails, raise_on_error=False)
    failure = _failure(result, "fails")

    assert not result.success
    assert failure.error.class_name == "Failure"
    assert failure.error.message == "bad"
    assert failure.metadata == {"why": "x", "n": 2}


def test_failure_with_a_positional_description_has_no_metadata():
    """Dagster 1.13: ``Failure("positional description")`` -> description set, metadata {}."""

    @op
    def fails_plainly():
        raise Failure("positional description")

    failure = _failure(_run(fails_plainly, raise_on_error=False), "fails_plainly")

    assert failure.error.message == "positional description"
    assert failure.metadata == {}


def test_execute_in_process_re_raises_the_failure_itself():
    """Dagster 1.13: ``execute_in_process()`` raises the op's Failure: ``str(e) == 'bad'``, its metadata labels kept."""

    @op
    def fails():
        raise Failure(description="bad", metadata={"why": "x", "n": 2})

    with pytest.raises(Failure) as caught:
        _run(fails)

    assert str(caught.value) == "bad"
    assert caught.value.description == "bad"
    assert set(caught.value.metadata) == {"why", "n"}


def test_execute_in_process_re_raises_a_plain_exception_unchanged():
    """Dagster 1.13: an op raising ``ValueError("plain bad")`` -> ``execute_in_process()`` raises ValueError('plain bad')."""

    @op
    def plain():
        raise ValueError("plain bad")

    with pytest.raises(ValueError) as caught:
        _run(plain)

    assert type(caught.value) is ValueError
    assert str(caught.value) == "plain bad"
