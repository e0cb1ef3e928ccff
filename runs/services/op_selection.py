"""Op selections of runs, read from what users type (the subset job itself is ``JobDefinition.get_subset``)."""

from __future__ import annotations

import re
from typing import Iterable

_SEPARATORS = re.compile(r"[,\s]+")


def parse_op_selection(value: str | Iterable[str] | None) -> list[str] | None:
    """A selection as a list of queries (from ``"a, *b"`` or ``["a", "*b"]``); None for none: the whole job."""
    if value is None:
        return None
    parts = [value] if isinstance(value, str) else list(value)
    queries = [query for part in parts for query in _SEPARATORS.split(str(part)) if query]
    return queries or None
