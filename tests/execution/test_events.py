"""Typed events: what a run records, in which order, and the event-sink interface."""

from __future__ import annotations

import json
import pickle

import dagviz
from dagviz import DynamicOut, DynamicOutput, RetryPolicy, job, op
from dagviz.execution.events import (
    EVENT_TYPES,
    DynamicOutputYielded,
    ErrorInfo,
    LogMessage,
    RunFinished,
    RunStarted,
    StepFailed,
    StepOutput,
    StepRetry,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)


@op(out=DynamicOut())
def emit(context):
    context.log.info("emitting")
    for key in ("x", "y"):
        yield DynamicOutput(key, mapping_key=key)


@op
def work(value: str) -> str:
    return value * 2


@op
def gather(values: list) -> list:
    return values


@job
def evented():
    gather(emit().map(work).collect())


def _kinds(result, step_key):
    return [event.kind for event in result.events if event.step_key == step_key]


def test_a_run_starts_with_run_started_and_ends_with_run_finished():
    result = evented.execute_in_process()
    first, last = result.events[0], result.events[-1]
    assert isinstance(first, RunStarted)
    assert (first.run_id, first.job_name, first.executor) == (result.run_id, "evented", "in_process")
    assert isinstance(last, RunFinished)
    assert last.success and last.failure_reason is None
    assert [event.kind for event in result.events].count("RUN_STARTED") == 1


def test_step_events_in_order_for_emitter_mapped_and_collect_steps():
    result = evented.execute_in_process()
    assert _kinds(result, "emit") == ["STEP_STARTED", "LOG", "DYNAMIC_OUTPUT", "DYNAMIC_OUTPUT", "STEP_SUCCESS"]
    assert _kinds(result, "work[x]") == ["STEP_STARTED", "STEP_OUTPUT", "STEP_SUCCESS"]
    assert _kinds(result, "gather") == ["STEP_STARTED", "STEP_OUTPUT", "STEP_SUCCESS"]


def test_dynamic_output_events_carry_output_name_mapping_key_and_ref():
    result = evented.execute_in_process()
    dynamic = [event for event in result.events if isinstance(event, DynamicOutputYielded)]
    assert [(event.step_key, event.output_name, event.mapping_key) for event in dynamic] == [
        ("emit", "result", "x"),
        ("emit", "result", "y"),
    ]
    assert dynamic[0].ref == f"{result.run_id}/emit/result/x"
    assert "x" in dynamic[0].message


def test_output_events_carry_the_output_name_and_its_store_reference():
    result = evented.execute_in_process()
    (stored,) = [event for event in result.events if isinstance(event, StepOutput) and event.step_key == "work[y]"]
    assert stored.output_name == "result"
    assert stored.ref == f"{result.run_id}/work[y]/result"


def test_log_events_carry_level_text_and_step_key():
    result = evented.execute_in_process()
    (log,) = [event for event in result.events if isinstance(event, LogMessage)]
    assert (log.step_key, log.level, log.text, log.message) == ("emit", "INFO", "emitting", "emitting")


def test_event_timestamps_never_go_backwards_in_process():
    result = evented.execute_in_process()
    stamps = [event.timestamp for event in result.events]
    assert stamps == sorted(stamps)


def test_started_and_success_events_carry_attempt_and_duration():
    result = evented.execute_in_process()
    started = next(event for event in result.events if isinstance(event, StepStarted) and event.step_key == "work[x]")
    success = next(event for event in result.events if isinstance(event, StepSucceeded) and event.step_key == "work[x]")
    assert started.attempt == 1 and success.attempt == 1
    assert success.duration_ms >= 0
    assert "work[x]" in started.message and "work[x]" in success.message


def test_failure_retry_and_skip_events_are_typed_with_their_details():
    @op(retry_policy=RetryPolicy(max_retries=1))
    def fails(context, value):
        raise ValueError(f"bad {value} attempt {context.retry_number}")

    @job
    def failing():
        gather(emit().map(fails).collect())

    result = failing.execute_in_process(raise_on_error=False)
    retries = [event for event in result.events if isinstance(event, StepRetry)]
    failures = [event for event in result.events if isinstance(event, StepFailed)]
    skipped = [event for event in result.events if isinstance(event, StepSkipped)]
    assert sorted(event.step_key for event in retries) == ["fails[x]", "fails[y]"]
    assert sorted((event.step_key, event.attempt) for event in failures) == [("fails[x]", 2), ("fails[y]", 2)]
    assert failures[0].error.message.endswith("attempt 1")
    assert [(event.step_key, event.upstream_failed) for event in skipped] == [("gather", True)]
    finished = result.events[-1]
    assert isinstance(finished, RunFinished) and not finished.success
    assert "2 steps failed" in finished.failure_reason


def test_every_event_payload_is_json_serializable_and_its_kind_is_registered():
    @op(retry_policy=RetryPolicy(max_retries=1))
    def fails(value):
        raise ValueError("nope")

    @job
    def failing():
        gather(emit().map(fails).collect())

    events = evented.execute_in_process().events + failing.execute_in_process(raise_on_error=False).events
    kinds = {event.kind for event in events}
    assert {"RUN_STARTED", "RUN_FINISHED", "STEP_STARTED", "STEP_OUTPUT", "DYNAMIC_OUTPUT", "STEP_SUCCESS",
            "STEP_FAILURE", "STEP_UP_FOR_RETRY", "STEP_SKIPPED", "LOG"} <= kinds
    for event in events:
        assert EVENT_TYPES[event.kind] is type(event)
        json.dumps(event.payload())
        assert isinstance(event.message, str) and event.message
    failure = next(event for event in events if isinstance(event, StepFailed))
    assert failure.payload()["error"]["class_name"] == "ValueError"
    assert "fails" in failure.payload()["error"]["stack"]


def test_error_info_pickles_without_the_exception_object():
    info = ErrorInfo("ValueError", "boom", "Traceback ...", ValueError("boom"))
    clone = pickle.loads(pickle.dumps(info))
    assert (clone.class_name, clone.message, clone.stack) == ("ValueError", "boom", "Traceback ...")
    assert clone.exception is None
    assert info.to_dict() == {"class_name": "ValueError", "message": "boom", "stack": "Traceback ..."}


class RecordingSink:
    def __init__(self):
        self.events = []
        self.planned = []
        self.flushes = 0

        self.log = []

    def handle(self, event):
        self.events.append(event)
        self.log.append(("event", event.step_key))

    def steps_created(self, steps):
        self.planned.extend(steps)
        self.log.extend(("planned", step.key) for step in steps)

    def flush(self):
        self.flushes += 1


def test_execute_job_sends_every_event_to_a_given_sink_and_flushes_it():
    sink = RecordingSink()
    result = dagviz.execute_job(evented, executor="in_process", sink=sink)
    assert result.success
    assert sink.events == result.events
    assert sink.flushes >= 1
    assert isinstance(sink.events[-1], RunFinished)
    # Every step is announced once, before any event about it, in creation (yield) order.
    assert sorted(step.key for step in sink.planned) == sorted(result.steps)
    assert [step.order for step in sink.planned] == list(range(len(result.steps)))
    for key in result.steps:
        assert sink.log.index(("planned", key)) < sink.log.index(("event", key)), key


def test_events_for_step_filters_a_results_events():
    result = evented.execute_in_process()
    assert all(event.step_key == "work[y]" for event in result.events_for_step("work[y]"))
    assert [event.kind for event in result.events_for_step("work[y]")] == _kinds(result, "work[y]")


def test_metadata_is_stored_as_label_value_pairs_in_the_order_the_op_gave_them():
    """A JSON object column may sort its keys (PostgreSQL's jsonb does); pairs keep the op's order."""
    from dagviz.execution.events import StepOutput

    event = StepOutput("emit", output_name="result", ref="r", metadata={"zeta": 1, "alpha": {"b": 2, "a": 1}})
    assert event.payload()["metadata"] == [["zeta", 1], ["alpha", {"b": 2, "a": 1}]]
    assert "metadata" not in StepOutput("emit", ref="r").payload()
