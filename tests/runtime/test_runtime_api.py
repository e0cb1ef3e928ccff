"""Dagster's runtime API on dagviz: reconstructable jobs, instances that keep runs, execute_job and re-execution."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import dagviz
from dagviz import (
    DagsterExecutionStepNotFoundError,
    DagsterInstance,
    DagsterInvariantViolationError,
    DagsterRunNotFoundError,
    DagsterRunStatus,
    ReexecutionOptions,
    execute_job,
    instance_for_test,
    job,
    reconstructable,
)
from tests.runtime import jobs
from tests.runtime.jobs import fail_on

IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def started(result) -> list[str]:
    return [event.step_key for event in result.all_events if event.is_step_start]


@pytest.fixture
def instance():
    with instance_for_test() as test_instance:
        yield test_instance


def run(instance, run_config=IN_PROCESS, target=jobs.fanout, **kwargs):
    return execute_job(reconstructable(target), instance=instance, run_config=run_config, **kwargs)


def reexecute(instance, parent_run_id, step_selection, run_config=IN_PROCESS):
    return run(instance, run_config, reexecution_options=ReexecutionOptions(parent_run_id, step_selection))


# -- importing ---------------------------------------------------------------------------------------


def test_importing_dagviz_does_not_import_django():
    code = "import dagviz, sys; print('django' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


# -- reconstructable ---------------------------------------------------------------------------------


def test_reconstructable_job_points_at_its_module_and_gives_the_job_back():
    recon = reconstructable(jobs.fanout)
    assert (recon.pointer.module, recon.job_name) == ("tests.runtime.jobs", "fanout")
    assert recon.get_definition() is jobs.fanout


def test_reconstructable_factory_is_loaded_again_by_calling_it():
    recon = reconstructable(jobs.define_fanout_job)
    assert recon.job_name == "fanout_from_factory"
    assert recon.pointer.load().name == "fanout_from_factory"


def test_job_defined_inside_a_function_is_not_reconstructable():
    @job
    def inner_job():
        jobs.emit()

    with pytest.raises(DagsterInvariantViolationError, match='Reconstructable target "inner_job" is not defined at module scope'):
        reconstructable(inner_job)


def test_nested_factory_lambda_and_other_values_are_refused_with_dagsters_sentences():
    def define_job():
        return jobs.fanout

    with pytest.raises(DagsterInvariantViolationError, match=re.escape(
            'Reconstructable target "define_job" has a different __qualname__ '
            '"test_nested_factory_lambda_and_other_values_are_refused_with_dagsters_sentences.<locals>.define_job" '
            "indicating it is not defined at module scope.")):
        reconstructable(define_job)
    with pytest.raises(DagsterInvariantViolationError, match="Reconstructable target can not be a lambda."):
        reconstructable(lambda: jobs.fanout)
    with pytest.raises(DagsterInvariantViolationError, match=re.escape(
            "Reconstructable target should be a function or definition produced by a decorated function, "
            "got <class 'int'>.")):
        reconstructable(42)


# -- execute_job and the instance's records ------------------------------------------------------------


def test_execute_job_records_the_run_with_its_status_tags_and_config(instance):
    with run(instance, tags={"owner": "me"}) as result:
        assert result.success
        assert result.output_for_node("total") == "aabbcc"
    record = instance.get_run_by_id(result.run_id)
    assert record.status == DagsterRunStatus.SUCCESS
    assert record.tags == {"team": "data", "owner": "me"}  # the job's tags, then the run's
    assert record.run_config == IN_PROCESS
    assert (record.job_name, record.parent_run_id, record.root_run_id) == ("fanout", None, None)
    assert [listed.run_id for listed in instance.get_runs()] == [result.run_id]


def test_ops_see_the_tags_given_to_execute_job(instance):
    with run(instance, target=jobs.reads_its_tags, tags={"owner": "me"}) as result:
        assert result.output_for_node("owner_tag") == "me"


def test_failed_run_is_recorded_as_failure_with_dagsters_failure_reason_tag(instance):
    result = run(instance, fail_on("b"))
    assert result.dagster_run.status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(result.run_id).tags["dagster/failure_reason"] == "STEP_FAILURE"


def test_unknown_run_id_gives_none(instance):
    assert instance.get_run_by_id("not-a-run") is None


def test_raise_on_error_raises_the_ops_exception_after_recording_the_run(instance):
    with pytest.raises(ValueError, match="b fails"):
        run(instance, fail_on("b"), raise_on_error=True)
    (record,) = instance.get_runs()
    assert record.status == DagsterRunStatus.FAILURE


def test_op_selection_runs_only_the_selected_ops(instance):
    with run(instance, op_selection=["emit+"]) as result:
        assert started(result) == ["emit", "double[a]", "double[b]", "double[c]"]
    assert instance.get_run_by_id(result.run_id).op_selection == ["emit+"]


def test_multiprocess_executor_loads_a_factory_job_in_its_workers(instance):
    config = {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    with run(instance, config, target=jobs.define_fanout_job) as result:
        assert result.success
        assert result.events[0].executor == "multiprocess"
        assert result.output_for_node("total") == "aabbcc"


def test_execute_job_keeps_dagviz_engine_signature_for_a_job_and_run_config():
    result = execute_job(jobs.fanout, IN_PROCESS, executor="in_process", output_store="memory://")
    assert result.success and result.output_for_node("total") == "aabbcc"


def test_ephemeral_instance_keeps_outputs_in_its_own_directory_and_deletes_them_when_disposed():
    instance = DagsterInstance.ephemeral()
    directory = Path(instance.storage_directory())
    assert run(instance).success
    assert any(path.is_file() for path in directory.rglob("*"))
    instance.dispose()
    assert not directory.exists()


# -- re-execution ------------------------------------------------------------------------------------


def test_from_failure_reruns_the_failed_key_and_its_collect_with_parent_and_root_recorded(instance):
    parent = run(instance, fail_on("b"))
    child = run(instance, fail_on(""), reexecution_options=ReexecutionOptions.from_failure(parent.run_id, instance))
    assert started(child) == ["double[b]", "total"]
    assert child.output_for_node("total") == "aabbcc"
    grandchild = reexecute(instance, child.run_id, ["total"])
    record = instance.get_run_by_id(grandchild.run_id)
    assert (record.parent_run_id, record.root_run_id) == (child.run_id, parent.run_id)


def test_selected_key_runs_alone_and_downstream_steps_are_reused(instance):
    parent = run(instance)
    with reexecute(instance, parent.run_id, ["double[a]"]) as child:
        assert started(child) == ["double[a]"]
        assert child.output_for_node("double") == {"a": "aa"}
        with pytest.raises(DagsterInvariantViolationError, match="Did not find result result in op 'total'"):
            child.output_for_node("total")


@pytest.mark.parametrize(("selection", "expected"), [
    (["double[a]+"], ["double[a]", "total"]),
    (["+total"], ["double[a]", "double[b]", "double[c]", "total"]),
    (["emit+"], ["emit", "double[a]", "double[b]", "double[c]"]),
    (["emit*"], ["emit", "double[a]", "double[b]", "double[c]", "total"]),
    (["double[?]"], ["double[a]", "double[b]", "double[c]"]),
    (["double[c]", "double[a]"], ["double[a]", "double[c]"]),
])
def test_step_selection_extends_upstream_with_star_and_downstream_with_plus(instance, selection, expected):
    parent = run(instance)
    assert started(reexecute(instance, parent.run_id, selection)) == expected


def test_rerun_emitter_with_a_new_key_runs_the_new_keys_mapped_step_too(instance):
    parent = run(instance)
    child = reexecute(instance, parent.run_id, ["emit+"], run_config=fail_on("", keys=["a", "d"]))
    assert started(child) == ["emit", "double[a]", "double[d]"]


@pytest.mark.parametrize(("selection", "sentence"), [
    (["nope"], "Step selection refers to unknown step: nope"),
    (["double[zzz]", "nope"], "Step selection refers to unknown steps: double[zzz], nope"),
])
def test_unknown_steps_are_refused_before_anything_runs(instance, selection, sentence):
    parent = run(instance)
    with pytest.raises(DagsterExecutionStepNotFoundError, match=re.escape(sentence)):
        reexecute(instance, parent.run_id, selection)
    assert len(instance.get_runs()) == 1


def test_a_clause_that_is_no_selection_selects_nothing_and_is_refused(instance):
    parent = run(instance)
    with pytest.raises(dagviz.DagsterInvalidSubsetError,
                       match=re.escape("No qualified steps to execute found for step_selection=['a b']")):
        reexecute(instance, parent.run_id, ["a b"])


def test_from_failure_of_a_successful_run_is_refused(instance):
    parent = run(instance)
    with pytest.raises(DagsterInvariantViolationError,
                       match="Cannot reexecute from failure a run that is not failed or canceled"):
        run(instance, reexecution_options=ReexecutionOptions.from_failure(parent.run_id, instance))


def test_unknown_parent_and_reexecution_with_op_selection_are_refused(instance):
    with pytest.raises(DagsterRunNotFoundError, match="No parent run with id nope found in instance."):
        reexecute(instance, "nope", ["total"])
    with pytest.raises(DagsterInvariantViolationError,
                       match="re-execution and op selection cannot be used together at this time."):
        run(instance, op_selection=["emit"], reexecution_options=ReexecutionOptions("nope"))


def test_reexecution_without_a_selection_runs_every_step(instance):
    parent = run(instance)
    assert started(run(instance, reexecution_options=ReexecutionOptions(parent.run_id))) == [
        "emit", "double[a]", "double[b]", "double[c]", "total",
    ]


def test_child_of_an_op_selection_run_runs_the_same_ops(instance):
    parent = run(instance, op_selection=["emit+"])
    child = run(instance, reexecution_options=ReexecutionOptions(parent.run_id))
    assert started(child) == ["emit", "double[a]", "double[b]", "double[c]"]
    assert instance.get_run_by_id(child.run_id).op_selection == ["emit+"]


# -- the database instance ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_instance_records_the_run_its_steps_and_events_like_a_launched_run():
    from runs.event_rows import run_events
    from runs.models import Run, RunStatus, Step

    instance = DagsterInstance.get()
    result = run(instance, fail_on("b"), tags={"owner": "me"})
    row = Run.objects.get(id=result.run_id)
    assert (row.job_name, row.status, row.tags) == ("fanout", RunStatus.FAILURE, {"team": "data", "owner": "me"})
    assert row.started_at is not None and row.ended_at is not None
    assert dict(Step.objects.filter(run=row).values_list("key", "status")) == {
        "emit": "SUCCESS", "double[a]": "SUCCESS", "double[b]": "FAILURE", "double[c]": "SUCCESS", "total": "SKIPPED",
    }
    kinds = [event["kind"] for event in run_events(row.id)]
    assert (kinds[0], kinds[-1], kinds.count("STEP_FAILURE")) == ("RUN_STARTED", "RUN_FINISHED", 1)
    record = instance.get_run_by_id(result.run_id)
    assert record.status == DagsterRunStatus.FAILURE
    assert record.tags == {"team": "data", "owner": "me", "dagster/failure_reason": "STEP_FAILURE"}
    assert instance.get_run_by_id("not-a-run") is None


@pytest.mark.django_db(transaction=True)
def test_database_instance_reexecutes_from_failure_reading_the_parent_from_the_database():
    from runs.models import Run, Step

    instance = DagsterInstance.get()
    parent = run(instance, fail_on("b"))
    with run(instance, fail_on(""), reexecution_options=ReexecutionOptions.from_failure(parent.run_id, instance)) as child:
        assert started(child) == ["double[b]", "total"]
        assert child.output_for_node("total") == "aabbcc"
    row = Run.objects.get(id=child.run_id)
    assert (str(row.parent_run_id), str(row.root_run_id)) == (parent.run_id, parent.run_id)
    assert row.step_selection == {"strategy": "FROM_FAILURE", "step_keys": []}
    assert Step.objects.get(run=row, key="double[a]").status == "REUSED"
    assert [record.run_id for record in instance.get_runs()] == [child.run_id, parent.run_id]
    with pytest.raises(DagsterExecutionStepNotFoundError, match="Step selection refers to unknown step: nope"):
        reexecute(instance, child.run_id, ["nope"])
    assert Run.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_monitor_leaves_a_run_executing_in_the_calling_process_alone():
    instance = DagsterInstance.get()
    with run(instance, target=jobs.checks_the_monitor) as result:
        assert result.success
        assert result.output_for_node("runs_ended_by_the_monitor") == []


def test_database_instance_on_a_fresh_home_creates_its_tables_and_the_run_shows_in_that_database(tmp_path):
    """As Dagster creates its storage on first use: a new DAGVIZ_HOME needs no migrate command first."""
    import os
    import sqlite3
    import uuid

    script = (
        "from dagviz import DagsterInstance, execute_job, reconstructable\n"
        "from tests.runtime import jobs\n"
        "result = execute_job(reconstructable(jobs.fanout), instance=DagsterInstance.get())\n"
        "print(result.run_id, result.success)\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DAGVIZ_HOME=str(tmp_path / "home"), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id, success = done.stdout.split()
    assert success == "True"
    database = next((tmp_path / "home").glob("*.sqlite3"))
    with sqlite3.connect(database) as connection:
        # Run ids are stored as 16 bytes (runs.fields.CompactUUIDField).
        rows = connection.execute("SELECT status FROM runs_run WHERE id = ?", (uuid.UUID(run_id).bytes,)).fetchall()
    assert rows == [("SUCCESS",)]
