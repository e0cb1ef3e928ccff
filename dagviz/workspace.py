"""Finding jobs: in modules (``-m dagviz.examples``) and files (``-f jobs.py``), and pointers to reload them.

A worker process cannot receive a job object, so it receives a :class:`JobPointer` (a
module or a file, and a job name) and imports the job itself.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from dagviz.errors import InvalidDefinitionError, UnknownJobError, WorkspaceLoadError

if TYPE_CHECKING:
    from dagviz.definitions.graph import JobDefinition


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
            path = os.path.abspath(entry)
            workspace._add(entry, lambda: import_file(path), lambda name: JobPointer(name, file=path))
        return workspace

    @classmethod
    def from_entries(cls, entries: list[str]) -> "Workspace":
        """Entries as in ``DAGVIZ_WORKSPACE``: a path ending in ``.py`` is a file, anything else a module."""
        return cls.load([e for e in entries if not e.endswith(".py")], [e for e in entries if e.endswith(".py")])

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
