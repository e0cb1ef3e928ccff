"""Compact event rows: a run's events read back exactly as they were handed to the sink, through every reader.

Runs go through the real engine and ``DatabaseEventSink``; the events the engine handed over (as the
sink stores them: capped) are the expectation. Every reader (the live pump's fetch at every cursor,
the ``events`` connection, the event log with each filter, a step's metadata) must give the same
events, kinds, step keys, messages, payloads, timestamps and order, with unique increasing ids,
while a quick step's start, outputs and success are stored as one row.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone

import pytest
from django.db import connection

from dagviz import DynamicOut, DynamicOutput, Failure, Out, Output, RetryPolicy, job, op
from dagviz.execution.api import execute_job
from dagviz.execution.events import LogMessage, StepOutput, StepStarted, StepSucceeded
from dagviz.execution.sinks import FanOutSink, MemorySink
from runs import event_rows
from runs.event_sink import DatabaseEventSink, stored_event
from runs.graphql.runs import RunType
from runs.graphql.steps import step_metadata
from runs.live.event_pump import fetch_events, last_event_id
from runs.models import Event, Run, RunStatus, Step
from runs.services.event_log import EventLogFilter, read_event_log
from runs.workspace import get_workspace

pytestmark = pytest.mark.django_db(transaction=True)


@op(out=DynamicOut())
def emit_keys(context):
    for index in range(6):
        yield DynamicOutput(index, mapping_key=f"k{index}", metadata={"index": index} if index % 2 else None)


@op(out=DynamicOut())
def list_keys():
    """40 keys nothing maps: yielded one after the other (more than one row holds)."""
    for index in range(40):
        yield DynamicOutput(index, mapping_key=f"n{index}", metadata={"square": index * index} if index % 7 == 0 else None)


@op
def quick(value: int) -> int:
    return value + 1


@op
def chatty(context, value: int) -> int:
    context.log.info(f"working on {value}")
    return value


@op(retry_policy=RetryPolicy(max_retries=1))
def flaky(context, value: int) -> int:
    if context.retry_number == 0 and value % 2:
        raise Failure(f"odd value {value} fails its first attempt")
    return value


@op
def broken(value: int) -> int:
    if value == 3:
        raise ValueError("three is broken")
    return value


@op(out={"low": Out(), "high": Out()})
def split():
    yield Output(1, "low", metadata={"rows": 10, "label": "few"})
    yield Output(2, "high")


@op
def take(value: int) -> int:
    return value


@op
def take_high(value: int) -> int:
    return value


@job
def mixed():
    keys = emit_keys()
    keys.map(quick)
    keys.map(chatty)
    keys.map(flaky)
    keys.map(broken)
    low, high = split()
    take(low)
    take_high(high)
    list_keys()


def run_through_sink(job_def, run_config: dict | None = None, tmp_path=None) -> tuple[Run, list[tuple]]:
    """Run ``job_def`` into the database; the run row and the events as the sink stored them (expected)."""
    run = Run.objects.create(job_name=job_def.name, status=RunStatus.STARTED, output_store="memory://")
    memory, database = MemorySink(), DatabaseEventSink(run.id)
    try:
        execute_job(job_def, run_config, executor="in_process", output_store=f"file://{tmp_path}/store",
                    run_id=str(run.id), sink=FanOutSink(memory, database))
    finally:
        database.close()
    handed = [expected(event) for event in memory.events]
    return run, as_stored([shown(event) for event in event_rows.run_events(run.id)], handed)


def as_stored(shown_events: list[tuple], handed: list[tuple]) -> list[tuple]:
    """``handed`` in the order the run's log shows it (``shown_events``), after checking that the log shows
    exactly the handed events and only ever moves a yielded key earlier (``event_rows.keys_gathered``): never
    past its emitter's own events or a run event; every other event keeps its place."""
    def canonical(event: tuple) -> str:  # PostgreSQL's jsonb gives a payload's keys back in its own order
        return json.dumps(event, sort_keys=True, default=str)

    assert sorted(map(canonical, shown_events)) == sorted(map(canonical, handed))
    yielded = "DYNAMIC_OUTPUT"
    assert [e for e in shown_events if e[0] != yielded] == [e for e in handed if e[0] != yielded]
    for emitter in {e[1] for e in handed if e[0] == yielded}:
        assert [e for e in shown_events if e[1] == emitter] == [e for e in handed if e[1] == emitter]

    def before_each_key(events: list[tuple]) -> dict[str, tuple[int, int]]:
        """Per yielded key: how many run events and how many other events come before it."""
        counts, run_events, others = {}, 0, 0
        for event in events:
            if event[0] == yielded:
                counts[canonical(event)] = (run_events, others)
            elif event[1] is None:
                run_events += 1
            else:
                others += 1
        return counts

    shown_counts, handed_counts = before_each_key(shown_events), before_each_key(handed)
    for key, (run_events, others) in shown_counts.items():
        assert run_events == handed_counts[key][0] and others <= handed_counts[key][1], key
    return shown_events


def expected(event) -> tuple:
    stored = stored_event(event)
    return (stored.kind, stored.step_key, stored.message, json.loads(json.dumps(stored.payload())),
            datetime.fromtimestamp(stored.timestamp, tz=timezone.utc))


def shown(event: dict) -> tuple:
    return event["kind"], event["step_key"], event["message"], event["payload"], event["timestamp"]


@pytest.fixture(params=["mixed", "big_fanout"])
def recorded(request, tmp_path):
    if request.param == "mixed":
        return run_through_sink(mixed, None, tmp_path)
    return run_through_sink(get_workspace().get("big_fanout"), {"ops": {"emit_many": {"config": {"n": 150}}}},
                            tmp_path)


def test_every_event_reads_back_exactly_and_quick_steps_take_one_row(recorded):
    run, events = recorded
    visible = event_rows.run_events(run.id)
    assert [shown(event) for event in visible] == events
    ids = [event["id"] for event in visible]
    assert ids == sorted(set(ids))
    rows = list(Event.objects.filter(run=run).values_list("kind", flat=True))
    folded = [kind for kind in rows if event_rows.is_folded(kind)]
    assert folded, "no step was stored as one row"
    keys_rows = [payload for kind, payload in Event.objects.filter(run=run).values_list("kind", "payload")
                 if kind.startswith(event_rows.KEYS_PREFIX) and kind != f"{event_rows.KEYS_PREFIX}1"]
    assert keys_rows, rows
    # The run and segment that the keys' refs share are stored once a row, not once a key.
    for payload in keys_rows:
        assert payload["p"].startswith(f"{run.id}/@seg/"), payload
        assert all(re.fullmatch(r"\d+/\d+", item[1]) for item in payload["k"]), payload  # offset/length
    if run.job_name == "big_fanout":
        # In process, each key's DYNAMIC_OUTPUT comes just before its step runs; the keys of a written batch are
        # gathered into one row: about one row per key, not four (or two).
        assert len(rows) <= 150 + 150 // 2 + 20 and rows.count("STEP_RUN_3") >= 140
    assert last_event_id(str(run.id)) == ids[-1]


def test_the_live_fetch_resumes_exactly_at_every_cursor(recorded):
    run, events = recorded
    ids = [event["id"] for event in event_rows.run_events(run.id)]
    for position, after in enumerate([0, *ids]):
        assert [event["id"] for event in fetch_events(str(run.id), after)] == ids[position:], after
    # Small fetches, as the pump makes under load, put together the whole log.
    got, cursor = [], 0
    while batch := fetch_events(str(run.id), cursor, limit=3):
        got += batch
        cursor = batch[-1]["id"]
    assert [shown(event) for event in got] == events


def test_the_events_connection_pages_and_counts_visible_events(recorded):
    run, events = recorded
    ids = [event["id"] for event in event_rows.run_events(run.id)]
    for size in (1, 4, 1000):
        got, after = [], None
        while True:
            page = RunType.resolve_events(run, None, after=after, first=size)
            got += [edge.node for edge in page.edges]
            if not page.page_info.has_next_page:
                break
            after = page.page_info.end_cursor
        assert [(node.kind, node.step_key, node.message, node.payload) for node in got] == [e[:4] for e in events]
        assert [int(node.cursor) for node in got] == ids
        assert page.count() == len(events)
    for after in ids[:40]:  # inside folded rows too
        page = RunType.resolve_events(run, None, after=str(after), first=3)
        assert [int(edge.cursor) for edge in page.edges] == [i for i in ids if i > after][:3]


FILTERS = [
    EventLogFilter(),
    EventLogFilter(kinds=("STEP_STARTED",)),
    EventLogFilter(kinds=("STEP_OUTPUT",)),
    EventLogFilter(kinds=("STEP_SUCCESS", "LOG")),
    EventLogFilter(kinds=("DYNAMIC_OUTPUT", "STEP_FAILURE", "STEP_UP_FOR_RETRY")),
    EventLogFilter(text="stored output"),
    EventLogFilter(text="K3]"),
    EventLogFilter(kinds=("STEP_OUTPUT",), text="'high'"),
    EventLogFilter(step_key_prefix="quick["),
    EventLogFilter(step_key_prefix="add_one[k1"),
    EventLogFilter(step_key="flaky[k1]"),
    EventLogFilter(step_key="quick[k2]", kinds=("STEP_OUTPUT", "STEP_SUCCESS")),
    EventLogFilter(step_key="add_one[k7]", text="started"),
    EventLogFilter(step_key="split"),
    EventLogFilter(step_key="emit_keys", kinds=("DYNAMIC_OUTPUT",)),
    EventLogFilter(step_key="emit_many", text="'k14'"),
    EventLogFilter(kinds=("DYNAMIC_OUTPUT",), text="'k4'"),
    EventLogFilter(kinds=("DYNAMIC_OUTPUT",), text="'n3"),
    EventLogFilter(step_key="list_keys", kinds=("DYNAMIC_OUTPUT", "STEP_SUCCESS")),
    EventLogFilter(step_key_prefix="list_"),
]


def matches(event: tuple, log_filter: EventLogFilter) -> bool:
    kind, step_key, message = event[0], event[1], event[2]
    return ((not log_filter.kinds or kind in log_filter.kinds)
            and (not log_filter.text or log_filter.text.lower() in message.lower())
            and (not log_filter.step_key or step_key == log_filter.step_key)
            and (not log_filter.step_key_prefix or (step_key or "").startswith(log_filter.step_key_prefix)))


@pytest.mark.parametrize("log_filter", FILTERS, ids=repr)
def test_the_event_log_filters_pages_and_counts_like_the_events_it_shows(recorded, log_filter):
    run, events = recorded
    visible = event_rows.run_events(run.id)
    want = [(e["id"], e["kind"], e["step_key"], e["message"]) for e, raw in zip(visible, events)
            if matches(raw, log_filter)]
    for size in (2, 500):
        got, after = [], None
        while True:
            page = read_event_log(run, log_filter, after, size, with_count=after is None)
            if after is None and not log_filter.text and not log_filter.step_key_prefix:  # no count otherwise
                assert page.total_count == len(want)
            got += [(row["id"], row["kind"], row["step_key"], row["message"]) for row in page.rows]
            if not page.has_next_page:
                break
            after = page.end_cursor
        assert got == want
    for after in [e["id"] for e in visible][:30]:  # resuming inside a folded row
        page = read_event_log(run, log_filter, after, 2, with_count=True)
        assert [row["id"] for row in page.rows] == [w[0] for w in want if w[0] > after][:2]
        if not log_filter.text and not log_filter.step_key_prefix:
            assert page.total_count == len([w for w in want if w[0] > after])


def test_a_steps_metadata_reads_folded_outputs(tmp_path):
    run, _ = run_through_sink(mixed, None, tmp_path)
    step = Step.objects.get(run=run, key="split")
    entries = [(entry.label, entry.value, entry.output_name) for entry in step_metadata(step)]
    assert entries == [("rows", "10", "low"), ("label", '"few"', "low")]
    emitter = Step.objects.get(run=run, key="emit_keys")
    assert [(entry.label, entry.value, entry.mapping_key) for entry in step_metadata(emitter)] == [
        ("index", str(index), f"k{index}") for index in (1, 3, 5)]
    lister = Step.objects.get(run=run, key="list_keys")
    assert [(entry.label, entry.value, entry.mapping_key) for entry in step_metadata(lister)] == [
        ("square", str(index * index), f"n{index}") for index in range(0, 40, 7)]


def test_a_folded_row_whose_ids_are_not_consecutive_is_stored_unfolded():
    """On PostgreSQL another transaction can draw from the sequence in between: the row then takes one id per
    event, and reads back the same events."""
    events = [StepStarted("a", timestamp=1.0), StepOutput("a", ref="r", timestamp=1.5),
              StepSucceeded("a", duration_ms=2.0, timestamp=2.0), LogMessage(None, text="x", timestamp=3.0)]
    rows = event_rows.to_rows(events)
    assert [row.kind for row in rows] == ["STEP_RUN_3", "LOG"]
    assert [(i, row.kind) for i, row in event_rows.place(rows, [10, 11, 12, 13])] == [(10, "STEP_RUN_3"), (13, "LOG")]
    placed = event_rows.place(rows, [10, 11, 14, 15])
    assert [(i, row.kind) for i, row in placed] == [(10, "STEP_STARTED"), (11, "STEP_OUTPUT"), (14, "STEP_SUCCESS"),
                                                    (15, "LOG")]
    assert [row.message for _, row in placed] == [event.message for event in events]


def test_two_runs_writing_at_once_never_share_an_id(tmp_path):
    """Two sinks on two threads (two connections) write folded and plain rows at the same time."""
    job_def = get_workspace().get("big_fanout")
    results: dict[int, tuple] = {}

    def run_one(index: int) -> None:
        try:
            results[index] = run_through_sink(job_def, {"ops": {"emit_many": {"config": {"n": 300}}}},
                                              tmp_path / str(index))
        finally:
            connection.close()

    threads = [threading.Thread(target=run_one, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_ids: list[int] = []
    for run, events in results.values():
        visible = event_rows.run_events(run.id)
        assert [shown(event) for event in visible] == events
        all_ids += [event["id"] for event in visible]
    assert len(results) == 2 and len(all_ids) == len(set(all_ids))
