"""Where a run's events go. The engine only knows this small interface; the database sink lives in ``runs``."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from dagviz.execution.events import Event


class PlannedStep(NamedTuple):
    """A step the plan has just created (still pending), in creation order."""

    key: str
    node: str
    mapping_keys: tuple[str, ...]
    order: int


class EventSink(Protocol):
    def handle(self, event: Event) -> None:
        """Record one event (may buffer; ``flush`` writes what is buffered)."""

    def steps_created(self, steps: list[PlannedStep]) -> None:
        """Learn of new pending steps (before any event about them)."""

    def flush(self) -> None: ...


class MemorySink:
    """Keeps every event in a list (``execute_in_process`` and the CLI)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def steps_created(self, steps: list[PlannedStep]) -> None:
        pass

    def flush(self) -> None:
        pass


class FanOutSink:
    """Sends each event to several sinks (e.g. memory for the result and a progress display)."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def handle(self, event: Event) -> None:
        for sink in self.sinks:
            sink.handle(event)

    def steps_created(self, steps: list[PlannedStep]) -> None:
        for sink in self.sinks:
            sink.steps_created(steps)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()
