"""How events are stored as rows, and how rows are read back as the events a run showed.

Most events are one row each. Two common runs of events are one row instead (a *folded* row,
with no message and the first event's timestamp), when they follow one another in one written batch:

- a quick step's start, outputs and success: kind ``STEP_RUN_<n>`` for its ``n`` events, payload
  ``{"attempt", "duration_ms", "t": [microsecond offsets of the outputs and the success],
  "o": [[output_name, ref, preview(, metadata pairs)], ...]}``;
- an emitter's yielded keys on one output, gathered from the batch (``keys_gathered``: in process, a
  key's mapped step runs before the next key is yielded, so the keys are moved up to the first one and
  stored ahead of the steps that ran between them): kind ``DYNAMIC_OUTPUTS_<n>``, payload
  ``{"output_name", "t": [offsets of the 2nd.. key], "k": [[mapping_key, ref(, metadata pairs)], ...]}``, with
  ``"p"``: the start the refs share (run and segment), stored once, the ``k`` refs holding only the rest.

Messages and payloads are rebuilt by the event classes themselves, so they read exactly as when
they were written. Every visible event keeps its own integer id, the cursor subscribers resume
after: a folded row reserves ``n`` consecutive ids (its own id is its first event's; nothing is
stored at the others). The writer allocates the ids in its transaction (``assign_ids``); readers
fetch rows with ``rows_after`` (a row may start up to ``MAX_FOLD - 1`` ids before the cursor) and go
through ``expand``. The stored kind says how many events of which kinds a row holds, so kind
filters and counts stay answerable from the ``(run, kind, id)`` index.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Iterable, Iterator

import orjson
from django.db import connection
from django.db.models import Count, QuerySet

from dagviz.execution.events import DynamicOutputYielded, Event, StepOutput, StepStarted, StepSucceeded

MAX_OUTPUTS = 6  # a step with more outputs than this keeps one row per event
MAX_KEYS = 32  # yielded keys per row
MAX_FOLD = max(MAX_OUTPUTS + 2, MAX_KEYS)  # the most visible events (ids) one row holds
STEP_PREFIX, KEYS_PREFIX = "STEP_RUN_", "DYNAMIC_OUTPUTS_"
STEP_KINDS = tuple(f"{STEP_PREFIX}{n}" for n in range(2, MAX_OUTPUTS + 3))
KEYS_KINDS = tuple(f"{KEYS_PREFIX}{n}" for n in range(1, MAX_KEYS + 1))
FOLD_KINDS = STEP_KINDS + KEYS_KINDS
EVENT_FIELDS = ("id", "timestamp", "kind", "step_key", "message", "payload")


def json_text(data: Any) -> str:
    """``data`` as compact JSON text (no spaces: a million rows of payload), for every column the writer fills.

    orjson is fifteen times faster than ``json.dumps`` on these small values, and a big run writes five a
    key. It refuses a few things ``json`` takes (integers beyond 64 bits, lone surrogates, non-string
    dict keys): those values, from user metadata, go through ``json`` as before.
    """
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        return json.dumps(data, separators=(",", ":"))


def epoch_micros(timestamp: float) -> int:
    """``timestamp`` (epoch seconds) in whole microseconds, rounded as the timestamp columns keep it."""
    second = math.floor(timestamp)
    return second * 1_000_000 + round((timestamp - second) * 1_000_000)

# The rebuild below names every field these events store; a new field must be folded too.
assert [f.name for f in fields(StepStarted)] == ["step_key", "timestamp", "attempt"]
assert [f.name for f in fields(StepOutput)] == ["step_key", "timestamp", "output_name", "ref", "metadata", "preview"]
assert [f.name for f in fields(StepSucceeded)] == ["step_key", "timestamp", "attempt", "duration_ms"]
assert [f.name for f in fields(DynamicOutputYielded)] == ["step_key", "timestamp", "output_name", "mapping_key", "ref",
                                                           "metadata"]


def is_folded(kind: str) -> bool:
    return kind.startswith(STEP_PREFIX) or kind.startswith(KEYS_PREFIX)


def span(kind: str) -> int:
    """How many visible events (and ids) a stored row of ``kind`` holds."""
    if kind.startswith(STEP_PREFIX):
        return int(kind[len(STEP_PREFIX):])
    return int(kind[len(KEYS_PREFIX):]) if kind.startswith(KEYS_PREFIX) else 1


def visible_kinds(kind: str) -> list[str]:
    """The kinds of the visible events a stored row of ``kind`` holds, in order."""
    if kind.startswith(STEP_PREFIX):
        return [StepStarted.kind, *[StepOutput.kind] * (span(kind) - 2), StepSucceeded.kind]
    if kind.startswith(KEYS_PREFIX):
        return [DynamicOutputYielded.kind] * span(kind)
    return [kind]


def count_visible(rows: Iterable[tuple[int, str]], kinds: Iterable[str], after: int | None) -> int:
    """How many visible events the stored rows ``(id, kind)`` hold above ``after`` of ``kinds`` (any if empty)."""
    wanted = set(kinds)
    return sum(1 for row_id, kind in rows for index, visible in enumerate(visible_kinds(kind))
               if (after is None or row_id + index > after) and (not wanted or visible in wanted))


def stored_kinds(kinds: Iterable[str]) -> list[str]:
    """The stored kinds whose rows can hold events of ``kinds``."""
    kinds = list(dict.fromkeys(kinds))
    result = list(kinds)
    if StepStarted.kind in kinds or StepSucceeded.kind in kinds:
        result += STEP_KINDS
    elif StepOutput.kind in kinds:
        result += STEP_KINDS[1:]  # STEP_RUN_2 has no output
    if DynamicOutputYielded.kind in kinds:
        result += KEYS_KINDS
    return result


# -- writing ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class StoredRow:
    """One row to insert: ``events`` are the stored events it holds (one unless folded)."""

    step_key: str | None
    kind: str
    timestamp: float
    message: str
    payload: str  # JSON text
    events: tuple[Event, ...]

    @property
    def span(self) -> int:
        return len(self.events)


def plain_row(event: Event) -> StoredRow:
    return StoredRow(event.step_key, event.kind, event.timestamp, event.message, json_text(event.payload()), (event,))


def _step_row(events: list[Event]) -> StoredRow:
    start, success = events[0], events[-1]
    outputs = []
    for output in events[1:-1]:
        item = [output.output_name, output.ref, output.preview]
        if output.metadata:
            item.append(output.payload()["metadata"])
        outputs.append(item)
    payload = {"attempt": start.attempt, "duration_ms": success.duration_ms, "t": _offsets(events), "o": outputs}
    return StoredRow(start.step_key, f"{STEP_PREFIX}{len(events)}", start.timestamp, "", json_text(payload),
                     tuple(events))


def _keys_row(events: list[Event]) -> StoredRow:
    first = events[0]
    prefix = _shared_ref_prefix(events)
    keys = []
    for event in events:
        item = [event.mapping_key, event.ref[len(prefix):]]
        if event.metadata:
            item.append(event.payload()["metadata"])
        keys.append(item)
    payload = {"output_name": first.output_name, "t": _offsets(events), "k": keys}
    if prefix:
        payload["p"] = prefix
    return StoredRow(first.step_key, f"{KEYS_PREFIX}{len(events)}", first.timestamp, "", json_text(payload),
                     tuple(events))


def _shared_ref_prefix(events: list[Event]) -> str:
    """What the refs of several keys share, up to a ``/`` (the run and the segment file they were appended
    to): stored once in the row instead of once a key."""
    if len(events) < 2:
        return ""
    shared = os.path.commonprefix([event.ref for event in events])
    return shared[:shared.rfind("/") + 1]


def _keys_of(payload: dict) -> Iterator[tuple[str, str, list]]:
    """``(mapping key, ref, metadata pairs)`` of each key a stored keys row holds."""
    prefix = payload.get("p", "")
    for item in payload["k"]:
        yield item[0], prefix + item[1], item[2] if len(item) > 2 else []


def _offsets(events: list[Event]) -> list[int]:
    """The 2nd.. events' times as microseconds after the first's (as the timestamp column keeps them)."""
    base = epoch_micros(events[0].timestamp)
    return [epoch_micros(event.timestamp) - base for event in events[1:]]


def keys_gathered(events: list[Event]) -> list[Event]:
    """The batch with each emitter's yielded keys (on one output, up to ``MAX_KEYS``) moved up to its first
    key in the batch, so that they fold into one row.

    In process, a key's mapped step runs before the next key is yielded: the keys come one between each
    mapped step's events, and a million keys would take a million rows. A key moves only earlier, and
    never past an event of its own emitter or a run event (those stay in order); what it moves past are
    other steps' events, which do not depend on it (a step depends only on keys yielded before it ran).
    Every event keeps its own timestamp.
    """
    slots: list[Any] = []  # events, and lists of gathered keys
    open_groups: dict[str, tuple[str, list[Event]]] = {}  # emitter -> (output name, its keys being gathered)
    for event in events:
        if type(event) is DynamicOutputYielded:
            group = open_groups.get(event.step_key)
            if group is not None and group[0] == event.output_name and len(group[1]) < MAX_KEYS:
                group[1].append(event)
                continue
            keys = [event]
            open_groups[event.step_key] = (event.output_name, keys)
            slots.append(keys)
            continue
        if open_groups:
            if event.step_key is None:
                open_groups.clear()
            else:
                open_groups.pop(event.step_key, None)
        slots.append(event)
    if len(slots) == len(events):
        return events
    gathered: list[Event] = []
    for slot in slots:
        if type(slot) is list:
            gathered += slot
        else:
            gathered.append(slot)
    return gathered


def to_rows(events: list[Event]) -> list[StoredRow]:
    """The rows for a batch of (already capped) events, in order: a step's start, outputs and success, and
    an emitter's keys, that follow one another in the batch (``keys_gathered``) fold into one row; the rest
    is a row per event."""
    events = keys_gathered(events)
    rows: list[StoredRow] = []
    i, count = 0, len(events)
    while i < count:
        event = events[i]
        if type(event) is StepStarted and (end := _step_end(events, i)) is not None:
            rows.append(_step_row(events[i:end]))
        elif type(event) is DynamicOutputYielded:  # even one key: its row then keeps no message, a smaller payload
            end = _keys_end(events, i)
            rows.append(_keys_row(events[i:end]))
        else:
            rows.append(plain_row(event))
            end = i + 1
        i = end
    return rows


def _step_end(events: list[Event], i: int) -> int | None:
    """The end (exclusive) of the fold starting at the StepStarted at ``i``, or None."""
    start, j = events[i], i + 1
    while j < len(events) and j - i - 1 < MAX_OUTPUTS and type(events[j]) is StepOutput \
            and events[j].step_key == start.step_key:
        j += 1
    if j < len(events) and type(events[j]) is StepSucceeded and events[j].step_key == start.step_key \
            and events[j].attempt == start.attempt:
        return j + 1
    return None


def _keys_end(events: list[Event], i: int) -> int:
    """The end (exclusive) of the keys the emitter at ``i`` yielded one after the other on one output."""
    first, j = events[i], i + 1
    while j < len(events) and j - i < MAX_KEYS and type(events[j]) is DynamicOutputYielded \
            and events[j].step_key == first.step_key and events[j].output_name == first.output_name:
        j += 1
    return j


def assign_ids(cursor: Any, table: str, rows: list[StoredRow]) -> list[tuple[int, StoredRow]]:
    """Ids for ``rows`` (a folded row takes a block of consecutive ids), inside the writer's transaction.

    SQLite: the transaction already holds the write lock (it has written), so the table's
    AUTOINCREMENT counter can be read and moved past the last reserved id (``finish_ids``) with no
    other writer in between. PostgreSQL: the ids come from the table's own sequence (``nextval``,
    like any other insert, so nothing can collide); a folded row whose ids came back with a gap
    (another transaction drew in between) is stored unfolded, one row per id.
    """
    total = sum(row.span for row in rows)
    if not total:
        return []
    if connection.vendor == "sqlite":
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        found = cursor.fetchone()
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        first = max(found[0] if found else 0, cursor.fetchone()[0] or 0) + 1
        ids = list(range(first, first + total))
    else:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, total])
        ids = sorted(value for (value,) in cursor.fetchall())
    return place(rows, ids)


def place(rows: list[StoredRow], ids: list[int]) -> list[tuple[int, StoredRow]]:
    """Rows with their ids from ``ids`` (increasing, one per visible event): a folded row whose ids are not
    consecutive is stored unfolded instead, one row per id."""
    assigned: list[tuple[int, StoredRow]] = []
    position = 0
    for row in rows:
        block = ids[position:position + row.span]
        position += row.span
        if block[-1] - block[0] == row.span - 1:
            assigned.append((block[0], row))
        else:
            assigned += [(id_, plain_row(event)) for id_, event in zip(block, row.events)]
    return assigned


def finish_ids(cursor: Any, table: str, assigned: list[tuple[int, StoredRow]]) -> None:
    """After the insert: move SQLite's AUTOINCREMENT counter past the ids the last row reserved."""
    if connection.vendor == "sqlite" and assigned:
        last_id, last_row = assigned[-1]
        cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s AND seq < %s",
                       [last_id + last_row.span - 1, table, last_id + last_row.span - 1])


# -- reading ---------------------------------------------------------------------------------------------


def rows_after(rows: QuerySet, after: int | None) -> QuerySet:
    """``rows`` (stored rows) that can hold visible events with ids above ``after``, in id order; the caller
    drops the visible events at or below ``after`` (``expand(..., after=after)``)."""
    rows = rows.order_by("id")
    return rows if after is None else rows.filter(id__gt=after - MAX_FOLD + 1)


def last_visible_id(row_id: int, kind: str) -> int:
    return row_id + span(kind) - 1


def expand_row(row: dict) -> list[dict]:
    """The visible events of one stored row (a dict with ``EVENT_FIELDS``), as dicts with the same fields."""
    kind = row["kind"]
    if not is_folded(kind):
        return [row]
    step_key, payload = row["step_key"], row["payload"]
    events: list[Event]
    if kind.startswith(STEP_PREFIX):
        attempt = payload["attempt"]
        events = [StepStarted(step_key, attempt=attempt)]
        events += [StepOutput(step_key, output_name=item[0], ref=item[1], preview=item[2],
                              metadata=dict(item[3]) if len(item) > 3 else {}) for item in payload["o"]]
        events.append(StepSucceeded(step_key, attempt=attempt, duration_ms=payload["duration_ms"]))
    else:
        name = payload["output_name"]
        events = [DynamicOutputYielded(step_key, output_name=name, mapping_key=mapping_key, ref=ref,
                                       metadata=dict(metadata)) for mapping_key, ref, metadata in _keys_of(payload)]
    base, first_id, offsets = row["timestamp"], row["id"], [0, *payload["t"]]
    return [{"id": first_id + index, "timestamp": base + timedelta(microseconds=offsets[index]),
             "kind": event.kind, "step_key": step_key, "message": event.message, "payload": event.payload()}
            for index, event in enumerate(events)]


def expand(rows: Iterable[dict], after: int | None = None) -> list[dict]:
    """The visible events of stored rows (in id order), without those at or below ``after``."""
    events = [event for row in rows for event in expand_row(row)]
    if after is not None:
        events = [event for event in events if event["id"] > after]
    return events


def visible_count(rows: QuerySet) -> int:
    """How many visible events the stored ``rows`` hold (two index-only counts)."""
    extra = sum((span(kind) - 1) * count for kind, count in
                rows.filter(kind__in=FOLD_KINDS).order_by().values_list("kind").annotate(count=Count("id")))
    return rows.count() + extra


def yielded_keys(run_ids: Iterable[Any]) -> Iterator[tuple[str, str, str, str]]:
    """``(emitter step key, output name, mapping key, ref)`` of every key the runs' steps yielded, in the
    order they were yielded (a key yielded again by a retried attempt comes again)."""
    from runs.models import Event as EventRow

    rows = (EventRow.objects.filter(run_id__in=list(run_ids), kind__in=stored_kinds([DynamicOutputYielded.kind]))
            .order_by("id").values_list("step_key", "kind", "payload"))
    for step_key, kind, payload in rows.iterator(chunk_size=2000):
        if kind.startswith(KEYS_PREFIX):
            for mapping_key, ref, _ in _keys_of(payload):
                yield step_key, payload["output_name"], mapping_key, ref
        else:
            yield step_key, payload["output_name"], payload["mapping_key"], payload["ref"]


def run_events(run_id: Any) -> list[dict]:
    """Every visible event of a run, in order (for tools and tests; the API pages through ``rows_after``)."""
    from runs.models import Event as EventRow

    return expand(EventRow.objects.filter(run_id=run_id).order_by("id").values(*EVENT_FIELDS))
