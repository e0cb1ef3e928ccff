"""Output stores: memory:// keeps objects, file:// pickles them for other processes; clear errors.

Small values share a run's segment files (tests/execution/test_segment_store.py); these tests
also cover the one-file-per-value layout that large values keep.
"""

from __future__ import annotations

import pickle
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

import dagviz
from dagviz import DagvizError, DynamicOut, DynamicOutput, StepStatus, job, op
from dagviz.storage.output_store import (
    FsspecOutputStore,
    InMemoryOutputStore,
    OutputStoreError,
    open_output_store,
    output_ref,
)


@dataclass
class Payload:
    name: str
    values: list


def test_output_ref_names_run_step_output_and_mapping_key():
    assert output_ref("run1", "emit", "result") == "run1/emit/result"
    assert output_ref("run1", "emit", "result", "k1") == "run1/emit/result/k1"
    assert output_ref("run1", "score[eu][c1]", "result") == "run1/score[eu][c1]/result"


def test_memory_store_round_trips_the_same_object():
    store = open_output_store("memory://")
    assert isinstance(store, InMemoryOutputStore)
    value = Payload("x", [1, 2])
    ref = store.put(output_ref("r", "work[k1]", "result"), value)
    assert store.exists(ref)
    assert store.get(ref) is value
    assert not store.exists("r/other/result")


def test_memory_store_keeps_unpicklable_values():
    store = open_output_store("memory://")
    lock = threading.Lock()
    assert store.get(store.put("r/s/result", lock)) is lock


def test_file_store_round_trips_values_through_files_readable_by_another_store_instance(tmp_path):
    url = f"file://{tmp_path}/outputs"
    writer = open_output_store(url)
    assert isinstance(writer, FsspecOutputStore)
    value = {"payload": Payload("x", [1, 2.5, None]), "text": "é"}
    ref = writer.put(output_ref("run1", "score[eu][c1]", "result"), value)
    reader = open_output_store(url)  # as a worker process would open it
    assert reader.exists(ref)
    assert reader.get(ref) == value
    assert list((tmp_path / "outputs").rglob("*.seg")), "small values are stored in a segment file under the URL"


def test_file_store_survives_pickling_so_workers_can_receive_it(tmp_path):
    store = open_output_store(f"file://{tmp_path}")
    ref = store.put("run/step/result", [1, 2, 3])
    clone = pickle.loads(pickle.dumps(store))
    assert clone.url == store.url
    assert clone.get(ref) == [1, 2, 3]


def test_missing_refs_raise_a_clear_error_in_both_stores(tmp_path):
    for store in (open_output_store("memory://"), open_output_store(f"file://{tmp_path}")):
        with pytest.raises(OutputStoreError, match="No output stored at 'run/nope/result'"):
            store.get("run/nope/result")
    assert issubclass(OutputStoreError, DagvizError)


@pytest.mark.parametrize("value", [threading.Lock(), lambda x: x, (item for item in [1])])
def test_file_store_rejects_unpicklable_values_naming_the_ref_and_type(tmp_path, value):
    store = open_output_store(f"file://{tmp_path}")
    with pytest.raises(OutputStoreError, match="not picklable") as raised:
        store.put("run/make_lock/result", value)
    assert "run/make_lock/result" in str(raised.value)
    assert type(value).__name__ in str(raised.value)
    assert not store.exists("run/make_lock/result")


@op(out=DynamicOut())
def two_keys():
    yield DynamicOutput(Payload("a", [1]), mapping_key="a")
    yield DynamicOutput(Payload("b", [2]), mapping_key="b")


@op
def count(payload: Payload) -> int:
    return len(payload.values) + len(payload.name)


@op
def gather(values: list) -> list:
    return values


@job
def file_store_job():
    gather(two_keys().map(count).collect())


def test_a_run_with_a_file_store_writes_every_output_and_reads_results_back(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGVIZ_SMALL_OUTPUT_BYTES", "0")  # every value in a file of its own, as large values are
    result = dagviz.execute_job(file_store_job, executor="in_process", output_store=f"file://{tmp_path}/store")
    assert result.success
    assert result.output_for_node("gather") == [2, 2]
    assert result.output_for_node("two_keys") == {"a": Payload("a", [1]), "b": Payload("b", [2])}
    stored = {path.relative_to(tmp_path / "store" / result.run_id).as_posix()
              for path in (tmp_path / "store").rglob("*.pkl")}
    assert stored == {"two_keys.result/a.pkl", "two_keys.result/b.pkl", "count[a].result.pkl",
                      "count[b].result.pkl", "gather.result.pkl"}
    refs = [event.ref for event in result.events if event.kind in ("STEP_OUTPUT", "DYNAMIC_OUTPUT")]
    assert f"{result.run_id}/count[a]/result" in refs


def test_an_op_returning_an_unpicklable_value_fails_its_step_clearly_with_a_file_store(tmp_path):
    @op
    def make_lock():
        return threading.Lock()

    @op
    def use(value):
        return value

    @job
    def unpicklable():
        use(make_lock())

    result = dagviz.execute_job(unpicklable, executor="in_process", output_store=f"file://{tmp_path}/store")
    assert not result.success
    (failure,) = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert failure.step_key == "make_lock"
    assert failure.error.class_name == "OutputStoreError"
    assert "not picklable" in failure.error.message and "lock" in failure.error.message
    assert result.steps["use"].status == StepStatus.SKIPPED


def test_execute_in_process_keeps_outputs_in_memory_without_pickling():
    @op
    def make_lock():
        return threading.Lock()

    @job
    def in_memory():
        make_lock()

    assert isinstance(in_memory.execute_in_process().output_for_node("make_lock"), type(threading.Lock()))


def test_file_store_url_without_scheme_is_a_local_path(tmp_path):
    store = open_output_store(str(Path(tmp_path) / "plain"))
    ref = store.put("r/s/result", 7)
    assert store.get(ref) == 7
