"""Results read through Dagster's API: all_events as Dagster's event log, node predicates, run record, event data."""

from __future__ import annotations

import pytest

from dagviz import (
    DagsterEventType,
    DagsterRunStatus,
    DynamicOut,
    DynamicOutput,
    Failure,
    RetryPolicy,
    graph,
    job,
    op,
)
from dagviz.execution.events import StepSkipped


@op(out=DynamicOut())
def emit():
    for key in ("a", "b"):
        yield DynamicOutput(key, mapping_key=key)


@op
def shout(value: str) -> str:
    if value == "b":
        raise Failure(description="b is not allowed", metadata={"key": value, "rows": 3})
    return value.upper()


@op
def join(values: list) -> str:
    return "".join(values)


@op
def pair(left: str, right: str = "!") -> str:
    return left + right


@job(tags={"team": "data"})
def failing_fan_out():
    pair(join(emit().map(shout).collect()))


@pytest.fixture(scope="module")
def failed():
    return failing_fan_out.execute_in_process(raise_on_error=False, tags={"owner": "me"})


def kinds(events) -> list[tuple[str, str | None]]:
    return [(event.event_type_value, event.step_key) for event in events]


def test_steps_downstream_of_a_failure_have_no_events_in_all_events_but_keep_their_skip_in_events(failed):
    assert failed.is_node_untouched("join") and failed.is_node_untouched("pair")
    assert failed.is_node_skipped("join") is False
    skipped = [event.step_key for event in failed.events if isinstance(event, StepSkipped)]
    assert skipped == ["join", "pair"]


def test_run_record_has_failure_status_the_job_and_run_tags_and_the_failure_reason(failed):
    run = failed.dagster_run
    assert (run.status, run.run_id, run.job_name) == (DagsterRunStatus.FAILURE, failed.run_id, "failing_fan_out")
    assert run.tags == {"team": "data", "owner": "me", "dagster/failure_reason": "STEP_FAILURE"}
    assert run.is_failure and run.is_finished and not run.is_success


def test_failure_raised_by_the_op_gives_its_description_and_metadata_unwrapped(failed):
    data = failed.failure_data_for_node("shout")
    assert (data.error.cls_name, data.error.cause) == ("Failure", None)
    assert data.user_failure_data.label == "intentional-failure"
    assert data.user_failure_data.description == "b is not allowed"
    assert {label: value.value for label, value in data.user_failure_data.metadata.items()} == {"key": "b", "rows": 3}
    assert failed.get_failed_step_keys() == {"shout[b]"}


def test_run_failure_event_names_the_failed_steps_and_there_is_no_success_event(failed):
    event = failed.get_run_failure_event()
    assert event.is_job_failure and event.is_failure
    assert event.message == """Execution of run for "failing_fan_out" failed. Steps failed: ['shout[b]']."""
    with pytest.raises(Exception, match="No event of type DagsterEventType.PIPELINE_SUCCESS found."):
        failed.get_run_success_event()


def test_all_events_keep_dagviz_fields_next_to_dagsters_accessors(failed):
    (output,) = [event for event in failed.all_events if event.is_successful_output and event.step_key == "shout[a]"]
    assert (output.kind, output.output_name, output.ref) == ("STEP_OUTPUT", "result", output.event.ref)
    assert output.event_type == DagsterEventType.STEP_OUTPUT
    assert output.node_name == "shout" and str(output.node_handle) == "shout"
    assert output.dagster_event is output and output.is_dagster_event


@job
def collect_and_defaults():
    pair(join(emit().map(pair).collect()))


def test_a_started_step_reports_each_input_it_loads_and_each_input_it_gets():
    result = collect_and_defaults.execute_in_process()
    messages = [event.message for event in result.all_events if event.step_key == "join"][:4]
    assert messages == [
        'Started execution of step "join".',
        'Loaded input "values" using input manager "io_manager", from output "result" of step "pair[a]"',
        'Loaded input "values" using input manager "io_manager", from output "result" of step "pair[b]"',
        'Got input "values" of type "List". (Type check passed).',
    ]
    second_pair = [event.message for event in result.all_events if event.step_key == "pair_2"]
    assert second_pair[1:4] == [  # the defaulted input is received but not loaded
        'Loaded input "left" using input manager "io_manager", from output "result" of step "join"',
        'Got input "left" of type "String". (Type check passed).',
        'Got input "right" of type "String". (Type check passed).',
    ]


def test_every_output_is_followed_by_its_handled_output_event():
    result = collect_and_defaults.execute_in_process()
    assert [event.message for event in result.all_events if event.step_key == "emit"][1:3] == [
        'Yielded output "result" mapping key "a" of type "Any". (Type check passed).',
        'Handled output "result" using IO manager "io_manager"',
    ]


@graph
def shouting(value):
    return join([shout(value), shout.alias("again")(value)])


@op
def hello() -> str:
    return "a"


@job
def nested():
    shouting(hello())


def test_events_for_a_graph_are_the_events_of_every_node_inside_it():
    result = nested.execute_in_process()
    assert {event.step_key for event in result.events_for_node("shouting")} == {
        "shouting.shout", "shouting.again", "shouting.join",
    }
    assert result.is_node_success("shouting.again")
    assert [event.node_name for event in result.events_for_node("shouting.join")][0] == "join"


ATTEMPTS: dict[str, int] = {}


@op(retry_policy=RetryPolicy(max_retries=2))
def flaky() -> int:
    ATTEMPTS["flaky"] = ATTEMPTS.get("flaky", 0) + 1
    if ATTEMPTS["flaky"] < 3:
        raise ValueError("not yet")
    return 1


@job
def retried():
    flaky()


def test_retried_step_is_up_for_retry_then_restarted_and_counts_its_retries():
    ATTEMPTS.clear()
    result = retried.execute_in_process()
    assert kinds(result.events_for_node("flaky")) == [
        ("STEP_START", "flaky"), ("STEP_UP_FOR_RETRY", "flaky"),
        ("STEP_RESTARTED", "flaky"), ("STEP_UP_FOR_RETRY", "flaky"),
        ("STEP_RESTARTED", "flaky"), ("STEP_OUTPUT", "flaky"), ("HANDLED_OUTPUT", "flaky"), ("STEP_SUCCESS", "flaky"),
    ]
    restarted = [event.message for event in result.all_events if event.is_step_restarted]
    assert restarted[0] == 'Started re-execution (attempt # 2) of step "flaky".'
    assert result.retry_attempts_for_node("flaky") == 2
    retry = next(event for event in result.all_events if event.is_step_up_for_retry).step_retry_data
    assert (retry.error.cls_name, retry.error.cause.message) == ("DagsterExecutionStepExecutionError", "ValueError: not yet\n")


@op
def logs(context) -> int:
    context.log.info("hello")
    return 1


@job
def logging_job():
    logs()


def test_log_lines_are_in_events_but_not_in_dagsters_event_log():
    result = logging_job.execute_in_process()
    (line,) = [event for event in result.events if event.kind == "LOG"]
    assert line.is_dagster_event is False and line.dagster_event is None
    assert [event.event_type_value for event in result.all_events] == [
        "PIPELINE_START", "STEP_START", "STEP_OUTPUT", "HANDLED_OUTPUT", "STEP_SUCCESS", "PIPELINE_SUCCESS",
    ]


def test_successful_run_has_success_status_and_a_success_event_and_the_result_is_a_context_manager():
    with logging_job.execute_in_process() as result:
        assert result.dagster_run.status == DagsterRunStatus.SUCCESS
        assert result.get_run_success_event().message == 'Finished execution of run for "logging_job".'
        assert result.get_step_success_events()[0].step_success_data.duration_ms >= 0
