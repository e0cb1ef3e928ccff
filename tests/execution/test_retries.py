"""RetryPolicy and RetryRequested: each mapped key retries on its own."""

from __future__ import annotations

from dagviz import (
    DynamicOut,
    DynamicOutput,
    Failure,
    RetryPolicy,
    RetryRequested,
    StepStatus,
    job,
    op,
)
from dagviz.execution.events import StepRetry


@op(out=DynamicOut())
def three_keys():
    for key in ("k1", "k2", "k3"):
        yield DynamicOutput(key, mapping_key=key)


@op
def gather(values: list) -> list:
    return values


@op(retry_policy=RetryPolicy(max_retries=2))
def flaky_first_attempt(context, value: str) -> str:
    if context.get_mapping_key() == "k1" and context.retry_number == 0:
        raise ValueError("first attempt of k1 fails")
    return f"{value}@{context.retry_number}"


@op(retry_policy=RetryPolicy(max_retries=2))
def always_fails_for_k1(context, value: str) -> str:
    if context.get_mapping_key() == "k1":
        raise ValueError("always")
    return value


def _retries(result) -> list[StepRetry]:
    return [event for event in result.events if isinstance(event, StepRetry)]


def _starts(result, step_key: str) -> list:
    return [event for event in result.events if event.kind == "STEP_STARTED" and event.step_key == step_key]


def test_retry_policy_retries_only_the_failing_key_and_the_run_succeeds():
    @job
    def retried():
        gather(three_keys().map(flaky_first_attempt).collect())

    result = retried.execute_in_process()
    assert result.success
    assert result.steps["flaky_first_attempt[k1]"].attempts == 2
    assert result.steps["flaky_first_attempt[k2]"].attempts == 1
    assert result.steps["flaky_first_attempt[k3]"].attempts == 1
    assert result.output_for_node("gather") == ["k1@1", "k2@0", "k3@0"]
    assert [event.step_key for event in _retries(result)] == ["flaky_first_attempt[k1]"]
    assert len(_starts(result, "flaky_first_attempt[k2]")) == 1
    assert [event.attempt for event in _starts(result, "flaky_first_attempt[k1]")] == [1, 2]
    assert not [event for event in result.events if event.kind == "STEP_FAILURE"]


def test_up_for_retry_event_carries_the_error_and_the_next_attempt():
    @job
    def retried():
        three_keys().map(flaky_first_attempt)

    (retry,) = _retries(retried.execute_in_process())
    assert retry.next_attempt == 2
    assert retry.delay == 0
    assert retry.error.class_name == "ValueError"
    assert retry.error.message == "first attempt of k1 fails"
    assert "flaky_first_attempt" in retry.error.stack


def test_retries_used_up_fail_the_key_after_max_retries_plus_one_attempts_and_skip_the_collect():
    @job
    def exhausted():
        gather(three_keys().map(always_fails_for_k1).collect())

    result = exhausted.execute_in_process(raise_on_error=False)
    assert not result.success
    step = result.steps["always_fails_for_k1[k1]"]
    assert step.status == StepStatus.FAILURE
    assert step.attempts == 3
    assert [event.next_attempt for event in _retries(result)] == [2, 3]
    failures = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert [(event.step_key, event.attempt) for event in failures] == [("always_fails_for_k1[k1]", 3)]
    assert result.steps["always_fails_for_k1[k2]"].attempts == 1
    assert result.steps["gather"].status == StepStatus.SKIPPED


def test_retry_policy_delay_is_waited_between_attempts():
    @op(retry_policy=RetryPolicy(max_retries=1, delay=0.2))
    def delayed(context):
        if context.retry_number == 0:
            raise ValueError("not yet")
        return context.retry_number

    @job
    def with_delay():
        delayed()

    result = with_delay.execute_in_process()
    (retry,) = _retries(result)
    assert retry.delay == 0.2
    second_start = _starts(result, "delayed")[1]
    assert second_start.timestamp - retry.timestamp >= 0.19


def test_retry_requested_raised_by_the_op_retries_without_a_policy():
    @op
    def asks_for_retry(context):
        if context.retry_number < 2:
            raise RetryRequested(max_retries=2)
        return context.retry_number

    @job
    def requested():
        asks_for_retry()

    result = requested.execute_in_process()
    assert result.output_for_node("asks_for_retry") == 2
    assert result.steps["asks_for_retry"].attempts == 3


def test_failure_with_allow_retries_false_is_not_retried_despite_a_policy():
    @op(retry_policy=RetryPolicy(max_retries=3))
    def final_failure():
        raise Failure("give up", allow_retries=False)

    @job
    def no_retry():
        final_failure()

    result = no_retry.execute_in_process(raise_on_error=False)
    assert result.steps["final_failure"].attempts == 1
    assert not _retries(result)


def test_without_a_retry_policy_a_failure_is_final():
    @op
    def fails_once(context):
        if context.retry_number == 0:
            raise ValueError("once")
        return 1

    @job
    def no_policy():
        fails_once()

    result = no_policy.execute_in_process(raise_on_error=False)
    assert result.steps["fails_once"].status == StepStatus.FAILURE
    assert result.steps["fails_once"].attempts == 1


def test_a_retried_emitter_does_not_duplicate_keys_already_yielded():
    @op(out=DynamicOut(), retry_policy=RetryPolicy(max_retries=1))
    def emits_then_fails_once(context):
        yield DynamicOutput("a", mapping_key="a")
        if context.retry_number == 0:
            raise ValueError("emitter hiccup")
        yield DynamicOutput("b", mapping_key="b")

    @op
    def ident(value):
        return value

    @job
    def retried_emitter():
        gather(emits_then_fails_once().map(ident).collect())

    result = retried_emitter.execute_in_process()
    assert result.output_for_node("gather") == ["a", "b"]
    assert len(_starts(result, "ident[a]")) == 1
