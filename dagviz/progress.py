"""Live progress of a run in a terminal: keys done / total per op, then a summary table."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import TextIO

from dagviz.execution.events import Event, StepCanceled, StepFailed, StepReused, StepSkipped, StepSucceeded
from dagviz.execution.plan import Step
from dagviz.execution.sinks import PlannedStep
from dagviz.execution.status import StepStatus
from dagviz.step_keys import parse_step_key

STATUS_COLUMNS = (StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.SKIPPED)


class ProgressLine:
    """An event sink that redraws one status line: per op, steps finished / steps known so far.

    On a terminal the line is redrawn in place at most ten times a second; otherwise a
    line is printed at most every ``interval`` seconds, so logs stay readable.
    """

    def __init__(self, stream: TextIO = sys.stderr, interval: float | None = None) -> None:
        self.stream = stream
        self.is_tty = stream.isatty()
        self.interval = interval if interval is not None else (0.1 if self.is_tty else 2.0)
        self.started = time.monotonic()
        self._last_draw = self.started
        self._known: dict[str, set[str]] = defaultdict(set)
        self._done: dict[str, int] = defaultdict(int)
        self._failed: dict[str, int] = defaultdict(int)
        self._drawn = False

    def steps_created(self, steps: list[PlannedStep]) -> None:
        for step in steps:
            self._known[step.node].add(step.key)

    def handle(self, event: Event) -> None:
        if event.step_key is None:
            return
        node = parse_step_key(event.step_key).node
        self._known[node].add(event.step_key)
        if isinstance(event, (StepSucceeded, StepFailed, StepSkipped, StepReused, StepCanceled)):
            self._done[node] += 1
            if isinstance(event, StepFailed):
                self._failed[node] += 1
        now = time.monotonic()
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - self.started
        parts = []
        for node, keys in self._known.items():
            failed = f" ({self._failed[node]} failed)" if self._failed[node] else ""
            parts.append(f"{node} {self._done[node]}/{len(keys)}{failed}")
        return f"[{elapsed:6.1f}s] " + " | ".join(parts)

    def _draw(self, now: float) -> None:
        line = self.render(now)
        if self.is_tty:
            self.stream.write("\r\x1b[2K" + line[: 200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def flush(self) -> None:
        if self._drawn and self.is_tty:
            self.stream.write("\n")
            self.stream.flush()


def summary_table(steps: dict[str, Step], node_order: list[str]) -> list[str]:
    """One row per op, in the job's order: how many of its steps ended in each status."""
    counts: dict[str, dict[StepStatus, int]] = {node: defaultdict(int) for node in node_order}
    for step in steps.values():
        counts[step.node.handle][step.status] += 1
    width = max([len("op")] + [len(node) for node in counts])
    header = f"  {'op':<{width}}  {'steps':>6}  {'succeeded':>9}  {'failed':>6}  {'skipped':>7}"
    rows = [header]
    for node, by_status in counts.items():
        total = sum(by_status.values())
        if not total:
            continue
        success, failure, skipped = (by_status[status] for status in STATUS_COLUMNS)
        rows.append(f"  {node:<{width}}  {total:>6}  {success:>9}  {failure:>6}  {skipped:>7}")
    return rows
