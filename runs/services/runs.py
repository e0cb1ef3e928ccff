"""Reading runs: lookups that turn a bad id into a typed error."""

from __future__ import annotations

import uuid

from runs.errors import UnknownRunError
from runs.models import Run


def get_run(run_id: object) -> Run:
    """The run with this id, or ``UnknownRunError`` (also for ids that are not UUIDs)."""
    try:
        key = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
        return Run.objects.get(id=key)
    except (ValueError, Run.DoesNotExist):
        raise UnknownRunError(f"Unknown run '{run_id}'.") from None
