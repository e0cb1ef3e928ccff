"""``Definitions``: the jobs of a code location and the resources they share.

```python
defs = Definitions(jobs=[nightly, backfill], resources={"warehouse": Warehouse(url="...")})
defs.get_job_def("nightly").execute_in_process()
```

A job gets the Definitions' resources under its own (a job's ``resource_defs`` win, as in
Dagster). A module with a ``Definitions`` object at its top level is loaded from it by the
workspace: its jobs, with resources bound, are the module's jobs (``dagviz.workspace``).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Mapping

from dagviz.definitions.graph import JobDefinition
from dagviz.definitions.resources import ResourceDefinition, resolve_resource_defs
from dagviz.errors import InvalidDefinitionError, JobNotInDefinitionsError


class Definitions:
    """Jobs and the resources they share; ``schedules`` and ``sensors`` are accepted and not run by dagviz."""

    def __init__(self, jobs: Iterable[JobDefinition] | None = None, resources: Mapping[str, Any] | None = None,
                 assets: Iterable[Any] | None = None, schedules: Iterable[Any] | None = None,
                 sensors: Iterable[Any] | None = None, **unsupported: Any) -> None:
        if assets:
            raise InvalidDefinitionError("dagviz runs jobs; Definitions(assets=...) is not supported.")
        given = {name: value for name, value in unsupported.items() if value}
        if given:
            raise InvalidDefinitionError(
                f"Definitions does not take {', '.join(sorted(given))} in dagviz (it takes jobs and resources)."
            )
        self.jobs = list(jobs or [])
        for job in self.jobs:
            if not isinstance(job, JobDefinition):
                raise InvalidDefinitionError(
                    f"Definitions(jobs=...) takes jobs (@job, graph.to_job()); got {job!r}."
                )
        self.resources: dict[str, Any] = dict(resources or {})
        self.schedules = list(schedules or [])
        self.sensors = list(sensors or [])
        self._resource_defs: dict[str, ResourceDefinition] = resolve_resource_defs(self.resources)
        self._bound: dict[str, JobDefinition] | None = None
        # Where it is defined, so that a worker process can load the same bound jobs (see pointer_for).
        caller = sys._getframe(1).f_globals
        self.module_name: str | None = caller.get("__name__")
        main = sys.modules.get("__main__")
        self.source_file = getattr(main, "__file__", None) if self.module_name == "__main__" else None

    def _jobs_by_name(self) -> dict[str, JobDefinition]:
        """Every job with the resources bound, checked and computed once (the same objects every time)."""
        if self._bound is None:
            bound: dict[str, JobDefinition] = {}
            for job in self.jobs:
                existing = bound.get(job.name)
                if existing is not None and existing is not job and self._original(existing) is not job:
                    raise InvalidDefinitionError(f"Duplicate job definition found for job '{job.name}'")
                bound[job.name] = self._bind(job)
            self._bound = bound
        return self._bound

    @staticmethod
    def _original(job: JobDefinition) -> JobDefinition:
        return getattr(job, "_unbound", job)

    def _bind(self, job: JobDefinition) -> JobDefinition:
        missing_from_job = any(key not in job.resource_defs for key in _needed_keys(job))
        if not missing_from_job:
            return job  # as Dagster: a job with everything it needs is returned unchanged
        bound = job.bind_resources(self._resource_defs)
        bound._unbound = job  # type: ignore[attr-defined]
        bound.module_name = self.module_name or job.module_name
        bound.source_file = self.source_file
        return bound

    def get_job_def(self, name: str) -> JobDefinition:
        """The job named ``name``, with the resources bound; ``JobNotInDefinitionsError`` names the jobs there are."""
        jobs = self._jobs_by_name()
        if name not in jobs:
            found = ", ".join(f"'{job_name}'" for job_name in jobs)
            raise JobNotInDefinitionsError(f"Could not find job '{name}'. Found: {found}.")
        return jobs[name]

    def get_all_job_defs(self) -> list[JobDefinition]:
        return list(self._jobs_by_name().values())

    resolve_all_job_defs = get_all_job_defs
    resolve_job_def = get_job_def

    def __repr__(self) -> str:
        return f"<Definitions jobs={[job.name for job in self.jobs]} resources={sorted(self.resources)}>"


def _needed_keys(job: JobDefinition) -> set[str]:
    from dagviz.definitions.resources import required_resource_keys

    return required_resource_keys(job.nodes, job.resource_defs)
