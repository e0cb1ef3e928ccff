"""Reloading the server's workspace (runs/workspace.py): edited files, broken files, helpers, modules, and runs after a reload."""

from __future__ import annotations

import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from runs.models import RunStatus
from runs.services.launch import launch_run
from runs.workspace import get_workspace, reload_workspace
from tests.runs.support import assert_finished_as, output_of, wait_step

pytestmark = pytest.mark.django_db(transaction=True)

JOB = """
@job
def {name}():
    report()
"""


GATED = """
import time
from pathlib import Path
from dagviz import job, op

@op
def report():
    while not Path({gate!r}).exists():  # the test opens the gate once the file has changed
        time.sleep(0.02)
    return "old"

@job
def first():
    report()
"""


def jobs_source(*names: str, value: str = "'v1'", header: str = "") -> str:
    """A workspace file: ``report`` returns the expression ``value``; one job per name runs it."""
    head = f"from dagviz import job, op\n{header}\n\n@op\ndef report():\n    return {value}\n"
    return head + "".join(JOB.format(name=name) for name in names)


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def jobs_file(tmp_path, settings) -> Path:
    """``jobs.py`` in a fresh directory, the server's whole workspace, loaded once."""
    path = write(tmp_path / "jobs.py", jobs_source("first"))
    settings.DAGVIZ_WORKSPACE = [str(path)]
    assert sorted(get_workspace().jobs) == ["first"]
    return path


def test_a_job_added_to_the_file_is_served_after_a_reload_and_not_before(jobs_file):
    write(jobs_file, jobs_source("first", "second"))
    assert sorted(get_workspace().jobs) == ["first"]  # cached until someone reloads

    reloaded = reload_workspace()

    assert sorted(reloaded.jobs) == ["first", "second"] and not reloaded.errors
    assert get_workspace() is reloaded


def test_a_syntax_error_keeps_the_old_jobs_with_the_traceback_and_fixing_it_recovers(jobs_file):
    old = get_workspace().get("first")
    write(jobs_file, jobs_source("first", "second") + "\ndef broken(:\n")

    broken = reload_workspace()

    error = broken.errors[str(jobs_file)]
    assert "SyntaxError" in error and "Traceback" in error and f'File "{jobs_file}", line' in error
    assert broken.get("first") is old and sorted(broken.jobs) == ["first"]

    write(jobs_file, jobs_source("first", "second"))
    fixed = reload_workspace()
    assert not fixed.errors and sorted(fixed.jobs) == ["first", "second"]
    assert fixed.get("first") is not old


def test_a_helper_module_beside_the_file_is_imported_again(tmp_path, settings, monkeypatch):
    helper = f"reload_helper_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path / f"{helper}.py", "VALUE = 'h1'\n")
    path = write(tmp_path / "jobs.py", jobs_source("first", value=f"{helper}.VALUE", header=f"import {helper}"))
    settings.DAGVIZ_WORKSPACE = [str(path)]
    assert get_workspace().get("first").execute_in_process().output_for_node("report") == "h1"

    write(tmp_path / f"{helper}.py", "VALUE = 'h2'\n")
    reloaded = reload_workspace()

    assert reloaded.get("first").execute_in_process().output_for_node("report") == "h2"


def test_a_module_entry_and_the_modules_of_its_package_are_imported_again(tmp_path, settings, monkeypatch):
    package = f"reload_pkg_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path / package / "__init__.py", "")
    write(tmp_path / package / "values.py", "VALUE = 'm1'\n")
    write(tmp_path / package / "jobs.py",
          jobs_source("first", value="values.VALUE", header=f"from {package} import values"))
    settings.DAGVIZ_WORKSPACE = [f"{package}.jobs"]
    assert sorted(get_workspace().jobs) == ["first"]

    write(tmp_path / package / "values.py", "VALUE = 'm2'\n")
    write(tmp_path / package / "jobs.py",
          jobs_source("first", "second", value="values.VALUE", header=f"from {package} import values"))
    reloaded = reload_workspace()

    assert sorted(reloaded.jobs) == ["first", "second"] and not reloaded.errors
    assert reloaded.get("second").execute_in_process().output_for_node("report") == "m2"


def test_concurrent_reloads_each_serve_every_job(jobs_file):
    write(jobs_file, jobs_source("first", "second", header="import time\ntime.sleep(0.05)  # a slow import"))
    results: list[list[str]] = []

    def reload() -> None:
        workspace = reload_workspace()
        results.append(sorted(workspace.jobs) if not workspace.errors else list(workspace.errors.values()))

    threads = [threading.Thread(target=reload) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [["first", "second"]] * len(threads)


def test_a_run_launched_after_a_reload_runs_the_new_code_and_a_running_one_keeps_the_old(jobs_file):
    gate = jobs_file.parent / "gate"
    write(jobs_file, GATED.format(gate=str(gate)))
    reload_workspace()
    running = launch_run("first")
    wait_step(running.id, "report", "RUNNING")  # its worker has imported the file

    write(jobs_file, jobs_source("first", "second", value="'new'"))
    reload_workspace()
    gate.touch()
    after = launch_run("first")
    added = launch_run("second")

    assert output_of(assert_finished_as(running.id, RunStatus.SUCCESS), "report") == "old"
    assert output_of(assert_finished_as(after.id, RunStatus.SUCCESS), "report") == "new"
    assert output_of(assert_finished_as(added.id, RunStatus.SUCCESS), "report") == "new"


def test_a_job_kept_from_a_broken_file_is_listed_but_its_runs_fail_naming_the_load_error(jobs_file):
    write(jobs_file, jobs_source("first") + "\nraise ValueError('half-saved')\n")
    assert "first" in reload_workspace().jobs

    run = assert_finished_as(launch_run("first").id, RunStatus.FAILURE)

    assert "Unknown job 'first'" in run.failure_reason and str(jobs_file) in run.failure_reason
