"""The database event sink: events and step rows written together, in batches, off the run's main thread.

Events are appended to an in-memory queue. A writer thread wakes when the queue stops being
empty, lets a burst gather for ``coalesce_seconds`` (10 ms), and writes one transaction per
batch: the events, the step rows they changed (one upsert) and the keys yielded. While it
writes, more events queue up, so batches grow with the load and latency stays about 10 ms
plus one write. The per-node counts the UI reads always agree with the events, and a slow
op never delays the events before it.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from dagviz.execution.error_signature import error_signature
from dagviz.execution.events import (
    DynamicOutputYielded,
    ErrorInfo,
    Event,
    LogMessage,
    RunFinished,
    StepFailed,
    StepOutput,
    StepRetry,
    StepReused,
    StepCanceled,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from dagviz.execution.sinks import PlannedStep
from dagviz.execution.status import STATUS_AFTER_EVENT, StepStatus
from runs import event_rows
from runs.event_rows import epoch_micros, json_text
from runs.live import hints
from runs.models import Event as EventRow, Run, Step

HEARTBEAT_SECONDS = 5.0
# Items (events, lists of new steps) waiting for the writer before the run's thread waits for it: a
# run that makes events faster than the database takes them would otherwise hold them all in memory.
MAX_PENDING = 20_000
WRITER_CACHE_KIB = 64 * 1024  # SQLite page cache of a run's event writer


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how much was dropped (unchanged if it fits)."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    return f"{text[:limit]}… [truncated {dropped:,} character{'' if dropped == 1 else 's'}]"


# The events of every quick step and yielded key: nothing in them is ever capped.
_WITHOUT_TEXT = frozenset({StepStarted, StepOutput, StepSucceeded, DynamicOutputYielded})


def stored_event(event: Event) -> Event:
    """The event as stored: log text, failure reasons and error message/stack capped.

    An op can log or raise with megabytes of text; storing and rendering it whole would bloat the
    event table and freeze the step drawer. The caps are settings, read for each event that has
    such text (not for the others: a run has millions of those) so a test or a deployment can change them.
    """
    if type(event) in _WITHOUT_TEXT:
        return event
    if isinstance(event, LogMessage):
        return replace(event, text=cap_text(event.text, settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS))
    if isinstance(event, RunFinished) and event.failure_reason:
        return replace(event, failure_reason=cap_text(event.failure_reason, settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS))
    error = getattr(event, "error", None)
    if isinstance(error, ErrorInfo):
        capped = replace(error, message=cap_text(error.message, settings.DAGVIZ_MAX_STORED_MESSAGE_CHARS),
                         stack=cap_text(error.stack, settings.DAGVIZ_MAX_STORED_STACK_CHARS))
        return replace(event, error=capped)  # type: ignore[call-arg]
    return event


def signature_of(error: dict | None) -> str:
    """The error signature of a failed step's stored error (``{"class_name", "message", ...}``)."""
    error = error or {}
    return error_signature(error.get("class_name", ""), error.get("message", ""))


def as_datetime(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=timezone.utc)


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return str(datetime.fromtimestamp(second, tz=timezone.utc).replace(tzinfo=None))


def sqlite_time_text(timestamp: float | None) -> str | None:
    """What Django's SQLite backend stores for the aware datetime ``timestamp`` (naive UTC, ``str()``-formatted).

    Built from a cached text per second: a run writes a million of these, and ``datetime`` costs ten times more.
    """
    if timestamp is None:
        return None
    second, micro = divmod(epoch_micros(timestamp), 1_000_000)
    text = _second_text(second)
    return f"{text}.{micro:06d}" if micro else text


@dataclass(slots=True)
class _StepMirror:
    """The writer's copy of one step row, updated by events and upserted when changed."""

    key: str
    node: str
    mapping_keys: tuple[str, ...]
    order: int
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    # None until a step's events need them: a run whose emitter outruns its mapped steps holds many waiting rows
    attempt_history: list[dict] | None = None
    started_at: float | None = None
    ended_at: float | None = None
    error: dict | None = None
    outputs: dict[str, str] | None = None
    skip_reason: str = ""
    output_previews: dict[str, str] | None = None
    error_signature: str = ""  # set while the step is FAILURE: its failure group

    def apply(self, event: Event) -> None:
        status = STATUS_AFTER_EVENT.get(event.kind)
        if status is StepStatus.RUNNING:
            self.attempts += 1
            self._history().append({"number": self.attempts, "status": "RUNNING", "started_at": event.timestamp,
                                         "ended_at": None, "error": None})
            if self.started_at is None:
                self.started_at = event.timestamp
        elif isinstance(event, StepOutput):
            self.outputs = {**(self.outputs or {}), event.output_name: event.ref}
            if event.preview is not None:
                self.output_previews = {**(self.output_previews or {}), event.output_name: event.preview}
        elif status is StepStatus.SUCCESS:
            self._end_attempt("SUCCESS", event.timestamp, None)
            self.error = None  # an earlier attempt's error stays in attempt_history only
        elif isinstance(event, (StepFailed, StepRetry)):
            error = event.error.to_dict() if event.error else None
            if not self.attempt_history or self.attempt_history[-1]["ended_at"] is not None:
                self.attempts += 1  # the worker died before the step reported its start
                self._history().append({"number": self.attempts, "started_at": event.timestamp})
            self._end_attempt("FAILURE", event.timestamp, error)
            self.error = error
        elif isinstance(event, StepCanceled):
            self._end_attempt("CANCELED", event.timestamp, None)
        elif isinstance(event, StepSkipped):
            self.skip_reason = event.reason
            self.ended_at = event.timestamp
        elif isinstance(event, StepReused):
            self.outputs = dict(event.outputs)
            self.output_previews = dict(event.previews)
        if status is not None:
            self.status = status
            self.error_signature = signature_of(self.error) if status is StepStatus.FAILURE else ""

    def _stored_history(self) -> list[dict]:
        """The attempts to store: none for a first-attempt success (``Step.attempt_list`` rebuilds it from the times)."""
        if self.status is StepStatus.SUCCESS and self.attempts == 1:
            return []
        return self.attempt_history or []

    def _history(self) -> list[dict]:
        if self.attempt_history is None:
            self.attempt_history = []
        return self.attempt_history

    def _end_attempt(self, status: str, timestamp: float, error: dict | None) -> None:
        if self.attempt_history:
            self.attempt_history[-1].update(status=status, ended_at=timestamp, error=error)
        self.ended_at = timestamp

    def values(self) -> tuple:
        return (self.key, self.node, json_text(self.mapping_keys), self.order, self.status.value, self.attempts,
                json_text(self._stored_history()), self.started_at, self.ended_at,
                None if self.error is None else json_text(self.error), json_text(self.outputs or {}), self.skip_reason,
                json_text(self.output_previews or {}), self.error_signature)


class _BatchWriter:
    """Plain SQL for the two tables a batch touches: multi-row INSERTs on SQLite, COPY on PostgreSQL.

    The ORM's bulk methods spend about ten times more in building model instances than the
    database spends writing them; a run writes tens of thousands of rows, so this path
    formats rows itself (same columns, same JSON and datetime encodings as the ORM).
    """

    def __init__(self, run_id: Any) -> None:
        ops = connection.ops
        self.run_id = Run._meta.get_field("id").get_db_prep_value(run_id, connection)
        self.run_key = str(run_id)
        if connection.vendor == "sqlite":
            # The indexes of a big run's rows outgrow SQLite's default 2 MB page cache, and each batch then
            # reads back from disk the index pages it updates (one connection: the writer thread's).
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            # What Django's SQLite backend stores for an aware datetime: naive UTC, str()-formatted.
            self.adapt_time = sqlite_time_text
        else:
            self.adapt_time = lambda ts: None if ts is None else ops.adapt_datetimefield_value(as_datetime(ts))
        step_columns = ["run_id", "key", "node", "mapping_keys", "order", "status", "attempts", "attempt_history",
                        "started_at", "ended_at", "error", "outputs", "skip_reason", "output_previews",
                        "error_signature"]
        event_columns = ["id", "run_id", "step_key", "kind", "timestamp", "message", "payload"]
        self.event_table = EventRow._meta.db_table
        if connection.vendor == "postgresql":
            self.events = _Copy(self.event_table, event_columns)
            self.steps = _CopyUpsert(Step._meta.db_table, step_columns, conflict=["run_id", "key"])
        else:
            self.events = _MultiRowInsert(self.event_table, event_columns)
            self.steps = _MultiRowInsert(Step._meta.db_table, step_columns, conflict=["run_id", "key"])

    def event_row(self, row_id: int, row: event_rows.StoredRow) -> tuple:
        return (row_id, self.run_id, row.step_key, row.kind, self.adapt_time(row.timestamp), row.message, row.payload)

    def step_row(self, mirror: "_StepMirror") -> tuple:
        values = mirror.values()
        return (self.run_id, *values[:7], self.adapt_time(values[7]), self.adapt_time(values[8]), *values[9:])

    def write(self, events: list[Event], steps: list[tuple]) -> None:
        rows = event_rows.to_rows(events)
        with transaction.atomic(), connection.cursor() as cursor:
            beat(self.run_id)  # first: on SQLite this takes the write lock the id allocation relies on
            assigned = event_rows.assign_ids(cursor, self.event_table, rows)
            self.events.run(cursor, [self.event_row(row_id, row) for row_id, row in assigned])
            event_rows.finish_ids(cursor, self.event_table, assigned)
            self.steps.run(cursor, steps)
            if events:
                hints.send_in_transaction(cursor, self.run_key)
        if events:
            hints.send_after_commit(self.run_key)


def _column_list(columns: list[str]) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def _on_conflict_update(columns: list[str], conflict: list[str]) -> str:
    """``ON CONFLICT (conflict) DO UPDATE SET`` every other column: a step row written again takes the new values."""
    q = connection.ops.quote_name
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in columns if c not in conflict)
    return f"ON CONFLICT ({_column_list(conflict)}) DO UPDATE SET {updates}"


class _MultiRowInsert:
    """``INSERT ... VALUES (...), (...), ...`` in chunks (SQLite): one statement per chunk, not per row."""

    ROWS_PER_STATEMENT = 500

    def __init__(self, table: str, columns: list[str], conflict: list[str] | None = None) -> None:
        self.head = f"INSERT INTO {connection.ops.quote_name(table)} ({_column_list(columns)}) VALUES"
        self.row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        self.tail = _on_conflict_update(columns, conflict) if conflict else ""
        self._sql: dict[int, str] = {}

    def _statement(self, rows: int) -> str:
        if rows not in self._sql:
            self._sql[rows] = f"{self.head} {', '.join([self.row] * rows)} {self.tail}"
        return self._sql[rows]

    def run(self, cursor: Any, rows: list[tuple]) -> None:
        for start in range(0, len(rows), self.ROWS_PER_STATEMENT):
            chunk = rows[start:start + self.ROWS_PER_STATEMENT]
            cursor.execute(self._statement(len(chunk)), [value for row in chunk for value in row])


class _Copy:
    """``COPY table (columns) FROM STDIN`` (PostgreSQL): the rows stream in one command, with no SQL to parse
    per row; JSON columns take the text as it is (the server parses it, as it would a ``::jsonb`` cast)."""

    def __init__(self, table: str, columns: list[str]) -> None:
        self.sql = f"COPY {connection.ops.quote_name(table)} ({_column_list(columns)}) FROM STDIN"

    def run(self, cursor: Any, rows: list[tuple]) -> None:
        if not rows:
            return
        with cursor.cursor.copy(self.sql) as copy:  # the psycopg cursor under Django's wrapper
            for row in rows:
                copy.write_row(row)


class _CopyUpsert:
    """An upsert fed by COPY (PostgreSQL): the rows go to a temporary table of the transaction, then one
    ``INSERT ... SELECT ... ON CONFLICT`` moves them (a step row written again takes the new values)."""

    def __init__(self, table: str, columns: list[str], conflict: list[str]) -> None:
        q = connection.ops.quote_name
        staging = q(f"{table}_staged")
        # The columns' types only (no id, no constraints), emptied at each commit; made once per connection.
        self.create = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                       f"SELECT {_column_list(columns)} FROM {q(table)} WITH NO DATA")
        self.copy = _Copy(f"{table}_staged", columns)
        self.move = (f"INSERT INTO {q(table)} ({_column_list(columns)}) SELECT {_column_list(columns)} "
                     f"FROM {staging} {_on_conflict_update(columns, conflict)}")

    def run(self, cursor: Any, rows: list[tuple]) -> None:
        if not rows:
            return
        cursor.execute(self.create)
        self.copy.run(cursor, rows)
        cursor.execute(self.move)


class DatabaseEventSink:
    """Writes a run's events and step rows to the database in batched transactions."""

    def __init__(self, run_id: Any, coalesce_seconds: float = 0.01) -> None:
        self.run_id = run_id
        self.coalesce_seconds = coalesce_seconds
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._room = threading.Event()  # clear while MAX_PENDING items wait
        self._room.set()
        self._closing = False
        self._error: BaseException | None = None
        self._steps: dict[str, _StepMirror] = {}
        self._writer: _BatchWriter | None = None
        self._thread = threading.Thread(target=self._write_loop, name=f"dagviz-events-{run_id}", daemon=True)
        self._thread.start()

    # -- the EventSink protocol (called on the run's thread) ---------------------------------

    def handle(self, event: Event) -> None:
        self._enqueue(event)

    def steps_created(self, steps: list[PlannedStep]) -> None:
        self._enqueue(steps)

    def flush(self) -> None:
        """Return once everything handed over so far is committed."""
        self._wake.set()
        while True:
            with self._lock:
                drained = not self._pending
            if drained and self._idle.is_set():
                break
            if self._error is not None:
                break
            self._idle.wait(0.05)
        if self._error is not None:
            raise RuntimeError(f"Writing run events failed: {self._error}") from self._error

    def close(self) -> None:
        self.flush()
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _enqueue(self, item: Any) -> None:
        with self._lock:
            first = not self._pending
            self._pending.append(item)
            if first:
                self._idle.clear()
            full = len(self._pending) >= MAX_PENDING
            if full:
                self._room.clear()
        if first or full:
            self._wake.set()  # the writer sleeps until there is something to write
        while full and not self._room.wait(0.1) and self._error is None:
            pass  # the writer takes the batch within one write; a failed writer is reported by flush()

    # -- the writer thread --------------------------------------------------------------------

    def _write_loop(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self._closing:
                if not self._wake.wait(HEARTBEAT_SECONDS):
                    beat(self.run_id)  # the run is alive even while a long step is quiet
                    last_beat = time.monotonic()
                    continue
                self._wake.clear()
                time.sleep(self.coalesce_seconds)  # let a burst of events gather into one transaction
                with self._lock:
                    batch, self._pending = self._pending, []
                    self._room.set()
                if batch:
                    self._write(batch)
                    batch = []  # not kept while the writer sleeps
                elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                    beat(self.run_id)
                last_beat = time.monotonic()
                with self._lock:
                    if not self._pending:
                        self._idle.set()
                    else:
                        self._wake.set()  # more arrived while writing
        except BaseException as error:  # reported to the run's thread by flush(); never lost silently
            self._error = error
            self._idle.set()
        finally:
            connection.close()

    def _write(self, batch: list[Any]) -> None:
        if self._writer is None:
            self._writer = _BatchWriter(self.run_id)
        events: list[Event] = []
        dirty: dict[str, _StepMirror] = {}
        for item in batch:
            if isinstance(item, list):
                for planned in item:
                    mirror = _StepMirror(planned.key, planned.node, planned.mapping_keys, planned.order)
                    self._steps[planned.key] = dirty[planned.key] = mirror
                continue
            event: Event = stored_event(item)
            events.append(event)
            mirror = self._steps.get(event.step_key) if event.step_key else None
            if mirror is not None:
                mirror.apply(event)
                dirty[mirror.key] = mirror
        self._writer.write(events, [self._writer.step_row(m) for m in dirty.values()])
        for mirror in dirty.values():
            if mirror.status.is_final:
                del self._steps[mirror.key]  # its row is written and no event changes it again: memory stays bounded


def beat(run_id: Any) -> None:
    """Record that the run's worker is alive (the monitor trusts this for workers on other hosts)."""
    Run.objects.filter(pk=run_id).update(heartbeat_at=datetime.now(timezone.utc))
