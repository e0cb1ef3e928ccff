"""The jobs this deployment knows: the modules and files listed in ``DAGVIZ_WORKSPACE``."""

from __future__ import annotations

import threading

from django.conf import settings

from dagviz.workspace import Workspace

_lock = threading.Lock()  # requests are served from threads: one load or reload at a time
_cached: tuple[tuple[str, ...], Workspace] | None = None


def get_workspace() -> Workspace:
    """The loaded workspace; modules that fail to import are in ``.errors`` with their traceback."""
    global _cached
    entries = tuple(settings.DAGVIZ_WORKSPACE)
    with _lock:
        if _cached is None or _cached[0] != entries:
            _cached = (entries, Workspace.from_entries(list(entries)))
        return _cached[1]


def reload_workspace() -> Workspace:
    """The workspace imported afresh from disk, for code edited while the server runs.

    Entries that fail to load are in ``.errors`` and keep serving the jobs they had before.
    Runs launched from now on get the new code (their workers import it); running ones keep theirs.
    """
    global _cached
    entries = tuple(settings.DAGVIZ_WORKSPACE)
    with _lock:
        previous = _cached[1] if _cached is not None else Workspace()
        _cached = (entries, previous.reload(list(entries)))
        return _cached[1]
