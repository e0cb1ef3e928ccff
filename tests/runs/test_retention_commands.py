"""``manage.py runs delete`` and ``runs prune`` as users call them (a new process), and ``runs`` still listing runs."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import fsspec
import pytest
from django.core.management import call_command

from runs.lifecycle import now
from runs.models import Run, RunStatus
from runs.services.launch import launch_run, worker_log_path
from runs.services.retention import human_size
from tests.runs.support import assert_finished_as, wait_step
from tests.runs.test_commands import assert_bad_input, manage, one_json_object

pytestmark = pytest.mark.django_db(transaction=True)

DELETION_KEYS = {"deleted", "bytes_freed", "dry_run"}
REMOVED_KEYS = {"run_id", "job", "status", "bytes_freed"}


def finished(expect: str = RunStatus.SUCCESS) -> Run:
    return assert_finished_as(launch_run("letters").id, expect)


def stored_files(run: Run) -> list[Path]:
    directory = Path(fsspec.core.url_to_fs(run.output_store)[1]) / str(run.id)
    return [path for path in directory.rglob("*") if path.is_file()] if directory.exists() else []


def footprint(run: Run) -> int:
    return sum(path.stat().st_size for path in stored_files(run)) + worker_log_path(str(run.id)).stat().st_size


def ended_days_ago(run: Run, days: int) -> None:
    Run.objects.filter(id=run.id).update(ended_at=now() - timedelta(days=days))


def test_delete_json_lists_each_run_removed_with_the_bytes_freed():
    first, second, other = finished(), finished(), finished()
    sizes = {str(run.id): footprint(run) for run in (first, second)}

    result = manage("runs", "delete", str(first.id), str(second.id), "--json")

    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert set(data) == DELETION_KEYS and data["dry_run"] is False
    assert all(set(row) == REMOVED_KEYS for row in data["deleted"])
    assert [(row["run_id"], row["job"], row["status"], row["bytes_freed"]) for row in data["deleted"]] == [
        (run_id, "letters", "SUCCESS", size) for run_id, size in sizes.items()]
    assert data["bytes_freed"] == sum(sizes.values()) > 0
    assert not Run.objects.filter(id__in=[first.id, second.id]).exists()
    assert not stored_files(first) and not stored_files(second)
    assert Run.objects.filter(id=other.id).exists() and stored_files(other)


def test_delete_prints_each_run_and_the_total_in_bytes_and_a_human_size():
    run = finished()
    size = footprint(run)
    result = manage("runs", "delete", str(run.id))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"removed run {run.id}  letters  SUCCESS  {size} bytes",
                                          f"freed {size} bytes ({human_size(size)})"]


def test_delete_of_an_unknown_run_or_of_a_run_still_going_exits_2_and_deletes_nothing(control):
    run = finished()
    missing = str(uuid.uuid4())
    assert_bad_input(manage("runs", "delete", str(run.id), missing), "Unknown run", missing)
    control.set(block=["shout[a]"])
    going = launch_run("letters")
    wait_step(going.id, "shout[a]", "RUNNING")
    assert_bad_input(manage("runs", "delete", str(run.id), str(going.id), "--json"), str(going.id),
                     "terminate it first")
    control.set()
    assert_finished_as(going.id, RunStatus.SUCCESS)
    assert Run.objects.filter(id__in=[run.id, going.id]).count() == 2 and stored_files(run)


def test_prune_json_deletes_finished_runs_older_than_the_age_of_the_given_statuses(control):
    old_success, recent = finished(), finished()
    control.set(fail=["shout[a]"])
    old_failure = finished(RunStatus.FAILURE)
    for run in (old_success, old_failure):
        ended_days_ago(run, 31)
    ended_days_ago(recent, 20)

    result = manage("runs", "prune", "--older-than", "30d", "--status", "FAILURE", "--json")
    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert [row["run_id"] for row in data["deleted"]] == [str(old_failure.id)] and data["dry_run"] is False
    assert data["bytes_freed"] == data["deleted"][0]["bytes_freed"] > 0

    result = manage("runs", "prune", "--older-than", "4w", "--status", "SUCCESS", "--status", "FAILURE", "--json")
    assert [row["run_id"] for row in one_json_object(result)["deleted"]] == [str(old_success.id)]
    assert set(Run.objects.values_list("id", flat=True)) == {recent.id}


def test_prune_dry_run_says_what_it_would_remove_and_removes_nothing():
    run = finished()
    ended_days_ago(run, 2)
    size = footprint(run)

    result = manage("runs", "prune", "--older-than", "1d", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"would remove run {run.id}  letters  SUCCESS  {size} bytes",
                                          f"would free {size} bytes ({human_size(size)})"]
    data = one_json_object(manage("runs", "prune", "--older-than", "1d", "--dry-run", "--json"))
    assert data == {"deleted": [{"run_id": str(run.id), "job": "letters", "status": "SUCCESS", "bytes_freed": size}],
                    "bytes_freed": size, "dry_run": True}
    assert Run.objects.filter(id=run.id).exists() and footprint(run) == size


def test_prune_with_nothing_old_enough_frees_0_bytes():
    finished()
    result = manage("runs", "prune", "--older-than", "12h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["freed 0 bytes (0 B)"]


@pytest.mark.parametrize("age", ["30", "30x", "1.5d", "thirty days"])
def test_prune_with_an_age_that_is_not_a_duration_exits_2_naming_it(age):
    assert_bad_input(manage("runs", "prune", "--older-than", age), f"Invalid duration '{age}'", "30d, 12h, 90m, 45s or 2w")


def test_runs_without_a_subcommand_still_lists_runs():
    run = finished()
    result = manage("runs", "--status", "SUCCESS", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["run_id"] for row in one_json_object(result)["runs"]] == [str(run.id)]
    assert re.match(rf"{run.id}  SUCCESS", manage("runs").stdout)


def test_the_subcommands_work_through_call_command_too():
    kept, deleted = finished(), finished()
    listing = io.StringIO()
    call_command("runs", "--json", stdout=listing)
    assert {row["run_id"] for row in json.loads(listing.getvalue())["runs"]} == {str(kept.id), str(deleted.id)}
    output = io.StringIO()
    call_command("runs", "delete", str(deleted.id), "--json", stdout=output)
    assert [row["run_id"] for row in json.loads(output.getvalue())["deleted"]] == [str(deleted.id)]
    output = io.StringIO()
    call_command("runs", "prune", "--older-than", "0s", "--dry-run", "--json", stdout=output)
    assert [row["run_id"] for row in json.loads(output.getvalue())["deleted"]] == [str(kept.id)]
    assert set(Run.objects.values_list("id", flat=True)) == {kept.id}


def test_the_monitor_prunes_runs_older_than_the_retention_days_and_says_so(monkeypatch):
    old, recent = finished(), finished()
    ended_days_ago(old, 8)
    size = footprint(old)
    monkeypatch.setenv("DAGVIZ_RETENTION_DAYS", "7")
    result = manage("monitor_runs", "--once")
    assert result.returncode == 0, result.stderr
    assert f"Retention: removed run {old.id}  letters  SUCCESS  {size} bytes" in result.stdout.splitlines()
    assert set(Run.objects.values_list("id", flat=True)) == {recent.id}


def test_the_monitor_keeps_every_run_when_retention_is_0_days(monkeypatch):
    run = finished()
    ended_days_ago(run, 10_000)
    monkeypatch.setenv("DAGVIZ_RETENTION_DAYS", "0")
    result = manage("monitor_runs", "--once")
    assert result.returncode == 0, result.stderr
    assert "Retention" not in result.stdout
    assert Run.objects.filter(id=run.id).exists()
