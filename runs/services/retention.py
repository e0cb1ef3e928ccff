"""Run retention: deleting runs, and pruning old ones, without breaking the runs that remain.

A re-execution reuses outputs by reference: its step rows and dynamic keys name files in the
directory of the run that wrote them, its parent or an older ancestor. So deleting a run removes
its rows and its worker log at once, but a stored output that a surviving run of its family
(same root) still references stays on disk until the last run referencing it is deleted; that
deletion removes it. Deleting a family's runs in any order leaves nothing of it on disk, and
every run left can still read its outputs and be re-executed.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce

from dagviz.storage.output_store import FsspecOutputStore, open_output_store, run_of_ref
from runs import event_rows
from runs.errors import InvalidRetentionError, RunNotDeletableError, UnknownRunError
from runs.lifecycle import now
from runs.models import FINISHED_STATUSES, Run, Step
from runs.services.launch import worker_log_path
from runs.services.runs import get_run

PRUNE_INTERVAL_SECONDS = 3600.0
DURATION = re.compile(r"(\d+)([smhdw])")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True)
class RemovedRun:
    """One run a deletion removed, and the bytes of log and stored outputs that went with it."""

    run_id: str
    job: str
    status: str
    bytes_freed: int


@dataclass
class DeletionReport:
    """The runs a deletion or a prune removed (with ``dry_run``: would remove) and the bytes that freed."""

    deleted: list[RemovedRun] = field(default_factory=list)
    dry_run: bool = False

    @property
    def bytes_freed(self) -> int:
        return sum(run.bytes_freed for run in self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": [asdict(run) for run in self.deleted], "bytes_freed": self.bytes_freed,
                "dry_run": self.dry_run}

    def lines(self) -> list[str]:
        """One line per run, then the total: what the CLI and the daemon print."""
        verb, total = ("would remove", "would free") if self.dry_run else ("removed", "freed")
        rows = [f"{verb} run {run.run_id}  {run.job}  {run.status}  {run.bytes_freed} bytes" for run in self.deleted]
        return rows + [f"{total} {self.bytes_freed} bytes ({human_size(self.bytes_freed)})"]


def delete_runs(run_ids: Iterable[str]) -> DeletionReport:
    """Delete these runs, their rows, worker logs and the stored outputs no other run references.

    Every id is checked before anything is deleted, so one unknown or unfinished run deletes none.
    """
    runs = list({run.id: run for run in map(get_run, run_ids)}.values())
    for run in runs:
        check_deletable(run)
    deleter = _Deleter(dry_run=False)
    for run in runs:
        deleter.delete(run)
    return deleter.report


def prune_runs(older_than: timedelta, statuses: list[str] | None = None, dry_run: bool = False) -> DeletionReport:
    """Delete finished runs that ended (or, never started, were created) more than ``older_than`` ago.

    ``statuses`` keeps only runs that finished so. A run whose family has a run going is left for a
    later prune: that run may still read its outputs.
    """
    finished = check_prune_statuses(statuses)
    cutoff = now() - older_than
    candidates = list(Run.objects.annotate(finished_at=Coalesce("ended_at", "created_at"))
                      .filter(status__in=finished, finished_at__lt=cutoff).order_by("finished_at", "created_at"))
    deleter = _Deleter(dry_run)
    for run in candidates:
        try:
            deleter.delete(run)
        except (RunNotDeletableError, UnknownRunError):  # its family is busy, or someone deleted it meanwhile
            continue
    return deleter.report


def check_prune_statuses(statuses: list[str] | None) -> list[str]:
    """The statuses to prune (every finished one by default); a prune never touches a run still going."""
    if not statuses:
        return list(FINISHED_STATUSES)
    wrong = [status for status in statuses if status not in FINISHED_STATUSES]
    if wrong:
        raise InvalidRetentionError(f"Cannot prune runs that are {', '.join(wrong)}: only finished runs are pruned "
                                    f"(valid statuses: {', '.join(FINISHED_STATUSES)}).")
    return list(statuses)


def check_deletable(run: Run) -> None:
    """Refuse a run still going, and a run whose family has a run going: that run may read its outputs."""
    if not run.is_finished:
        raise RunNotDeletableError(f"Run {run.id} is {run.status}; terminate it first, and delete it once it "
                                   f"has finished.")
    active = Run.objects.filter(family_of(run)).exclude(status__in=FINISHED_STATUSES).order_by("created_at")
    going = [f"{other.id} ({other.status})" for other in active]
    if going:
        raise RunNotDeletableError(f"Run {run.id} cannot be deleted while runs of its family are going and may "
                                   f"read its outputs: {', '.join(going)}. Wait for them to finish or terminate them.")


def family_of(run: Run) -> Q:
    """The runs that share ``run``'s root: the only runs that can reference its outputs."""
    root = run.root_run_id or run.id
    return Q(id=root) | Q(root_run_id=root)


def refs_held(run_ids: Iterable[Any]) -> set[str]:
    """Every stored output the runs reference: their steps' outputs (reused ones name an ancestor) and keys."""
    run_ids = list(run_ids)
    refs = {ref for _, _, _, ref in event_rows.yielded_keys(run_ids)}
    for outputs in Step.objects.filter(run_id__in=run_ids).values_list("outputs", flat=True):
        refs.update(outputs.values())
    return refs


class _Deleter:
    """Deletes runs one at a time; remembers what is gone, so a dry run counts each file once."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.report = DeletionReport(dry_run=dry_run)
        self._gone: set[Any] = set()
        self._counted: set[str] = set()  # files a dry run already counted as removed

    def delete(self, run: Run) -> None:
        held = refs_held([run.id])
        with transaction.atomic():
            # A re-execution of the family launched meanwhile waits for this to commit (its row's foreign key).
            list(Run.objects.select_for_update().filter(family_of(run)))
            check_deletable(get_run(run.id))
            if not self.dry_run:
                Run.objects.filter(id=run.id).delete()  # cascades to steps and events
            self._gone.add(run.id)
            survivors = {str(run_id) for run_id in Run.objects.filter(family_of(run)).exclude(id__in=self._gone)
                         .values_list("id", flat=True)}
            kept = refs_held(survivors)
        freed = self._remove_log(run) + self._remove_outputs(run, held, kept, survivors)
        self.report.deleted.append(RemovedRun(str(run.id), run.job_name, run.status, freed))

    def _remove_log(self, run: Run) -> int:
        path = worker_log_path(str(run.id))
        try:
            size = path.stat().st_size
            if not self.dry_run:
                path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def _remove_outputs(self, run: Run, held: set[str], kept: set[str], survivors: set[str]) -> int:
        """Remove the files of this run, and of deleted ancestors it reused, that no surviving run references."""
        store = open_output_store(run.output_store)
        if not isinstance(store, FsspecOutputStore):
            return 0  # memory:// outputs lived only in the process that ran the run
        kept_by_run: dict[str, list[str]] = {}
        for ref in kept:
            kept_by_run.setdefault(run_of_ref(ref), []).append(ref)
        directories = ({str(run.id)} | {run_of_ref(ref) for ref in held}) - survivors
        freed = 0
        for directory in sorted(directories):
            files = {path: size for path, size in store.unreferenced_files(directory, kept_by_run.get(directory, ())).items()
                     if path not in self._counted}
            if self.dry_run:
                self._counted.update(files)
            else:
                store.remove_files(directory, files)
            freed += sum(files.values())
        return freed


class RetentionSchedule:
    """When the daemon prunes: at its first check, then at most once per interval; never while retention is 0 days."""

    def __init__(self, interval_seconds: float = PRUNE_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.last_pruned: float | None = None

    def due(self) -> bool:
        if settings.DAGVIZ_RETENTION_DAYS <= 0:
            return False
        return self.last_pruned is None or self.clock() - self.last_pruned >= self.interval_seconds

    def prune_if_due(self) -> DeletionReport | None:
        """Prune runs older than ``DAGVIZ_RETENTION_DAYS`` if it is time; None if it was not."""
        if not self.due():
            return None
        self.last_pruned = self.clock()  # set first: a prune that fails is not retried at every check
        return prune_runs(timedelta(days=settings.DAGVIZ_RETENTION_DAYS))


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` as a timedelta."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidRetentionError(f"Invalid duration '{text}': give a whole number and a unit, "
                                    f"e.g. 30d, 12h, 90m, 45s or 2w.")
    return timedelta(**{DURATION_UNITS[match[2]]: int(match[1])})


def human_size(size: int) -> str:
    """``1536`` -> ``1.5 KiB``: the total a person reads next to the exact number of bytes."""
    value, unit = float(size), "B"
    for larger in SIZE_UNITS:
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
