"""Op selections of runs: read from what users type, and the subset job a selected run executes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition

_SEPARATORS = re.compile(r"[,\s]+")


def parse_op_selection(value: str | Iterable[str] | None) -> list[str] | None:
    """A selection as a list of queries (from ``"a, *b"`` or ``["a", "*b"]``); None for none: the whole job."""
    if value is None:
        return None
    parts = [value] if isinstance(value, str) else list(value)
    queries = [query for part in parts for query in _SEPARATORS.split(str(part)) if query]
    return queries or None


def selected_job(job: "JobDefinition", op_selection: Iterable[str] | None) -> "JobDefinition":
    """The job a run with ``op_selection`` executes (``job`` itself without one).

    Raises ``InvalidOpSelectionError`` naming the unknown ops.
    """
    return job.get_subset(list(op_selection)) if op_selection else job
