"""Reloading the workspace when its files change (``dagviz dev``), with the watchfiles library.

A file entry's folder is watched without its subfolders (helpers beside it count, a data
folder below it does not); a module's package folder is watched with its subfolders; a
``workspace.yaml`` is read again when it changes. Runs already running keep their code;
runs launched after a reload import the new code in their own worker process.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Iterable

import watchfiles

from dagviz.workspace import watch_paths
from dagviz.workspace_file import apply_workspace, read_workspace_file

WATCHED_SUFFIXES = (".py", ".yaml", ".yml")


class WorkspaceWatcher:
    """Background threads that reload the server's workspace after its files change."""

    def __init__(self, entries: list[str], workspace_file: str | None = None) -> None:
        self.workspace_file = str(Path(workspace_file).resolve()) if workspace_file else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._plan(entries)

    def _plan(self, entries: list[str]) -> None:
        files = [entry for entry in entries if entry.endswith(".py")]
        modules = [entry for entry in entries if not entry.endswith(".py")]
        flat = {Path(entry).resolve().parent for entry in files}
        if self.workspace_file:
            flat.add(Path(self.workspace_file).parent)
        self._groups = [(sorted(flat), False), (sorted(set(watch_paths(modules)) - flat), True)]

    def start(self) -> None:
        for paths, recursive in self._groups:
            existing = [path for path in paths if path.is_dir()]
            if existing:
                thread = threading.Thread(target=self._watch, args=(existing, recursive), daemon=True,
                                          name="dagviz-workspace-watcher")
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)

    def _watch(self, paths: list[Path], recursive: bool) -> None:
        for changes in watchfiles.watch(*paths, recursive=recursive, stop_event=self._stop, raise_interrupt=False,
                                        watch_filter=watchfiles.DefaultFilter()):
            changed = [path for _, path in changes if path.endswith(WATCHED_SUFFIXES)]
            if changed:
                self.reload(changed)

    def reload(self, changed: Iterable[str] = ()) -> None:
        """Reload the workspace (reading ``workspace.yaml`` again if it is one of the changed files)."""
        from runs.workspace import reload_workspace

        with self._lock:
            if self.workspace_file and self.workspace_file in {str(Path(p).resolve()) for p in changed}:
                self._reread_workspace_file()
            workspace = reload_workspace()
        print(f"dagviz dev: reloaded the workspace: {len(workspace.jobs)} job(s)"
              + (f", {len(workspace.errors)} failed to load (see the jobs page)" if workspace.errors else ""),
              flush=True)
        for entry, error in workspace.errors.items():
            print(f"  {entry}: {error.strip().splitlines()[-1]}", file=sys.stderr, flush=True)

    def _reread_workspace_file(self) -> None:
        from django.conf import settings

        from dagviz.errors import WorkspaceLoadError

        try:
            spec = read_workspace_file(self.workspace_file or "")
        except WorkspaceLoadError as error:
            print(f"dagviz dev: {error} (keeping the previous workspace)", file=sys.stderr, flush=True)
            return
        apply_workspace(spec)
        settings.DAGVIZ_WORKSPACE = list(spec.entries)  # get_workspace() loads the new entries
