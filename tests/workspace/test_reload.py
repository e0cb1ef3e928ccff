"""Reloading a workspace in a long-lived process (dagviz/workspace.py): what is imported again, what is kept, what is watched."""

from __future__ import annotations

import json.decoder
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml.constructor

import dagviz
import dagviz.definitions.graph
import dagviz.examples
from dagviz.workspace import Workspace, drop_workspace_modules, watch_paths

JOBS = """
from dagviz import job, op

@op
def report():
    return {value!r}

@job
def {name}():
    report()
"""


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def output(workspace: Workspace, job: str) -> object:
    return workspace.get(job).execute_in_process().output_for_node("report")


@pytest.fixture(autouse=True)
def keep_sys_modules():
    """Put back whatever a test dropped, so that a broken rule cannot break the tests after it."""
    saved = dict(sys.modules)
    yield
    for name, module in saved.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:
                setattr(sys.modules[parent], child, module)


def test_watch_paths_are_a_files_directory_a_packages_directory_and_a_plain_modules_directory(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path / "files" / "my_jobs.py", "")
    write(tmp_path / "watch_pkg_a" / "__init__.py", "raise RuntimeError('user code must not run to find the path')")
    write(tmp_path / "watch_pkg_a" / "jobs.py", "")
    write(tmp_path / "modules" / "watch_plain_a.py", "")
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))

    paths = watch_paths([str(tmp_path / "files" / "my_jobs.py"), "watch_pkg_a", "watch_pkg_a.jobs",
                         "watch_plain_a", "no_such_module_anywhere", str(tmp_path / "files" / "more.py")])

    assert paths == [tmp_path / "files", tmp_path / "watch_pkg_a", tmp_path / "modules"]
    assert "watch_pkg_a" not in sys.modules  # found on the path, never imported
    assert watch_paths(["dagviz.examples"]) == [Path(dagviz.__file__).parent / "examples"]


def test_an_edited_file_is_imported_again_and_a_new_job_appears(tmp_path):
    path = write(tmp_path / "jobs.py", JOBS.format(name="first", value="v1"))
    before = Workspace.from_entries([str(path)])
    path.write_text(textwrap.dedent(JOBS.format(name="first", value="v2") + JOBS.format(name="second", value="v2")))

    after = before.reload([str(path)])

    assert sorted(after.jobs) == ["first", "second"] and not after.errors
    assert output(after, "first") == "v2"
    assert output(before, "first") == "v1"  # what was loaded before keeps its code


def test_an_edit_within_the_same_second_and_size_is_not_hidden_by_cached_bytecode(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as for users; CI may export PYTHONDONTWRITEBYTECODE
    path = write(tmp_path / "jobs.py", JOBS.format(name="first", value="v1"))
    stat = path.stat()
    workspace = Workspace.from_entries([str(path)])
    path.write_text(textwrap.dedent(JOBS.format(name="first", value="v2")))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # what a .pyc's validation sees: nothing changed

    assert output(workspace.reload([str(path)]), "first") == "v2"


def test_invalid_definitions_keep_the_previous_jobs_until_they_are_valid_again(tmp_path):
    good = """
    from dagviz import Definitions, job, op

    @op
    def report():
        return "ok"

    @job
    def alpha():
        report()

    defs = Definitions(jobs=[alpha])
    """
    path = write(tmp_path / "defs.py", good)
    workspace = Workspace.from_entries([str(path)])
    write(path, textwrap.dedent(good) + "\n@job(name='alpha')\ndef alpha_again():\n    report()\n\ndefs = Definitions(jobs=[alpha, alpha_again])\n")

    broken = workspace.reload([str(path)])

    assert "Duplicate job definition found for job 'alpha'" in broken.errors[str(path)]
    assert "shown as last loaded" in broken.errors[str(path)] and broken.errors[str(path)].endswith(": alpha.")
    assert broken.get("alpha") is workspace.get("alpha") and broken.pointers == workspace.pointers

    write(path, good)
    fixed = broken.reload([str(path)])
    assert not fixed.errors and fixed.get("alpha") is not workspace.get("alpha")


def test_only_the_failing_entry_keeps_its_old_jobs_and_a_first_load_that_fails_has_none(tmp_path):
    one = write(tmp_path / "one" / "jobs.py", JOBS.format(name="one", value="v1"))
    two = write(tmp_path / "two" / "jobs.py", JOBS.format(name="two", value="v1"))
    workspace = Workspace.from_entries([str(one), str(two)])
    write(one, JOBS.format(name="one", value="v2") + "\nraise ValueError('half-saved')\n")
    write(two, JOBS.format(name="two", value="v2"))

    reloaded = workspace.reload([str(one), str(two)])

    assert list(reloaded.errors) == [str(one)] and "ValueError: half-saved" in reloaded.errors[str(one)]
    assert (output(reloaded, "one"), output(reloaded, "two")) == ("v1", "v2")
    first = Workspace().reload([str(one)])
    assert first.jobs == {} and "ValueError: half-saved" in first.errors[str(one)]


def test_a_module_entry_drops_its_submodules_but_never_dagvizs_own_modules():
    examples = sys.modules["dagviz.examples"]

    dropped = drop_workspace_modules(["dagviz.examples"])

    assert "dagviz.examples" in dropped and "dagviz.examples.flaky_fanout" in dropped
    assert all(name == "dagviz.examples" or name.startswith("dagviz.examples.") for name in dropped), dropped
    assert sys.modules["dagviz.definitions.graph"] is dagviz.definitions.graph
    assert "flaky_fanout" in Workspace.from_entries(["dagviz.examples"]).jobs
    assert sys.modules["dagviz.examples"] is not examples


@pytest.mark.parametrize("neighbour", [json.decoder, yaml.constructor, dagviz.definitions.graph],
                         ids=["stdlib", "site-packages", "dagviz"])
def test_a_file_beside_installed_or_dagviz_code_never_drops_that_code(neighbour):
    directory = Path(neighbour.__file__).resolve().parent.parent  # the directory holding the package
    entry = str(directory / "a_workspace_file_that_is_not_there.py")

    assert watch_paths([entry]) == [directory]
    assert drop_workspace_modules([entry]) == []
    assert sys.modules[neighbour.__name__] is neighbour
