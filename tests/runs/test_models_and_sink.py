"""The database event sink: batched writes, step rows kept consistent with events, attempts, dynamic keys."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.db.models import Count

from dagviz.execution.api import execute_job
from dagviz.execution.events import (
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
from dagviz.execution.sinks import PlannedStep
from dagviz.execution.status import STATUS_AFTER_EVENT
from runs.event_rows import run_events, yielded_keys
from runs.event_sink import DatabaseEventSink
from runs.models import Event, Run, RunStatus, Step
from runs.services.launch import launch_run
from runs.workspace import get_workspace
from tests.runs.support import assert_finished_as, describe

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_700_000_000.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc)


def new_run(job_name: str = "letters") -> Run:
    return Run.objects.create(job_name=job_name, status=RunStatus.STARTED, output_store="memory://")


def feed_a_small_run(sink: DatabaseEventSink) -> None:
    """emit yields c, a, b; shout[c] fails once then succeeds; shout[a] fails; shout[b] never runs; gather skipped."""
    sink.handle(RunStarted(None, run_id="r", job_name="letters", timestamp=T0))
    sink.steps_created([PlannedStep("emit_letters", "emit_letters", (), 0), PlannedStep("gather_letters", "gather_letters", (), 1)])
    sink.handle(StepStarted("emit_letters", timestamp=T0 + 1))
    for position, key in enumerate(["c", "a", "b"]):
        sink.handle(DynamicOutputYielded("emit_letters", mapping_key=key, ref=f"ref/{key}", timestamp=T0 + 1.1 + position / 10))
        sink.steps_created([PlannedStep(f"shout[{key}]", "shout", (key,), 2 + position)])
    sink.handle(StepSucceeded("emit_letters", timestamp=T0 + 2))
    sink.handle(StepStarted("shout[c]", timestamp=T0 + 3))
    sink.handle(StepRetry("shout[c]", error=ErrorInfo("ValueError", "flaky", "Traceback: flaky"), timestamp=T0 + 4))
    sink.handle(StepStarted("shout[c]", attempt=2, timestamp=T0 + 5))
    sink.handle(StepOutput("shout[c]", ref="ref/shout-c", timestamp=T0 + 5.5))
    sink.handle(StepSucceeded("shout[c]", attempt=2, timestamp=T0 + 6))
    sink.handle(StepStarted("shout[a]", timestamp=T0 + 7))
    sink.handle(StepFailed("shout[a]", error=ErrorInfo("KeyError", "no a", "Traceback: no a"), op_name="shout",
                           timestamp=T0 + 8))
    sink.handle(StepSkipped("gather_letters", reason="upstream step 'shout[a]' failed", upstream_failed=True,
                            timestamp=T0 + 9))
    sink.handle(RunFinished(None, success=False, failure_reason="1 step failed: shout[a]", timestamp=T0 + 10))


@pytest.fixture
def event_inserts(monkeypatch):
    """Counts the statements that write into the event table: INSERTs sent by connections opened from now
    on (the sink's), and on PostgreSQL the COPY commands the writer streams its rows with."""
    calls: list[int] = []
    table = Event._meta.db_table

    def count(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and table in sql:
            calls.append(len(params) if many else 1)
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):
        connection.execute_wrappers.append(count)

    if connection.vendor == "postgresql":
        import psycopg

        copy = psycopg.Cursor.copy

        def counted_copy(cursor, statement, *args, **kwargs):
            if f'"{table}"' in str(statement):
                calls.append(1)
            return copy(cursor, statement, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "copy", counted_copy)
    connection_created.connect(install)
    yield calls
    connection_created.disconnect(install)


def test_a_burst_of_events_is_written_in_a_few_statements_not_one_by_one(event_inserts):
    run = new_run()
    sink = DatabaseEventSink(run.id)
    try:
        for index in range(300):
            sink.handle(LogMessage(None, text=f"line {index}", timestamp=T0 + index))
        sink.flush()  # returns once everything handed over is committed
        assert Event.objects.filter(run=run).count() == 300
    finally:
        sink.close()
    assert 1 <= len(event_inserts) <= 10, f"{len(event_inserts)} INSERT statements for 300 events"
    texts = list(Event.objects.filter(run=run).order_by("id").values_list("message", flat=True))
    assert texts == [f"line {index}" for index in range(300)]  # the cursor order is the order handed over


def test_step_rows_follow_the_events_with_attempts_times_and_errors():
    run = new_run()
    sink = DatabaseEventSink(run.id)
    feed_a_small_run(sink)
    sink.close()

    events = run_events(run.id)  # as every reader shows them (the three keys yielded in a row are one row)
    assert [e["kind"] for e in events][:3] == ["RUN_STARTED", "STEP_STARTED", "DYNAMIC_OUTPUT"]
    assert [e["kind"] for e in events][-1] == "RUN_FINISHED"
    assert events[0]["timestamp"] == at(0)
    assert events[2]["payload"] == {"output_name": "result", "mapping_key": "c", "ref": "ref/c"}
    assert all(a["id"] < b["id"] for a, b in zip(events, events[1:]))

    steps = {step.key: step for step in Step.objects.filter(run=run)}
    assert {key: step.status for key, step in steps.items()} == {
        "emit_letters": "SUCCESS", "gather_letters": "SKIPPED",
        "shout[c]": "SUCCESS", "shout[a]": "FAILURE", "shout[b]": "PENDING",
    }
    assert [s.key for s in Step.objects.filter(run=run).order_by("order")] == [
        "emit_letters", "gather_letters", "shout[c]", "shout[a]", "shout[b]"]
    assert steps["shout[a]"].mapping_keys == ["a"] and steps["shout[a]"].node == "shout"

    emit = steps["emit_letters"]
    assert (emit.attempts, emit.started_at, emit.ended_at, emit.error) == (1, at(1), at(2), None)
    assert emit.attempt_history == []  # a first-attempt success stores no history: its times say it all
    assert emit.attempt_list() == [
        {"number": 1, "status": "SUCCESS", "started_at": T0 + 1, "ended_at": T0 + 2, "error": None}]

    retried = steps["shout[c]"]
    assert retried.attempts == 2
    assert (retried.started_at, retried.ended_at) == (at(3), at(6))
    assert retried.duration_ms == 3000
    assert retried.outputs == {"result": "ref/shout-c"}
    first, second = retried.attempt_history
    assert retried.attempt_list() == retried.attempt_history
    assert first == {"number": 1, "status": "FAILURE", "started_at": T0 + 3, "ended_at": T0 + 4,
                     "error": {"class_name": "ValueError", "message": "flaky", "stack": "Traceback: flaky"}}
    assert second == {"number": 2, "status": "SUCCESS", "started_at": T0 + 5, "ended_at": T0 + 6, "error": None}

    failed = steps["shout[a]"]
    assert failed.error == {"class_name": "KeyError", "message": "no a", "stack": "Traceback: no a"}
    assert failed.attempts == 1 and failed.attempt_history[0]["status"] == "FAILURE"
    assert failed.ended_at == at(8)
    assert steps["gather_letters"].skip_reason == "upstream step 'shout[a]' failed"
    assert steps["shout[b]"].attempts == 0 and steps["shout[b]"].attempt_history == []


def test_dynamic_keys_are_recorded_in_yield_order():
    run = new_run()
    sink = DatabaseEventSink(run.id)
    feed_a_small_run(sink)
    sink.close()
    assert list(yielded_keys([run.id])) == [
        ("emit_letters", "result", "c", "ref/c"),
        ("emit_letters", "result", "a", "ref/a"),
        ("emit_letters", "result", "b", "ref/b"),
    ]


def test_counts_per_node_and_status_are_one_query(django_assert_num_queries):
    run = new_run()
    sink = DatabaseEventSink(run.id)
    feed_a_small_run(sink)
    sink.close()
    with django_assert_num_queries(1):
        counts = {(row["node"], row["status"]): row["n"]
                  for row in Step.objects.filter(run=run).values("node", "status").annotate(n=Count("id"))}
    assert counts == {("emit_letters", "SUCCESS"): 1, ("gather_letters", "SKIPPED"): 1, ("shout", "SUCCESS"): 1,
                      ("shout", "FAILURE"): 1, ("shout", "PENDING"): 1}


def test_indexes_serve_events_by_cursor_and_steps_by_node_and_status():
    with connection.cursor() as cursor:
        event_indexes = connection.introspection.get_constraints(cursor, Event._meta.db_table)
        step_indexes = connection.introspection.get_constraints(cursor, Step._meta.db_table)
    assert any(c["index"] and c["columns"] == ["run_id", "id"] for c in event_indexes.values()), event_indexes
    assert any(c["index"] and c["columns"][:3] == ["run_id", "node", "status"] for c in step_indexes.values()), step_indexes
    assert any(c["unique"] and sorted(c["columns"]) == ["key", "run_id"] for c in step_indexes.values()), step_indexes


def test_a_real_run_with_retries_leaves_rows_that_match_its_events(tmp_path):
    job = get_workspace().get("retried_keys")
    run = new_run("retried_keys")
    sink = DatabaseEventSink(run.id)
    try:
        result = execute_job(job, executor="in_process", output_store=f"file://{tmp_path}/store", run_id=str(run.id),
                             sink=sink)
    finally:
        sink.close()
    assert result.success
    steps = {step.key: step for step in Step.objects.filter(run=run)}
    assert set(steps) == set(result.steps)
    for key, step in steps.items():
        assert step.status == result.steps[key].status.value, key
        assert step.attempts == result.steps[key].attempts, key
        assert step.attempts == sum(1 for event in run_events(run.id)
                                    if event["step_key"] == key and event["kind"] == "STEP_STARTED"), key
    retried = steps["fail_first_attempt[y]"]
    assert [a["status"] for a in retried.attempt_history] == ["FAILURE", "SUCCESS"]
    assert retried.attempt_history[0]["error"]["message"] == "first attempt of y fails"
    assert all(a["started_at"] <= a["ended_at"] for a in retried.attempt_history)
    assert retried.attempt_history[0]["ended_at"] <= retried.attempt_history[1]["started_at"]
    assert [mapping_key for _, _, mapping_key, _ in yielded_keys([run.id])] == ["x", "y"]


def _snapshot(run_id) -> tuple[str, list[tuple[str | None, str]], dict[str, tuple[str, int]], dict[str, int]]:
    """The run's status, events, step rows and dynamic records, all read in one transaction (one snapshot)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        status = Run.objects.get(id=run_id).status
        events = [(event["step_key"], event["kind"]) for event in run_events(run_id)]
        steps = {key: (status_, attempts) for key, status_, attempts in
                 Step.objects.filter(run_id=run_id).values_list("key", "status", "attempts")}
        dynamic = dict(Counter(step_key for step_key, _, _, _ in yielded_keys([run_id])))
    return status, events, steps, dynamic


def test_readers_never_see_step_rows_that_disagree_with_the_events_during_a_live_run():
    config = {"ops": {"slow_emitter": {"config": {"n": 8, "interval_ms": 40}}, "work": {"config": {"work_ms": 20}}}}
    run = launch_run("streaming_fanout", config)
    mid_run_snapshots = 0
    while True:
        status, events, steps, dynamic = _snapshot(run.id)
        derived: dict[str, str] = {}
        started: dict[str, int] = {}
        yielded: dict[str, int] = {}
        for step_key, kind in events:
            if step_key is None:
                continue
            assert step_key in steps, f"event {kind} of {step_key} committed before its step row"
            if kind in STATUS_AFTER_EVENT:
                derived[step_key] = STATUS_AFTER_EVENT[kind].value
            started[step_key] = started.get(step_key, 0) + (kind == "STEP_STARTED")
            yielded[step_key] = yielded.get(step_key, 0) + (kind == "DYNAMIC_OUTPUT")
        for key, (row_status, row_attempts) in steps.items():
            assert row_status == derived.get(key, "PENDING"), (key, row_status, derived.get(key), describe(run.id))
            assert row_attempts == started.get(key, 0), key
        assert dynamic == {key: n for key, n in yielded.items() if n}
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        if events and any(s != "SUCCESS" for s, _ in steps.values()):
            mid_run_snapshots += 1
        time.sleep(0.01)  # pacing: a reader that never lets go of SQLite's lock would starve the writer
    assert_finished_as(run.id, "SUCCESS")
    assert mid_run_snapshots >= 3, "the reader never saw the run in progress; the check proved nothing"
    assert len(steps) == 10


def test_the_run_waits_for_the_writer_instead_of_holding_a_backlog(monkeypatch):
    """A run that makes events faster than the database takes them keeps at most MAX_PENDING of them waiting."""
    from runs import event_sink

    monkeypatch.setattr(event_sink, "MAX_PENDING", 50)
    batches: list[int] = []
    write = DatabaseEventSink._write

    def slow_write(self, batch):
        batches.append(len(batch))
        time.sleep(0.02)  # a database slower than the run
        write(self, batch)

    monkeypatch.setattr(DatabaseEventSink, "_write", slow_write)
    run = new_run()
    sink = DatabaseEventSink(run.id)
    keys = [f"k{index}" for index in range(400)]
    sink.steps_created([PlannedStep("emit_letters", "emit_letters", (), 0)])
    sink.handle(StepStarted("emit_letters", timestamp=T0))
    for index, key in enumerate(keys):
        sink.handle(DynamicOutputYielded("emit_letters", mapping_key=key, ref=f"ref/{key}", timestamp=T0 + index))
    sink.close()
    assert max(batches) <= 50 and len(batches) > 8
    yielded = [event["payload"]["mapping_key"] for event in run_events(run.id) if event["kind"] == "DYNAMIC_OUTPUT"]
    assert yielded == keys


def test_values_the_fast_json_encoder_refuses_are_stored_and_read_back_all_the_same():
    """Payloads and step columns go through orjson; what it refuses (an integer beyond 64 bits) and what it
    writes differently (non-ASCII text, unescaped) must still read back exactly."""
    run = new_run()
    sink = DatabaseEventSink(run.id)
    sink.steps_created([PlannedStep("count", "count", (), 0)])
    handed = [
        StepStarted("count", attempt=1, timestamp=T0),
        StepOutput("count", output_name="result", ref="ref/count", metadata={"rows": 2 ** 70, "note": "café ✓"},
                   preview="'naïve ✓'", timestamp=T0 + 1),
        StepSucceeded("count", attempt=1, duration_ms=1000.0, timestamp=T0 + 2),
        LogMessage("count", text="déjà vu ✓", timestamp=T0 + 3),
    ]
    for event in handed:
        sink.handle(event)
    sink.close()
    stored = run_events(run.id)
    assert [(e["kind"], e["payload"], e["message"]) for e in stored] == [
        (e.kind, e.payload(), e.message) for e in handed]
    assert dict(stored[1]["payload"]["metadata"]) == {"rows": 2 ** 70, "note": "café ✓"}
    step = Step.objects.get(run=run, key="count")
    assert step.outputs == {"result": "ref/count"} and step.output_previews == {"result": "'naïve ✓'"}


def test_a_step_row_written_in_one_batch_is_updated_in_place_by_later_batches():
    """The step row upsert (multi-row INSERT on SQLite, COPY through a staging table on PostgreSQL): each
    flush commits a batch, and a step seen again in a later batch keeps one row with the latest values."""
    run = new_run()
    sink = DatabaseEventSink(run.id)
    seen = []

    def committed() -> tuple:
        sink.flush()
        row = Step.objects.get(run=run, key="slow")
        return row.status, row.attempts, row.outputs, Step.objects.filter(run=run).count()

    try:
        sink.steps_created([PlannedStep("slow", "slow", (), 0), PlannedStep("other", "other", (), 1)])
        seen.append(committed())
        sink.handle(StepStarted("slow", attempt=1, timestamp=T0))
        seen.append(committed())
        sink.handle(StepOutput("slow", output_name="result", ref="ref/slow", timestamp=T0 + 1))
        sink.handle(StepSucceeded("slow", attempt=1, duration_ms=2000.0, timestamp=T0 + 2))
        seen.append(committed())
    finally:
        sink.close()
    assert seen == [("PENDING", 0, {}, 2), ("RUNNING", 1, {}, 2), ("SUCCESS", 1, {"result": "ref/slow"}, 2)]
    row = Step.objects.get(run=run, key="slow")
    assert (row.started_at, row.ended_at) == (at(0), at(2))
    assert Step.objects.get(run=run, key="other").status == "PENDING"
