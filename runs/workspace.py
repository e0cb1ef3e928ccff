"""The jobs this deployment knows: the modules and files listed in ``DAGVIZ_WORKSPACE``."""

from __future__ import annotations

import threading

from django.conf import settings

from dagviz.workspace import Workspace

_lock = threading.Lock()
_cached: tuple[tuple[str, ...], Workspace] | None = None


def get_workspace(reload: bool = False) -> Workspace:
    """The loaded workspace; modules that fail to import are in ``.errors`` with their traceback."""
    global _cached
    entries = tuple(settings.DAGVIZ_WORKSPACE)
    with _lock:
        if reload or _cached is None or _cached[0] != entries:
            _cached = (entries, Workspace.from_entries(list(entries)))
        return _cached[1]
