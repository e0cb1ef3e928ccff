"""The runs commands as users call them (``python -m django ...`` in a new process): JSON, exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from runs.models import Event, Run, RunStatus, Step
from runs.services.launch import database_url_for_workers, launch_run
from runs.services.reexecution import plan_reexecution
from tests.runs.support import assert_finished_as, statuses, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

RUN_KEYS = {"run_id", "status"}
SHOW_KEYS = {"run_id", "job", "status", "parent_run_id", "root_run_id", "steps"}
STEP_KEYS = {"key", "node", "mapping_keys", "status", "attempts", "duration_ms", "error"}
UNKNOWN_RUN = "00000000-0000-0000-0000-000000000000"


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dagviz.server.settings",
        "DATABASE_URL": database_url_for_workers(),
        "DAGVIZ_HOME": str(settings.DAGVIZ_HOME),
        "DAGVIZ_WORKSPACE": ",".join(settings.DAGVIZ_WORKSPACE),
    }
    return subprocess.run([sys.executable, "-m", "django", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def one_json_object(result: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON object (and nothing else)."""
    text = result.stdout.strip()
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(text)
    assert end == len(text), f"more than one JSON value on stdout: {result.stdout!r}"
    assert isinstance(data, dict), data
    return data


def assert_bad_input(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


def nothing_written() -> tuple[int, int, int]:
    return Run.objects.count(), Step.objects.count(), Event.objects.count()


# -- launch -------------------------------------------------------------------------------------------


def test_launch_wait_json_prints_the_final_status_and_exits_0():
    result = manage("launch", "letters", "--config", '{"ops": {"emit_letters": {"config": {"keys": ["x", "y"]}}}}',
                    "--wait", "--json")
    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert set(data) == RUN_KEYS and data["status"] == "SUCCESS"
    run = Run.objects.get(id=data["run_id"])
    assert run.status == RunStatus.SUCCESS and run.job_name == "letters"
    assert set(statuses(run)) == {"emit_letters", "shout[x]", "shout[y]", "gather_letters"}


def test_launch_wait_exits_1_when_the_run_fails(control):
    control.set(fail=["shout[a]"])
    result = manage("launch", "letters", "--wait", "--json")
    assert result.returncode == 1, result.stderr
    data = one_json_object(result)
    assert data["status"] == "FAILURE" and Run.objects.get(id=data["run_id"]).status == RunStatus.FAILURE


def test_launch_without_wait_returns_at_once_and_the_run_goes_on(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("ops:\n  emit_letters:\n    config:\n      keys: [m]\n")
    result = manage("launch", "letters", "--config", str(config), "--executor", "in_process", "--json")
    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert data["status"] in ("QUEUED", "STARTING", "STARTED")
    run = assert_finished_as(data["run_id"], RunStatus.SUCCESS)
    assert run.run_config == {"ops": {"emit_letters": {"config": {"keys": ["m"]}}}}
    assert "shout[m]" in statuses(run)

    text = manage("launch", "letters", "--config", str(config))
    assert text.returncode == 0 and text.stdout.startswith("Run ") and "letters" in text.stdout
    wait_finished(text.stdout.split()[1])


@pytest.mark.parametrize("args, words", [
    (["launch", "no_such_job", "--json"], ["no_such_job"]),
    (["launch", "letters", "--config", '{"ops": {"emit_letters": {"config": {"keys": 3}}}}'], ["letters", "keys"]),
    (["launch", "letters", "--config", '{"ops": {"emit_letters": {"config": {"keys": ["a"], "x": 1}, "y": 2}}}'],
     ["letters"]),
    (["launch", "letters", "--config", "missing.yaml"], ["missing.yaml"]),
    (["launch", "letters", "--config", "{not json"], ["YAML"]),
])
def test_launch_with_bad_input_exits_2_with_one_line_and_writes_nothing(args, words):
    assert_bad_input(manage(*args), *words)
    assert nothing_written() == (0, 0, 0)


# -- reexecute ----------------------------------------------------------------------------------------


def test_reexecute_preview_then_from_failure_keys_and_all(control):
    control.set(fail=["shout[b]"])
    parent = assert_finished_as(launch_run("letters").id, RunStatus.FAILURE)
    control.set()

    preview = manage("reexecute", str(parent.id), "--from-failure", "--preview", "--json")
    assert preview.returncode == 0, preview.stderr
    data = one_json_object(preview)
    assert set(data) == {"to_execute", "reused", "steps"}
    plan = plan_reexecution(str(parent.id), "FROM_FAILURE")
    assert {"to_execute": data["to_execute"], "reused": data["reused"]} == {"to_execute": plan.to_execute,
                                                                           "reused": plan.reused}
    assert set(data["to_execute"]) == {"shout[b]", "gather_letters"}
    assert data["steps"] == [{"step_key": key, "reason": {"shout[b]": "failed in parent",
                                                         "gather_letters": "skipped in parent"}[key]}
                             for key in data["to_execute"]] + \
        [{"step_key": key, "reason": "reused from parent"} for key in data["reused"]]
    text = manage("reexecute", str(parent.id), "--from-failure", "--preview")
    assert text.returncode == 0, text.stderr
    assert "why:\n  failed in parent (1): shout[b]\n  skipped in parent (1): gather_letters\n" \
        "  reused from parent (4): " in text.stdout
    assert Run.objects.count() == 1  # a preview launches nothing

    result = manage("reexecute", str(parent.id), "--from-failure", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    child = one_json_object(result)
    assert set(child) == RUN_KEYS and child["status"] == "SUCCESS"
    child_run = Run.objects.get(id=child["run_id"])
    assert child_run.parent_run_id == parent.id and child_run.root_run_id == parent.id
    assert sorted(control.ran(child_run.id)) == ["gather_letters", "shout[b]"]

    keys = manage("reexecute", child["run_id"], "--keys", "shout[a],shout[?]", "--preview", "--json")
    assert set(one_json_object(keys)["to_execute"]) == {"shout[d]", "shout[b]", "shout[a]", "shout[c]"}
    from_keys = manage("reexecute", child["run_id"], "--from-keys", "shout[a]", "--preview", "--json")
    assert set(one_json_object(from_keys)["to_execute"]) == {"shout[a]", "gather_letters"}
    assert [step for step in one_json_object(from_keys)["steps"] if step["reason"] != "reused from parent"] == [
        {"step_key": "shout[a]", "reason": "selected"}, {"step_key": "gather_letters", "reason": "downstream of selected"}]

    selected = manage("reexecute", child["run_id"], "--keys", "shout[a], gather_letters", "--wait", "--json")
    assert selected.returncode == 0, selected.stderr
    selected_run = Run.objects.get(id=one_json_object(selected)["run_id"])
    assert selected_run.step_selection == {"strategy": "SELECTED", "step_keys": ["shout[a]", "gather_letters"]}
    assert selected_run.root_run_id == parent.id
    assert sorted(control.ran(selected_run.id)) == ["gather_letters", "shout[a]"]

    everything = manage("reexecute", str(parent.id), "--all", "--json")
    assert everything.returncode == 0, everything.stderr
    data = one_json_object(everything)
    assert data["status"] in ("QUEUED", "STARTING", "STARTED")
    assert assert_finished_as(data["run_id"], RunStatus.SUCCESS).step_selection["strategy"] == "ALL"


def test_reexecute_wait_exits_1_when_the_re_execution_fails(control):
    control.set(fail=["shout[b]"])
    parent = assert_finished_as(launch_run("letters").id, RunStatus.FAILURE)
    result = manage("reexecute", str(parent.id), "--from-failure", "--wait", "--json")
    assert result.returncode == 1, result.stderr
    assert one_json_object(result)["status"] == "FAILURE"


BAD_REEXECUTIONS = [
    (["--keys", "nope[a]"], ["nope"]),
    (["--keys", "shout[zz]"], ["shout[zz]"]),
    (["--keys", "shout"], ["shout"]),
    (["--keys", "shout[a"], ["shout[a"]),
    (["--from-failure"], ["succeeded"]),
    (["--from-failure", "--preview"], ["succeeded"]),
]


def test_reexecute_with_bad_step_keys_exits_2_and_launches_nothing():
    parent = assert_finished_as(launch_run("letters").id, RunStatus.SUCCESS)
    before = nothing_written()
    for args, words in BAD_REEXECUTIONS:
        assert_bad_input(manage("reexecute", str(parent.id), *args), *words)
    assert nothing_written() == before
    # The same parent with a valid selection is fine (so the errors above are about the keys).
    valid = manage("reexecute", str(parent.id), "--keys", "shout[a]", "--preview", "--json")
    assert valid.returncode == 0 and one_json_object(valid)["to_execute"] == ["shout[a]"]
    assert nothing_written() == before


@pytest.mark.parametrize("args", [
    ["reexecute", UNKNOWN_RUN, "--all"],
    ["reexecute", "not-a-run-id", "--from-failure", "--preview"],
    ["show_run", UNKNOWN_RUN, "--json"],
    ["terminate", UNKNOWN_RUN],
])
def test_unknown_runs_exit_2_with_one_line(args):
    assert_bad_input(manage(*args), args[1])
    assert nothing_written() == (0, 0, 0)


# -- show_run, runs, terminate --------------------------------------------------------------------------


def test_show_run_json_has_the_documented_shape(control):
    control.set(fail=["shout[a]"])
    parent = assert_finished_as(launch_run("letters").id, RunStatus.FAILURE)
    result = manage("show_run", str(parent.id), "--json")
    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert SHOW_KEYS <= set(data), data.keys()
    assert (data["run_id"], data["job"], data["status"]) == (str(parent.id), "letters", "FAILURE")
    assert data["parent_run_id"] is None and data["root_run_id"] is None
    assert all(set(step) == STEP_KEYS for step in data["steps"]), data["steps"]
    by_key = {step["key"]: step for step in data["steps"]}
    assert set(by_key) == {"emit_letters", "shout[d]", "shout[b]", "shout[a]", "shout[c]", "gather_letters"}
    assert [s["key"] for s in data["steps"] if s["node"] == "shout"] == ["shout[d]", "shout[b]", "shout[a]", "shout[c]"]
    failed = by_key["shout[a]"]
    assert (failed["status"], failed["attempts"], failed["mapping_keys"]) == ("FAILURE", 1, ["a"])
    assert failed["error"] == "shout[a] failed on purpose"
    assert isinstance(by_key["shout[d]"]["duration_ms"], (int, float)) and by_key["shout[d]"]["duration_ms"] >= 0
    assert by_key["gather_letters"] == {"key": "gather_letters", "node": "gather_letters", "mapping_keys": [],
                                        "status": "SKIPPED", "attempts": 0, "duration_ms": None, "error": None}

    control.set()
    child = manage("reexecute", str(parent.id), "--from-failure", "--wait", "--json")
    child_id = one_json_object(child)["run_id"]
    shown = one_json_object(manage("show_run", child_id, "--json"))
    assert (shown["parent_run_id"], shown["root_run_id"], shown["status"]) == (str(parent.id), str(parent.id), "SUCCESS")
    assert {s["key"]: s["status"] for s in shown["steps"]}["shout[d]"] == "REUSED"


def test_runs_lists_newest_first_and_filters_by_status(settings, control):
    control.set(fail=["shout[a]"])
    failed = assert_finished_as(launch_run("letters").id, RunStatus.FAILURE)
    control.set()
    ok = assert_finished_as(launch_run("letters").id, RunStatus.SUCCESS)
    data = one_json_object(manage("runs", "--json"))
    assert set(data) == {"runs"}
    assert [row["run_id"] for row in data["runs"]] == [str(ok.id), str(failed.id)]
    assert data["runs"][0]["job"] == "letters" and data["runs"][0]["status"] == "SUCCESS"
    only_failed = one_json_object(manage("runs", "--status", "FAILURE", "--json"))
    assert [row["run_id"] for row in only_failed["runs"]] == [str(failed.id)]
    assert one_json_object(manage("runs", "--status", "CANCELED", "--json")) == {"runs": []}


def test_terminate_cancels_a_queued_run_and_refuses_a_finished_one(settings):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    queued = launch_run("letters")
    result = manage("terminate", str(queued.id), "--json")
    assert result.returncode == 0, result.stderr
    assert one_json_object(result) == {"run_id": str(queued.id), "status": "CANCELED"}
    assert Run.objects.get(id=queued.id).status == RunStatus.CANCELED
    assert_bad_input(manage("terminate", str(queued.id)), str(queued.id), "CANCELED")
