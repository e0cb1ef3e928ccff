"""The database event sink: events and step rows written together, in batches, off the run's main thread.

Events are appended to an in-memory queue; a writer thread drains it every
``flush_interval`` seconds (sooner when it grows past ``max_batch``) and writes one
transaction per batch: the events (bulk insert), the step rows they changed (one upsert)
and the keys yielded (bulk insert). So the per-node counts the UI reads are always
consistent with the events, and a slow op never delays the events before it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from django.db import connection, transaction

from dagviz.execution.events import (
    DynamicOutputYielded,
    Event,
    StepFailed,
    StepOutput,
    StepRetry,
    StepReused,
    StepSkipped,
)
from dagviz.execution.sinks import PlannedStep
from dagviz.execution.status import STATUS_AFTER_EVENT, StepStatus
from runs.models import DynamicOutputRecord, Event as EventRow, Run, Step

HEARTBEAT_SECONDS = 5.0
STEP_FIELDS = ["node", "mapping_keys", "order", "status", "attempts", "attempt_history", "started_at", "ended_at",
               "error", "outputs", "skip_reason"]


def as_datetime(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=timezone.utc)


@dataclass
class _StepMirror:
    """The writer's copy of one step row, updated by events and upserted when changed."""

    key: str
    node: str
    mapping_keys: list[str]
    order: int
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    attempt_history: list[dict] = field(default_factory=list)
    started_at: float | None = None
    ended_at: float | None = None
    error: dict | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    skip_reason: str = ""

    def apply(self, event: Event) -> None:
        status = STATUS_AFTER_EVENT.get(event.kind)
        if status is StepStatus.RUNNING:
            self.attempts += 1
            self.attempt_history.append({"number": self.attempts, "status": "RUNNING", "started_at": event.timestamp,
                                         "ended_at": None, "error": None})
            if self.started_at is None:
                self.started_at = event.timestamp
        elif isinstance(event, StepOutput):
            self.outputs[event.output_name] = event.ref
        elif status is StepStatus.SUCCESS:
            self._end_attempt("SUCCESS", event.timestamp, None)
        elif isinstance(event, (StepFailed, StepRetry)):
            error = event.error.to_dict() if event.error else None
            if not self.attempt_history or self.attempt_history[-1]["ended_at"] is not None:
                self.attempts += 1  # the worker died before the step reported its start
                self.attempt_history.append({"number": self.attempts, "started_at": event.timestamp})
            self._end_attempt("FAILURE", event.timestamp, error)
            self.error = error
        elif isinstance(event, StepSkipped):
            self.skip_reason = event.reason
            self.ended_at = event.timestamp
        elif isinstance(event, StepReused):
            self.outputs = dict(event.outputs)
        if status is not None:
            self.status = status

    def _end_attempt(self, status: str, timestamp: float, error: dict | None) -> None:
        if self.attempt_history:
            self.attempt_history[-1].update(status=status, ended_at=timestamp, error=error)
        self.ended_at = timestamp

    def row(self, run_id: Any) -> Step:
        return Step(run_id=run_id, key=self.key, node=self.node, mapping_keys=self.mapping_keys, order=self.order,
                    status=self.status.value, attempts=self.attempts, attempt_history=self.attempt_history,
                    started_at=as_datetime(self.started_at), ended_at=as_datetime(self.ended_at), error=self.error,
                    outputs=self.outputs, skip_reason=self.skip_reason)


class DatabaseEventSink:
    """Writes a run's events and step rows to the database in batched transactions."""

    def __init__(self, run_id: Any, flush_interval: float = 0.1, max_batch: int = 5000) -> None:
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closing = False
        self._error: BaseException | None = None
        self._steps: dict[str, _StepMirror] = {}
        self._positions: dict[tuple[str, str], int] = {}
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
            self._pending.append(item)
            self._idle.clear()
            large = len(self._pending) >= self.max_batch
        if large:
            self._wake.set()

    # -- the writer thread --------------------------------------------------------------------

    def _write_loop(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self._closing:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                with self._lock:
                    batch, self._pending = self._pending, []
                if batch:
                    self._write(batch)
                    last_beat = time.monotonic()
                elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                    beat(self.run_id)  # the run is alive even while a long step is quiet
                    last_beat = time.monotonic()
                with self._lock:
                    if not self._pending:
                        self._idle.set()
        except BaseException as error:  # reported to the run's thread by flush(); never lost silently
            self._error = error
            self._idle.set()
        finally:
            connection.close()

    def _write(self, batch: list[Any]) -> None:
        events: list[EventRow] = []
        dynamic: list[DynamicOutputRecord] = []
        dirty: dict[str, _StepMirror] = {}
        for item in batch:
            if isinstance(item, list):
                for planned in item:
                    mirror = _StepMirror(planned.key, planned.node, list(planned.mapping_keys), planned.order)
                    self._steps[planned.key] = dirty[planned.key] = mirror
                continue
            event: Event = item
            events.append(EventRow(run_id=self.run_id, step_key=event.step_key, kind=event.kind,
                                   timestamp=as_datetime(event.timestamp), message=event.message,
                                   payload=event.payload()))
            mirror = self._steps.get(event.step_key) if event.step_key else None
            if mirror is not None:
                mirror.apply(event)
                dirty[mirror.key] = mirror
            if isinstance(event, DynamicOutputYielded):
                position_key = (event.step_key, event.output_name)
                position = self._positions.get(position_key, 0)
                self._positions[position_key] = position + 1
                dynamic.append(DynamicOutputRecord(run_id=self.run_id, step_key=event.step_key,
                                                   output_name=event.output_name, mapping_key=event.mapping_key,
                                                   position=position, ref=event.ref))
        with transaction.atomic():
            EventRow.objects.bulk_create(events, batch_size=2000)
            Step.objects.bulk_create([m.row(self.run_id) for m in dirty.values()], batch_size=1000,
                                     update_conflicts=True, unique_fields=["run", "key"], update_fields=STEP_FIELDS)
            DynamicOutputRecord.objects.bulk_create(dynamic, batch_size=2000, ignore_conflicts=True)
            beat(self.run_id)


def beat(run_id: Any) -> None:
    """Record that the run's worker is alive (the monitor trusts this for workers on other hosts)."""
    Run.objects.filter(id=run_id).update(heartbeat_at=datetime.now(timezone.utc))
