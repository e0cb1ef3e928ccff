"""Resources, config classes and run tags in worker processes (multiprocess and Dask).

Each process that runs steps of a run sets a resource up once, when a step there first needs
it, and tears it down when the run's work there ends. ``Ledger`` writes a file named after its
process and instance when it is set up and when it is torn down.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.execution.deadline import within

import dagviz
from dagviz.workspace import Workspace
from tests.execution import jobs_for_workers as jobs

RUN_DEADLINE = 90.0

pytestmark = pytest.mark.timeout(180)


def _run_ledger_job(tmp_path: Path, markers: Path, execution: dict):  # type: ignore[no-untyped-def]
    markers.mkdir(exist_ok=True)
    run_config = {"execution": execution, "resources": {"ledger": {"config": {"marker_dir": str(markers)}}},
                  "ops": {"use_ledger": {"config": {"factor": 3}}}}
    return within(RUN_DEADLINE, lambda: dagviz.execute_job(
        jobs.resources_in_workers, run_config, output_store=f"file://{tmp_path}/store", tags={"origin": "run"}))


def _markers(markers: Path, kind: str) -> list[str]:
    return sorted(name[len(kind) + 1:] for name in os.listdir(markers) if name.startswith(f"{kind}-"))


def _assert_once_per_process_and_torn_down(result, markers: Path) -> None:  # type: ignore[no-untyped-def]
    assert result.success, result.failure_reason
    outputs = result.output_for_node("gather")
    assert [output["scaled"] for output in outputs] == [0, 3, 6, 9, 12, 15]  # the Config class, from run config
    assert {(output["team"], output["origin"]) for output in outputs} == {("data", "run")}  # run tags over job tags
    setups = _markers(markers, "setup")
    pids = [token.split("-")[0] for token in setups]
    assert len(pids) == len(set(pids)), f"a process set the resource up twice: {setups}"
    assert {str(output["pid"]) for output in outputs} == set(pids)  # only where steps needed it
    assert str(os.getpid()) not in pids
    assert {output["token"] for output in outputs} == set(setups)  # every step of a process shares its instance
    assert _markers(markers, "teardown") == setups  # each torn down by the time the run returns


def test_multiprocess_workers_set_a_resource_up_once_each_and_tear_it_down_at_the_end(tmp_path):
    result = _run_ledger_job(tmp_path, tmp_path / "markers", {"multiprocess": {"max_concurrent": 2}})

    _assert_once_per_process_and_torn_down(result, tmp_path / "markers")


def test_a_resource_that_fails_in_workers_fails_the_steps_needing_it_naming_the_resource(tmp_path):
    result = within(RUN_DEADLINE, lambda: dagviz.execute_job(
        jobs.resource_fails_in_workers, {"execution": {"multiprocess": {"max_concurrent": 2}}},
        output_store=f"file://{tmp_path}/store"))

    assert not result.success
    failures = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert sorted(event.step_key for event in failures) == [f"query[k{index}]" for index in range(6)]
    assert {event.error.message for event in failures} == {
        "Error executing resource_fn on ResourceDefinition 'db': ConnectionError: database at db.invalid:5432 "
        "refused the connection"}
    assert {event.error.class_name for event in failures} == {"ResourceInitError"}


DEFINITIONS_FILE = '''
import os

from dagviz import ConfigurableResource, Definitions, job, op


class Greeting(ConfigurableResource):
    word: str


@op
def greet(greeting: Greeting) -> dict:
    return {"word": greeting.word, "pid": os.getpid()}


@job
def greeter():
    greet()


defs = Definitions(jobs=[greeter], resources={"greeting": Greeting(word="hello from definitions")})
'''


def test_workers_load_the_job_with_the_resources_its_definitions_bind(tmp_path):
    path = tmp_path / "location.py"
    path.write_text(textwrap.dedent(DEFINITIONS_FILE))
    workspace = Workspace.load(files=[str(path)])

    result = within(RUN_DEADLINE, lambda: dagviz.execute_job(
        workspace.get("greeter"), {"execution": {"multiprocess": {"max_concurrent": 1}}},
        pointer=workspace.pointers["greeter"], output_store=f"file://{tmp_path}/store"))

    assert result.success, result.failure_reason
    output = result.output_for_node("greet")
    assert output["word"] == "hello from definitions" and output["pid"] != os.getpid()


# -- Dask ------------------------------------------------------------------------------------------


def test_dask_workers_set_a_resource_up_once_per_process_across_threads_and_tear_it_down(tmp_path):
    pytest.importorskip("distributed")

    result = _run_ledger_job(tmp_path, tmp_path / "markers", {"dask": {"n_workers": 2, "threads_per_worker": 2}})

    _assert_once_per_process_and_torn_down(result, tmp_path / "markers")


@pytest.fixture(scope="module")
def running_cluster():  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    from dagviz.execution.executors.dask import LOCAL_SCHEDULER_CONFIG

    import dask

    with dask.config.set(LOCAL_SCHEDULER_CONFIG):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_runs_on_a_long_lived_cluster_each_set_up_and_tear_down_their_own_resources(tmp_path, running_cluster):
    for run in ("first", "second"):
        markers = tmp_path / run
        result = _run_ledger_job(tmp_path, markers, {"dask": {"address": running_cluster}})

        _assert_once_per_process_and_torn_down(result, markers)
