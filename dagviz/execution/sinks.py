"""Where a run's events go. The engine only knows this small interface; the database sink lives in ``runs``."""

from __future__ import annotations

from typing import Protocol

from dagviz.execution.events import Event


class EventSink(Protocol):
    def handle(self, event: Event) -> None:
        """Record one event (may buffer; ``flush`` writes what is buffered)."""

    def flush(self) -> None: ...


class MemorySink:
    """Keeps every event in a list (``execute_in_process`` and the CLI)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        pass


class FanOutSink:
    """Sends each event to several sinks (e.g. memory for the result and a progress display)."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def handle(self, event: Event) -> None:
        for sink in self.sinks:
            sink.handle(event)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()
