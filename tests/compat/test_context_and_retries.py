"""The op context (names, tags, run id, resources) and retry policies, as Dagster 1.13 behaves.

Every expectation here was observed by running the same job on Dagster 1.13.27. Retry delays
are read from the STEP_UP_FOR_RETRY events, which carry the wait Dagster's documented formula
gives (``dagster.Backoff``/``dagster.Jitter``), with the first retry as attempt 1:
LINEAR ``attempt * delay``, EXPONENTIAL ``(2 ** attempt - 1) * delay``, FULL jitter
``random() * backoff_delay``, PLUS_MINUS jitter ``backoff_delay + (2 * random() * delay - delay)``.
No ``from __future__ import annotations``: Dagster 1.13 rejects a string annotation of ``context``.
"""

import pytest

from dagviz import (
    Backoff,
    DagsterInvalidDefinitionError,
    DynamicOut,
    DynamicOutput,
    Failure,
    Jitter,
    OpExecutionContext,
    RetryPolicy,
    RetryRequested,
    graph,
    job,
    op,
    resource,
)

# -- Context -----------------------------------------------------------------------------------------------


@resource
def greeting(_):
    return "R"


@op(required_resource_keys={"r"})
def probe(context: OpExecutionContext) -> dict:
    return {
        "is_context": isinstance(context, OpExecutionContext),
        "op.name": context.op.name,
        "op_def.name": context.op_def.name,
        "run.tags": dict(context.run.tags),
        "has_tag x": context.has_tag("x"),
        "get_tag x": context.get_tag("x"),
        "get_tag team": context.get_tag("team"),
        "has_tag missing": context.has_tag("missing"),
        "get_tag missing": context.get_tag("missing"),
        "run_id": context.run_id,
        "run.run_id": context.run.run_id,
        "job_name": context.job_name,
        "resources.r": context.resources.r,
        "retry_number": context.retry_number,
        "mapping_key": context.get_mapping_key(),
    }


@job(tags={"team": "a", "x": "job"}, resource_defs={"r": greeting})
def tagged():
    probe.alias("aliased")()


@job(resource_defs={"r": greeting})
def untagged():
    probe()


def test_context_names_the_node_and_the_op_definition_apart():
    """Dagster 1.13: under ``probe.alias("aliased")``, ``context.op.name`` is 'aliased' and ``context.op_def.name`` 'probe'."""
    seen = tagged.execute_in_process().output_for_node("aliased")

    assert seen["is_context"]
    assert seen["op.name"] == "aliased"
    assert seen["op_def.name"] == "probe"
    assert seen["job_name"] == "tagged"


def test_run_tags_join_job_tags_and_win_on_conflict():
    """Dagster 1.13: job tags {team: a, x: job} + run tags {x: 1, other: o} -> {team: a, x: 1, other: o}."""
    seen = tagged.execute_in_process(tags={"x": "1", "other": "o"}).output_for_node("aliased")

    assert seen["run.tags"] == {"team": "a", "x": "1", "other": "o"}
    assert seen["has_tag x"] is True and seen["get_tag x"] == "1"
    assert seen["get_tag team"] == "a"
    assert seen["has_tag missing"] is False and seen["get_tag missing"] is None


def test_a_run_without_tags_has_empty_run_tags():
    """Dagster 1.13: no job tags and no run tags -> ``context.run.tags == {}``, ``has_tag`` False, ``get_tag`` None."""
    seen = untagged.execute_in_process().output_for_node("probe")

    assert seen["run.tags"] == {}
    assert seen["has_tag x"] is False and seen["get_tag x"] is None
    assert seen["op.name"] == "probe" and seen["op_def.name"] == "probe"


def test_run_id_resources_and_first_attempt_values():
    """Dagster 1.13: ``context.run_id == context.run.run_id == result.run_id``; ``resources.r`` built; retry 0; no key."""
    result = untagged.execute_in_process()
    seen = result.output_for_node("probe")

    assert seen["run_id"] == seen["run.run_id"] == result.run_id
    assert seen["resources.r"] == "R"
    assert seen["retry_number"] == 0
    assert seen["mapping_key"] is None


def test_context_of_a_mapped_op_inside_a_graph():
    """Dagster 1.13: op ``inner`` in graph ``wrapper`` mapped over k1 -> op.name 'inner', mapping key 'k1'."""

    @op(out=DynamicOut())
    def emit_one():
        yield DynamicOutput(1, mapping_key="k1")

    @op
    def inner(context: OpExecutionContext, value: int) -> tuple:
        return context.op.name, context.op_def.name, context.get_mapping_key()

    @graph
    def wrapper(value):
        return inner(value)

    @job
    def mapped_in_graph():
        emit_one().map(wrapper)

    result = mapped_in_graph.execute_in_process()

    assert result.output_for_node("wrapper.inner") == {"k1": ("inner", "inner", "k1")}


# -- Retries -----------------------------------------------------------------------------------------------


def _flaky_job(policy: RetryPolicy | None, failures: int, attempts: list):
    """A job of one op that fails its first ``failures`` attempts, recording each ``retry_number``."""

    @op(retry_policy=policy)
    def flaky(context: OpExecutionContext) -> int:
        attempts.append(context.retry_number)
        if context.retry_number < failures:
            raise ValueError(f"attempt {context.retry_number}")
        return context.retry_number

    @job
    def flaky_job():
        flaky()

    return flaky_job


def _waits(result, step_key: str = "flaky") -> list[float]:
    return [event.delay for event in result.all_events if event.kind == "STEP_UP_FOR_RETRY" and event.step_key == step_key]


def test_retry_number_counts_attempts_from_zero():
    """Dagster 1.13: ``RetryPolicy(max_retries=3)``, three failures -> retry_number 0, 1, 2, 3 and success with 3."""
    attempts = []

    result = _flaky_job(RetryPolicy(max_retries=3), 3, attempts).execute_in_process()

    assert attempts == [0, 1, 2, 3]
    assert result.output_for_node("flaky") == 3
    assert len(_waits(result)) == 3


def test_a_step_fails_once_max_retries_are_used_up():
    """Dagster 1.13: ``max_retries=2`` and always failing -> 3 attempts, 2 STEP_UP_FOR_RETRY, then the step fails."""
    attempts = []

    result = _flaky_job(RetryPolicy(max_retries=2), 99, attempts).execute_in_process(raise_on_error=False)

    assert not result.success
    assert attempts == [0, 1, 2]
    assert len(_waits(result)) == 2


def test_default_retry_policy_retries_once_without_waiting():
    """Dagster 1.13: ``RetryPolicy()`` is max_retries=1, delay None -> 2 attempts, wait 0."""
    attempts = []
    policy = RetryPolicy()

    result = _flaky_job(policy, 99, attempts).execute_in_process(raise_on_error=False)

    assert (policy.max_retries, policy.delay, policy.backoff, policy.jitter) == (1, None, None, None)
    assert attempts == [0, 1]
    assert _waits(result) == [0]


def test_fixed_delay_is_the_same_before_every_retry():
    """Dagster 1.13: ``delay=0.2`` and no backoff -> waits 0.2, 0.2, 0.2 (here with 0.01)."""
    result = _flaky_job(RetryPolicy(max_retries=3, delay=0.01), 3, []).execute_in_process()

    assert _waits(result) == pytest.approx([0.01, 0.01, 0.01])


def test_linear_backoff_waits_attempt_times_delay():
    """Dagster 1.13: LINEAR with delay 0.2 -> 0.2, 0.4, 0.6 (here with 0.01)."""
    result = _flaky_job(RetryPolicy(max_retries=3, delay=0.01, backoff=Backoff.LINEAR), 3, []).execute_in_process()

    assert _waits(result) == pytest.approx([0.01, 0.02, 0.03])


def test_exponential_backoff_waits_two_to_the_attempt_minus_one_times_delay():
    """Dagster 1.13: EXPONENTIAL with delay 0.2 -> 0.2, 0.6, 1.4 (here with 0.01)."""
    policy = RetryPolicy(max_retries=3, delay=0.01, backoff=Backoff.EXPONENTIAL)

    result = _flaky_job(policy, 3, []).execute_in_process()

    assert _waits(result) == pytest.approx([0.01, 0.03, 0.07])


def test_plus_minus_jitter_stays_within_one_delay_of_the_backoff():
    """Dagster 1.13: EXPONENTIAL + PLUS_MINUS, delay 0.2 -> 0.2117, 0.7062, 1.2339 (each backoff +/- 0.2)."""
    attempts = []
    policy = RetryPolicy(max_retries=3, delay=0.01, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)

    result = _flaky_job(policy, 3, attempts).execute_in_process()

    assert attempts == [0, 1, 2, 3]
    waits = _waits(result)
    assert len(waits) == 3
    for wait, backoff in zip(waits, [0.01, 0.03, 0.07]):
        assert backoff - 0.01 - 1e-9 <= wait <= backoff + 0.01 + 1e-9


def test_full_jitter_stays_between_zero_and_the_backoff():
    """Dagster 1.13: FULL jitter with delay 0.2 -> 0.0471, 0.1151, 0.1815 (each in [0, 0.2])."""
    attempts = []
    policy = RetryPolicy(max_retries=3, delay=0.01, backoff=Backoff.LINEAR, jitter=Jitter.FULL)

    result = _flaky_job(policy, 3, attempts).execute_in_process()

    assert attempts == [0, 1, 2, 3]
    waits = _waits(result)
    assert len(waits) == 3
    for wait, backoff in zip(waits, [0.01, 0.02, 0.03]):
        assert 0 <= wait <= backoff + 1e-9


def test_backoff_or_jitter_without_delay_is_a_definition_error():
    """Dagster 1.13: ``RetryPolicy(backoff=...)`` or ``RetryPolicy(jitter=...)`` without ``delay`` raises, naming delay."""
    with pytest.raises(DagsterInvalidDefinitionError, match="delay"):
        RetryPolicy(backoff=Backoff.LINEAR)
    with pytest.raises(DagsterInvalidDefinitionError, match="delay"):
        RetryPolicy(jitter=Jitter.FULL)


def test_only_the_failing_key_of_a_mapped_op_retries_under_backoff_and_jitter():
    """Dagster 1.13: key a fails twice -> attempts (a,0), (b,0), (a,1), (a,2); only ``retry_me[a]`` is up for retry."""
    attempts = []

    @op(out=DynamicOut())
    def emit_ab():
        for key in ("a", "b"):
            yield DynamicOutput(key, mapping_key=key)

    @op(retry_policy=RetryPolicy(max_retries=2, delay=0.01, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS))
    def retry_me(context: OpExecutionContext, value: str) -> str:
        attempts.append((value, context.retry_number))
        if value == "a" and context.retry_number < 2:
            raise ValueError("a is flaky")
        return value

    @job
    def mapped_retries():
        emit_ab().map(retry_me)

    result = mapped_retries.execute_in_process()

    assert result.output_for_node("retry_me") == {"a": "a", "b": "b"}
    assert sorted(attempts) == [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    assert len(_waits(result, "retry_me[a]")) == 2
    assert _waits(result, "retry_me[b]") == []


def test_failure_that_disallows_retries_is_not_retried():
    """Dagster 1.13: ``Failure(description="final", allow_retries=False)`` under ``max_retries=2`` -> one attempt."""
    attempts = []

    @op(retry_policy=RetryPolicy(max_retries=2))
    def final(context: OpExecutionContext):
        attempts.append(context.retry_number)
        raise Failure(description="final", allow_retries=False)

    @job
    def final_job():
        final()

    result = final_job.execute_in_process(raise_on_error=False)

    assert not result.success
    assert attempts == [0]
    assert _waits(result, "final") == []


def test_retry_requested_waits_the_seconds_it_asks_for():
    """Dagster 1.13: ``RetryRequested(max_retries=3, seconds_to_wait=0.1)`` twice -> attempts 0, 1, 2; waits [0.1, 0.1]."""
    attempts = []

    @op
    def asks(context: OpExecutionContext) -> int:
        attempts.append(context.retry_number)
        if context.retry_number < 2:
            raise RetryRequested(max_retries=3, seconds_to_wait=0.01)
        return context.retry_number

    @job
    def asks_job():
        asks()

    result = asks_job.execute_in_process()

    assert attempts == [0, 1, 2]
    assert _waits(result, "asks") == pytest.approx([0.01, 0.01])


def test_a_first_parameter_named_ctx_is_an_input_not_the_context():
    """Dagster 1.13: only ``context``, ``_context``, ``_`` or a context annotation make the context parameter."""

    @op
    def one():
        return 1

    @op
    def uses_ctx(ctx):
        return type(ctx).__name__

    @job
    def ctx_is_an_input():
        uses_ctx(one())

    assert ctx_is_an_input.execute_in_process().output_for_node("uses_ctx") == "int"
