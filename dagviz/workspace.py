"""Finding jobs: in modules (``-m dagviz.examples``) and files (``-f jobs.py``), and pointers to reload them.

A worker process cannot receive a job object, so it receives a :class:`JobPointer` (a
module or a file, and a job name) and imports the job itself.

A long-lived process (the web server) reloads edited code with :meth:`Workspace.reload`, which
drops the workspace's modules from ``sys.modules`` first; :func:`watch_paths` names the
directories a dev server watches to know when.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import site
import sys
import sysconfig
import threading
import traceback
from dataclasses import dataclass, field
from functools import cache
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Sequence

from dagviz.errors import InvalidDefinitionError, UnknownJobError, WorkspaceLoadError

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition

# dagviz's own top-level packages (the engine and its Django app): live objects are instances of
# their classes, so a reload must never import them again (except a workspace module inside them).
_OWN_PACKAGES = ("dagviz", "runs")
_reload_lock = threading.Lock()  # one reload at a time edits sys.modules


@dataclass(frozen=True)
class JobPointer:
    """Where a job is defined: a module name or a file path, plus the job's name.

    With ``factory``, the job is what that module-level function returns (``reconstructable(define_job)``).
    """

    job_name: str
    module: str | None = None
    file: str | None = None
    factory: str | None = None

    def load(self) -> "JobDefinition":
        module = import_file(self.file) if self.file else import_module(self.module or "")
        if self.factory:
            return self._from_factory(module)
        jobs = jobs_in_module(module)
        if self.job_name not in jobs:
            raise UnknownJobError(
                f"Job '{self.job_name}' not found in {self.file or self.module} "
                f"(jobs there: {', '.join(sorted(jobs)) or 'none'})."
            )
        return jobs[self.job_name]

    def _from_factory(self, module: ModuleType) -> "JobDefinition":
        from dagviz.definitions.graph import JobDefinition

        where = self.file or self.module
        factory = getattr(module, self.factory or "", None)
        if not callable(factory):
            raise UnknownJobError(f"No function '{self.factory}' in {where} to build job '{self.job_name}' with.")
        job = factory()
        if not isinstance(job, JobDefinition) or job.name != self.job_name:
            raise UnknownJobError(f"{self.factory}() in {where} returned {job!r}, not job '{self.job_name}'.")
        return job


def import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as error:  # any exception while importing user code is a load error with its traceback
        raise WorkspaceLoadError(f"Could not import module '{name}':\n{traceback.format_exc()}") from error


def _module_name_for_file(path: str) -> str:
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"dagviz_workspace_{''.join(c if c.isalnum() else '_' for c in stem)}_{digest}"


def import_file(path: str) -> ModuleType:
    """Import a Python file under a stable module name (the same in every process)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise WorkspaceLoadError(f"No such file: {path}")
    name = _module_name_for_file(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkspaceLoadError(f"Cannot load {path} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # any exception in user code is a load error with its traceback
        del sys.modules[name]
        raise WorkspaceLoadError(f"Could not load {path}:\n{traceback.format_exc()}") from error
    return module


def jobs_in_module(module: ModuleType) -> dict[str, "JobDefinition"]:
    """Every job defined at the top level of ``module``, by job name.

    A module with a ``Definitions`` object at its top level is loaded from it, as Dagster does:
    its jobs, with the Definitions' resources bound, are the module's jobs.
    """
    from dagviz.definitions.definitions import Definitions
    from dagviz.definitions.graph import JobDefinition

    values = list(vars(module).values())
    definitions = [value for value in values if isinstance(value, Definitions)]
    if definitions:
        try:
            return {job.name: job for defs in definitions for job in defs.get_all_job_defs()}
        except InvalidDefinitionError as error:  # a job lacking a resource, two jobs of one name
            raise WorkspaceLoadError(f"The Definitions in {module.__name__} are invalid: {error}") from error
    jobs: dict[str, JobDefinition] = {}
    for value in values:
        if isinstance(value, JobDefinition):
            jobs[value.name] = value
    return jobs


@dataclass
class Workspace:
    """The jobs of several modules and files; a module that fails to load is reported, not fatal."""

    jobs: dict[str, "JobDefinition"] = field(default_factory=dict)
    pointers: dict[str, JobPointer] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # module or file -> error with traceback

    @classmethod
    def load(cls, modules: list[str] = (), files: list[str] = ()) -> "Workspace":  # type: ignore[assignment]
        workspace = cls()
        for entry in modules:
            workspace._add(entry, lambda: import_module(entry), lambda name: JobPointer(name, module=entry))
        for entry in files:
            path = _location(entry)
            workspace._add(entry, lambda: import_file(path), lambda name: JobPointer(name, file=path))
        return workspace

    @classmethod
    def from_entries(cls, entries: list[str]) -> "Workspace":
        """Entries as in ``DAGVIZ_WORKSPACE``: a path ending in ``.py`` is a file, anything else a module."""
        return cls.load([e for e in entries if not is_file_entry(e)], [e for e in entries if is_file_entry(e)])

    def reload(self, entries: list[str]) -> "Workspace":
        """``entries`` imported afresh from disk; an entry that fails to load keeps serving its jobs of ``self``.

        Keeping the last good jobs lets a server ride out a half-saved file: the error is reported
        and the next reload, once the file is fixed, replaces them.
        """
        with _reload_lock:
            drop_workspace_modules(entries)
            fresh = Workspace.from_entries(entries)
        for entry in fresh.errors:
            fresh._keep_jobs_of(entry, self)
        return fresh

    def _keep_jobs_of(self, entry: str, previous: "Workspace") -> None:
        """Serve ``previous``'s jobs of ``entry`` (which failed to load now), unless another entry defines them."""
        location = _location(entry)
        kept = sorted(name for name, pointer in previous.pointers.items()
                      if (pointer.file or pointer.module) == location and name not in self.jobs)
        for name in kept:
            self.jobs[name] = previous.jobs[name]
            self.pointers[name] = previous.pointers[name]
        if kept:
            self.errors[entry] += (f"\nUntil it loads again, these jobs are shown as last loaded, and runs of them fail "
                                   f"(their workers import the file as it is now): {', '.join(kept)}.")

    def _add(self, entry: str, importer, make_pointer) -> None:  # type: ignore[no-untyped-def]
        try:
            module = importer()
            jobs = jobs_in_module(module)
        except WorkspaceLoadError as error:
            self.errors[entry] = str(error)
            return
        for name, job in jobs.items():
            self.jobs[name] = job
            self.pointers[name] = make_pointer(name)

    def get(self, name: str) -> "JobDefinition":
        if name not in self.jobs:
            hint = f" (jobs: {', '.join(sorted(self.jobs)) or 'none'})"
            failed = f"; modules that failed to load: {', '.join(self.errors)}" if self.errors else ""
            raise UnknownJobError(f"Unknown job '{name}'{hint}{failed}.")
        return self.jobs[name]


def pointer_for(job: "JobDefinition") -> JobPointer | None:
    """A pointer from which another process can load ``job``, if it is defined at a module's top level."""
    if job.source_file:
        return JobPointer(job.name, file=job.source_file)
    module = sys.modules.get(job.module_name)
    if module is None or jobs_in_module(module).get(job.name) is not job:
        return None
    file = getattr(module, "__file__", None)
    if job.module_name.startswith("dagviz_workspace_") and file:
        return JobPointer(job.name, file=file)
    return JobPointer(job.name, module=job.module_name)


def is_file_entry(entry: str) -> bool:
    """A workspace entry ending in ``.py`` is a file; anything else is a module name."""
    return entry.endswith(".py")


def _location(entry: str) -> str:
    """What the pointers of an entry's jobs name: the absolute path of a file, or the module's name."""
    return os.path.abspath(entry) if is_file_entry(entry) else entry


def watch_paths(entries: list[str]) -> list[Path]:
    """The directories whose files make up the workspace's code, for a dev server to watch.

    A file's directory (helpers it imports live beside it), a package's directory, or a plain
    module's directory. Modules are found without running user code where possible; one that
    cannot be found has nothing to watch (loading it reports why).
    """
    paths: list[Path] = []
    for entry in entries:
        paths += [directory for directory in _entry_directories(entry) if directory not in paths]
    return paths


def _entry_directories(entry: str) -> list[Path]:
    if is_file_entry(entry):
        return [Path(entry).resolve().parent]
    spec = _find_spec(entry)
    if spec is None:
        return []
    if spec.submodule_search_locations:  # a package; a namespace package may span several directories
        return [Path(location).resolve() for location in spec.submodule_search_locations]
    if spec.origin and os.path.isfile(spec.origin):
        return [Path(spec.origin).resolve().parent]
    return []  # built in or frozen: no file to watch


def _find_spec(name: str) -> ModuleSpec | None:
    """The module's spec; a parent package is searched on its path rather than imported (that would run it)."""
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__spec__", None) is not None:
        return module.__spec__
    parent = name.rpartition(".")[0]
    try:
        if not parent:
            return importlib.util.find_spec(name)
        parent_spec = _find_spec(parent)
        if parent_spec is None or not parent_spec.submodule_search_locations:
            return None
        return PathFinder.find_spec(name, list(parent_spec.submodule_search_locations))
    except (ImportError, ValueError):  # a malformed name or a broken parent: nothing to watch
        return None


def drop_workspace_modules(entries: list[str]) -> list[str]:
    """Forget the workspace's modules, so that importing them again runs the code now on disk; their names.

    Dropped: each entry's own module with its submodules, and every module whose file lies in a
    directory of :func:`watch_paths` (the helpers user code imports), except ``__main__``, dagviz's
    own packages and installed code (the standard library, site-packages).
    """
    owned = {_module_name_for_file(_location(e)) if is_file_entry(e) else e for e in entries}
    directories = [str(directory) for directory in watch_paths(entries)]
    dropped = [name for name, module in list(sys.modules.items())
               if _is_workspace_module(name, module, owned, directories)]
    for name in dropped:
        _forget_bytecode(sys.modules.pop(name, None))
    importlib.invalidate_caches()  # files added since the last import must be found
    return dropped


def _is_workspace_module(name: str, module: ModuleType | None, owned: set[str], directories: list[str]) -> bool:
    if name in owned or any(name.startswith(f"{entry}.") for entry in owned):
        return True
    file = getattr(module, "__file__", None)
    if not file or name == "__main__" or name.partition(".")[0] in _OWN_PACKAGES:
        return False
    path = os.path.realpath(file)
    return _inside(path, directories) and not _inside(path, _installed_directories())


def _inside(path: str, directories: Sequence[str]) -> bool:
    return any(path == directory or path.startswith(directory.rstrip(os.sep) + os.sep) for directory in directories)


@cache
def _installed_directories() -> tuple[str, ...]:
    """Where the standard library and installed packages live: never user code to reload."""
    paths = sysconfig.get_paths()
    found = [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths]
    found += site.getsitepackages() + [site.getusersitepackages()]
    return tuple(dict.fromkeys(os.path.realpath(path) for path in found))


def _forget_bytecode(module: ModuleType | None) -> None:
    """Delete a dropped module's ``.pyc``: it is checked by whole-second mtime and size, so an edit
    within the second that keeps the size would otherwise import the old code (here and in workers)."""
    cached = getattr(module, "__cached__", None)
    if cached:
        try:
            os.remove(cached)
        except OSError:  # never written (or not ours to delete): the import checks it as usual
            pass
