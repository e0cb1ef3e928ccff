"""Run retention: deleting runs and pruning old ones, on real runs, real rows and real files.

A re-execution reads the outputs it reuses from the directories of the runs that wrote them, so
deleting a run of a family keeps the files the surviving runs still reference; the last deletion
of the family removes them.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from pathlib import Path

import fsspec
import pytest
from django.conf import settings

from dagviz.execution.reexecution import ReexecutionStrategy
from dagviz.storage.output_store import open_output_store, run_of_ref
from runs.errors import InvalidRetentionError, RunNotDeletableError, UnknownRunError
from runs.lifecycle import now
from runs.models import Event, Run, RunStatus, Step
from runs.services.launch import launch_run, worker_log_path
from runs.services.reexecution import reexecute
from runs.services.retention import (
    RetentionSchedule,
    delete_runs,
    human_size,
    parse_duration,
    prune_runs,
    refs_held,
)
from tests.runs.support import assert_finished_as, output_of, wait_step

pytestmark = pytest.mark.django_db(transaction=True)

FROM_FAILURE = ReexecutionStrategy.FROM_FAILURE
LETTERS_OUT = ["D!", "B!", "A!", "C!"]


# -- helpers ----------------------------------------------------------------------------------------------


def finished(job: str = "letters", expect: str = RunStatus.SUCCESS) -> Run:
    return assert_finished_as(launch_run(job).id, expect)


def reexecuted(parent: Run, expect: str, strategy=FROM_FAILURE, keys: list[str] | None = None) -> Run:
    return assert_finished_as(reexecute(str(parent.id), strategy, keys).id, expect)


def letters_family(control) -> tuple[Run, Run, Run]:
    """root (b and c fail) -> child (c fails again) -> grandchild (succeeds), each re-executed from failure.

    The grandchild reuses shout[d], shout[a] and the keys straight from the root, shout[b] from the child.
    """
    control.set(fail=["shout[b]", "shout[c]"])
    root = finished(expect=RunStatus.FAILURE)
    control.set(fail=["shout[c]"])
    child = reexecuted(root, RunStatus.FAILURE)
    control.set()
    grandchild = reexecuted(child, RunStatus.SUCCESS)
    owners = {run_of_ref(ref) for ref in refs_held([grandchild.id])}
    assert owners == {str(root.id), str(child.id), str(grandchild.id)}, owners
    return root, child, grandchild


def store_root(run: Run) -> Path:
    return Path(fsspec.core.url_to_fs(run.output_store)[1])


def run_directory(run: Run | str, store: Path) -> Path:
    return store / str(run.id if isinstance(run, Run) else run)


def disk_usage() -> int:
    """Bytes of every file dagviz keeps for runs: stored outputs and worker logs."""
    home = Path(settings.DAGVIZ_HOME)
    return sum(path.stat().st_size for folder in (home / "storage", home / "logs")
               for path in folder.rglob("*") if path.is_file())


def files_in(directory: Path) -> set[Path]:
    return {path for path in directory.rglob("*") if path.is_file()} if directory.exists() else set()


def rows_of(run_id) -> int:
    return sum(model.objects.filter(run_id=run_id).count() for model in (Step, Event)) \
        + Run.objects.filter(id=run_id).count()


def snapshot(run: Run) -> dict:
    """Everything a run has: its rows, its stored files' bytes and its log's bytes."""
    directory = run_directory(run, store_root(run))
    files = {path: path.read_bytes() for path in files_in(directory)}
    assert files, f"run {run.id} has no stored outputs to compare"
    return {
        "run": Run.objects.filter(id=run.id).values().get(),
        "steps": list(Step.objects.filter(run=run).order_by("id").values()),
        "events": list(Event.objects.filter(run=run).order_by("id").values()),
        "files": files,
        "log": worker_log_path(str(run.id)).read_bytes(),
    }


def assert_refs_load(run: Run) -> None:
    """Every output the run references (its own and those it reused) loads from a fresh store."""
    store = open_output_store(run.output_store)
    refs = refs_held([run.id])
    assert refs
    for ref in refs:
        store.get(ref)


def assert_gone(run: Run) -> None:
    assert rows_of(run.id) == 0
    assert not worker_log_path(str(run.id)).exists()


# -- deleting runs ---------------------------------------------------------------------------------------


def test_deleting_a_run_removes_its_rows_log_and_outputs_frees_that_space_and_touches_no_other_run():
    other = finished()
    run = finished()
    directory = run_directory(run, store_root(run))
    assert files_in(directory) and worker_log_path(str(run.id)).exists()
    expected = sum(path.stat().st_size for path in files_in(directory)) + worker_log_path(str(run.id)).stat().st_size
    before_other, before_usage = snapshot(other), disk_usage()

    report = delete_runs([str(run.id)])

    assert [(r.run_id, r.job, r.status) for r in report.deleted] == [(str(run.id), "letters", "SUCCESS")]
    assert report.bytes_freed == expected == before_usage - disk_usage()
    assert report.as_dict() == {"deleted": [{"run_id": str(run.id), "job": "letters", "status": "SUCCESS",
                                             "bytes_freed": expected}], "bytes_freed": expected, "dry_run": False}
    assert_gone(run)
    assert not directory.exists()
    assert snapshot(other) == before_other
    assert output_of(other, "gather_letters") == LETTERS_OUT


ORDERS = {
    "parent-first": ("root", "child", "grandchild"),
    "parent-then-grandchild": ("root", "grandchild", "child"),
    "child-first": ("child", "grandchild", "root"),
    "child-then-root": ("child", "root", "grandchild"),
    "grandchild-first": ("grandchild", "root", "child"),
    "grandchild-then-child": ("grandchild", "child", "root"),
}
assert set(ORDERS.values()) == set(itertools.permutations(("root", "child", "grandchild")))


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_a_family_deleted_in_any_order_keeps_every_survivor_readable_and_ends_with_nothing_on_disk(control, order):
    root, child, grandchild = letters_family(control)
    family = {"root": root, "child": child, "grandchild": grandchild}
    store = store_root(root)
    other = finished()
    before_other = snapshot(other)

    footprint = sum(path.stat().st_size for run in family.values() for path in files_in(run_directory(run, store))) \
        + sum(worker_log_path(str(run.id)).stat().st_size for run in family.values())
    assert footprint > 0

    survivors, freed = dict(family), 0
    for name in order:
        run = survivors.pop(name)
        usage = disk_usage()
        report = delete_runs([str(run.id)])
        assert [r.run_id for r in report.deleted] == [str(run.id)]
        assert report.bytes_freed == usage - disk_usage()
        freed += report.bytes_freed
        assert_gone(run)
        for survivor in survivors.values():
            assert_refs_load(survivor)
        # What is left of deleted runs is exactly what the survivors reference there.
        alive = {str(r.id) for r in survivors.values()}
        referenced = {ref for r in survivors.values() for ref in refs_held([r.id]) if run_of_ref(ref) not in alive}
        gone = [r for r in family.values() if str(r.id) not in alive]
        named = {Path(open_output_store(root.output_store).path_of(ref)) for ref in referenced}  # segments are shared
        assert set().union(*(files_in(run_directory(r, store)) for r in gone)) == named

    for run in family.values():
        assert not run_directory(run, store).exists()
    assert freed == footprint
    assert snapshot(other) == before_other


def test_runs_left_after_their_ancestors_are_deleted_still_re_execute_from_the_outputs_they_reuse(control):
    root, child, grandchild = letters_family(control)
    store = store_root(root)
    delete_runs([str(root.id)])

    # The child failed on c: its re-execution reuses d and a from the deleted root's files.
    rerun = reexecuted(child, RunStatus.SUCCESS)
    assert output_of(rerun, "gather_letters") == LETTERS_OUT
    assert str(root.id) in {run_of_ref(ref) for ref in refs_held([rerun.id])}

    delete_runs([str(child.id)])
    again = reexecuted(grandchild, RunStatus.SUCCESS, ReexecutionStrategy.SELECTED, ["shout[d]"])
    assert output_of(again, "gather_letters") == LETTERS_OUT

    report = delete_runs([str(grandchild.id), str(rerun.id), str(again.id)])
    assert len(report.deleted) == 3
    assert not any(run_directory(run, store).exists() for run in (root, child, grandchild, rerun, again))


def test_deleting_several_runs_of_a_family_at_once_removes_all_their_files(control):
    root, child, grandchild = letters_family(control)
    store = store_root(root)
    usage = disk_usage()
    report = delete_runs([str(grandchild.id), str(root.id), str(child.id)])
    assert [r.run_id for r in report.deleted] == [str(grandchild.id), str(root.id), str(child.id)]
    assert report.bytes_freed == usage - disk_usage()
    assert not any(run_directory(run, store).exists() for run in (root, child, grandchild))


def test_a_run_still_going_is_refused_with_terminate_it_first_and_nothing_is_deleted(control):
    other = finished()
    control.set(block=["shout[a]"])
    running = launch_run("letters")
    wait_step(running.id, "shout[a]", "RUNNING")
    with pytest.raises(RunNotDeletableError, match=rf"Run {running.id} is STARTED; terminate it first"):
        delete_runs([str(other.id), str(running.id)])
    control.set()
    assert_finished_as(running.id, RunStatus.SUCCESS)
    assert Run.objects.filter(id__in=[other.id, running.id]).count() == 2
    assert files_in(run_directory(other, store_root(other)))


def test_a_run_whose_family_has_a_run_going_is_refused_naming_that_run(control):
    control.set(fail=["shout[b]"])
    root = finished(expect=RunStatus.FAILURE)
    before = snapshot(root)
    control.set(block=["shout[b]"])
    child = reexecute(str(root.id), FROM_FAILURE)
    wait_step(child.id, "shout[b]", "RUNNING")
    with pytest.raises(RunNotDeletableError, match=rf"runs of its family are going .*: {child.id} \(STARTED\)"):
        delete_runs([str(root.id)])
    assert snapshot(root) == before

    control.set()
    assert_finished_as(child.id, RunStatus.SUCCESS)
    delete_runs([str(root.id)])
    assert output_of(Run.objects.get(id=child.id), "gather_letters") == LETTERS_OUT
    assert_refs_load(Run.objects.get(id=child.id))


def test_an_unknown_run_is_an_unknown_run_error_and_nothing_is_deleted():
    run = finished()
    missing = str(uuid.uuid4())
    with pytest.raises(UnknownRunError, match=f"Unknown run '{missing}'"):
        delete_runs([str(run.id), missing])
    with pytest.raises(UnknownRunError, match="Unknown run 'not-a-run-id'"):
        delete_runs(["not-a-run-id"])
    assert Run.objects.filter(id=run.id).exists() and files_in(run_directory(run, store_root(run)))


# -- pruning ---------------------------------------------------------------------------------------------


def age(run: Run, days: float, *, ended: bool = True) -> None:
    """Make the run look as if it finished (or, ``ended=False``, was created and never ended) ``days`` ago."""
    moment = now() - timedelta(days=days)
    if ended:
        Run.objects.filter(id=run.id).update(ended_at=moment)
    else:
        Run.objects.filter(id=run.id).update(ended_at=None, created_at=moment)


def removed_ids(report) -> set[str]:
    return {r.run_id for r in report.deleted}


def test_prune_deletes_only_finished_runs_older_than_the_age(control):
    old, recent = finished(), finished()
    control.set(fail=["shout[a]"])
    old_failure, never_ended = finished(expect=RunStatus.FAILURE), finished(expect=RunStatus.FAILURE)
    age(old, 31)
    age(old_failure, 40)
    age(recent, 29)
    age(never_ended, 45, ended=False)
    usage = disk_usage()

    report = prune_runs(timedelta(days=30))

    assert [r.run_id for r in report.deleted] == [str(never_ended.id), str(old_failure.id), str(old.id)]  # oldest first
    assert report.bytes_freed == usage - disk_usage() > 0 and not report.dry_run
    assert Run.objects.filter(id=recent.id).exists()
    for run in (old, old_failure, never_ended):
        assert_gone(run)


def test_prune_with_statuses_deletes_only_runs_that_finished_so(control):
    success = finished()
    control.set(fail=["shout[a]"])
    failure = finished(expect=RunStatus.FAILURE)
    age(success, 10)
    age(failure, 10)
    assert removed_ids(prune_runs(timedelta(days=1), [RunStatus.FAILURE])) == {str(failure.id)}
    assert Run.objects.filter(id=success.id).exists()
    with pytest.raises(InvalidRetentionError, match="Cannot prune runs that are STARTED: only finished runs"):
        prune_runs(timedelta(days=1), ["STARTED"])


def test_a_dry_run_removes_nothing_and_reports_what_the_prune_then_removes(control):
    root, child, grandchild = letters_family(control)
    # A second family whose root has outputs its child does not reuse: they are freed with the root,
    # and must not be counted again when the child (which reuses the root's other outputs) goes.
    other_root = finished()
    other_child = reexecuted(other_root, RunStatus.SUCCESS, ReexecutionStrategy.SELECTED, ["shout[d]"])
    for run in (root, child, grandchild, other_root, other_child):
        age(run, 3)
    kept = finished()
    usage, rows = disk_usage(), Run.objects.count() + Step.objects.count() + Event.objects.count()

    preview = prune_runs(timedelta(days=2), dry_run=True)

    assert preview.dry_run and removed_ids(preview) == {
        str(run.id) for run in (root, child, grandchild, other_root, other_child)}
    assert disk_usage() == usage and Run.objects.count() + Step.objects.count() + Event.objects.count() == rows
    assert preview.lines()[0].startswith(f"would remove run {root.id}  letters  FAILURE  ")
    assert preview.lines()[-1] == f"would free {preview.bytes_freed} bytes ({human_size(preview.bytes_freed)})"

    report = prune_runs(timedelta(days=2))
    assert report.deleted == preview.deleted  # the same runs, in the same order, with the same bytes each
    assert report.bytes_freed == usage - disk_usage()
    assert Run.objects.filter(id=kept.id).exists()


def test_prune_leaves_a_run_whose_family_has_a_run_going_for_a_later_prune(control):
    control.set(fail=["shout[b]"])
    root = finished(expect=RunStatus.FAILURE)
    age(root, 5)
    control.set(block=["shout[b]"])
    child = reexecute(str(root.id), FROM_FAILURE)
    wait_step(child.id, "shout[b]", "RUNNING")
    assert prune_runs(timedelta(days=1)).deleted == []
    control.set()
    child = assert_finished_as(child.id, RunStatus.SUCCESS)
    assert removed_ids(prune_runs(timedelta(days=1))) == {str(root.id)}
    assert_refs_load(child)


@pytest.mark.parametrize("text, expected", [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
    ("45s", timedelta(seconds=45)), ("2w", timedelta(weeks=2)), ("0d", timedelta(0)),
])
def test_durations_are_a_whole_number_and_a_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "d", "1.5d", "30 days", "-3d", "3y", ""])
def test_any_other_duration_is_a_clear_error(text):
    with pytest.raises(InvalidRetentionError, match=f"Invalid duration '{text}': .* e.g. 30d, 12h, 90m, 45s or 2w"):
        parse_duration(text)


def test_human_sizes():
    assert [human_size(n) for n in (0, 1023, 1536, 80 * 1024 ** 2, 3 * 1024 ** 3)] == [
        "0 B", "1023 B", "1.5 KiB", "80.0 MiB", "3.0 GiB"]


# -- the daemon's retention ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_the_daemon_prunes_at_start_then_at_most_once_an_hour(settings):
    settings.DAGVIZ_RETENTION_DAYS = 7
    clock = Clock()
    schedule = RetentionSchedule(clock=clock)
    first, second = finished(), finished()
    age(first, 8)

    assert removed_ids(schedule.prune_if_due()) == {str(first.id)}
    age(second, 8)
    clock.seconds += 59 * 60
    assert schedule.prune_if_due() is None
    assert Run.objects.filter(id=second.id).exists()
    clock.seconds += 60
    assert removed_ids(schedule.prune_if_due()) == {str(second.id)}


def test_the_daemon_keeps_every_run_when_retention_is_0_days(settings):
    settings.DAGVIZ_RETENTION_DAYS = 0
    run = finished()
    age(run, 10_000)
    schedule = RetentionSchedule(clock=Clock())
    assert schedule.prune_if_due() is None
    assert Run.objects.filter(id=run.id).exists()
