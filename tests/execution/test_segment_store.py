"""Small outputs share a run's segment files: refs name (segment, offset, length) and read back anywhere.

Covers the local file store: the threshold, reads from other processes and threads, refs of the
one-file-per-value layout, pruning, re-execution reuse, and the file count of a wide fan-out.
The S3 side (batched objects, flush) is in tests/execution/test_s3_store.py.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import tracemalloc
from pathlib import Path

import pytest

import dagviz
from dagviz.examples import big_fanout, flaky_fanout
from dagviz.execution.reexecution import ParentRecord, parent_run_for
from dagviz.execution.status import StepStatus
from dagviz.storage.output_store import (
    FsspecOutputStore,
    OutputStoreError,
    open_output_store,
    output_ref,
    run_of_ref,
)
from dagviz.storage.segments import SEGMENT_MARK, parse_segment_ref


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def pickled_size(value) -> int:
    return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


@pytest.fixture
def url(tmp_path) -> str:
    return (tmp_path / "store").as_uri()


# -- refs -----------------------------------------------------------------------------------------


def test_a_small_value_goes_to_a_segment_and_its_ref_names_the_run_first(url, tmp_path):
    store = open_output_store(url)
    ref = store.put(output_ref("run1", "emit", "result", "k1"), {"n": 15})
    assert ref.startswith(f"run1/{SEGMENT_MARK}/") and run_of_ref(ref) == "run1"
    where = parse_segment_ref(ref)
    assert where.offset == 0 and where.length == pickled_size({"n": 15})
    second = store.put(output_ref("run1", "emit", "result", "k2"), "two")
    assert parse_segment_ref(second).offset == where.length  # appended after the first
    fresh = open_output_store(url)  # no cache: read from the file
    assert fresh.get(ref) == {"n": 15} and fresh.get(second) == "two"
    (segment,) = files_under(tmp_path / "store")
    assert segment.parent == tmp_path / "store" / "run1" / "segments" and segment.suffix == ".seg"


def test_a_large_value_keeps_its_own_file_and_the_ref_it_was_given(url, tmp_path):
    store = open_output_store(url)
    logical = output_ref("run1", "load", "result")
    value = "x" * (70 * 1024)
    assert store.put(logical, value) == logical
    assert open_output_store(url).get(logical) == value
    assert files_under(tmp_path / "store") == [tmp_path / "store" / "run1" / "load.result.pkl"]


def test_the_threshold_is_inclusive_and_comes_from_the_argument_or_the_environment(url, monkeypatch):
    value = "y" * 500
    size = pickled_size(value)
    at_limit = FsspecOutputStore(url, small_output_bytes=size)
    assert parse_segment_ref(at_limit.put("r/s/result", value)) is not None
    above = FsspecOutputStore(url, small_output_bytes=size - 1)
    assert above.put("r/s/result", value) == "r/s/result"
    monkeypatch.setenv("DAGVIZ_SMALL_OUTPUT_BYTES", str(size - 1))
    from_env = open_output_store(url)
    assert from_env.small_output_bytes == size - 1 and from_env.put("r/t/result", value) == "r/t/result"
    # A worker receives the store pickled: it keeps the threshold it was given.
    assert pickle.loads(pickle.dumps(at_limit)).small_output_bytes == size
    monkeypatch.setenv("DAGVIZ_SMALL_OUTPUT_BYTES", "0")
    assert open_output_store(url).put("r/u/result", 1) == "r/u/result"  # 0: every value in its own file


def test_refs_of_values_stored_one_file_each_before_segments_still_read(url, tmp_path):
    # The layout every run used before segments: <run>/<step>.<output>.pkl and <run>/<step>.<output>/<key>.pkl.
    run = tmp_path / "store" / "old-run"
    (run / "emit.result").mkdir(parents=True)
    (run / "emit.result" / "k1.pkl").write_bytes(pickle.dumps({"key": 1}))
    (run / "total.result.pkl").write_bytes(pickle.dumps(42))
    store = open_output_store(url)
    assert store.get("old-run/emit/result/k1") == {"key": 1}
    assert store.get("old-run/total/result") == 42
    assert store.exists("old-run/total/result") and not store.exists("old-run/other/result")


def test_exists_and_missing_or_malformed_segment_refs(url):
    writer = open_output_store(url)
    ref = writer.put("run1/s/result", "value")
    where = parse_segment_ref(ref)
    reader = open_output_store(url)
    assert reader.exists(ref)
    past_the_end = f"run1/{SEGMENT_MARK}/{where.segment}/{where.offset + 1}/{where.length}"
    missing = f"run1/{SEGMENT_MARK}/nosuchwriter/0/5"
    assert not reader.exists(past_the_end) and not reader.exists(missing)
    with pytest.raises(OutputStoreError, match="No output stored at"):
        reader.get(past_the_end)
    with pytest.raises(OutputStoreError, match=f"No output stored at 'run1/{SEGMENT_MARK}/nosuchwriter/0/5'"):
        reader.get(missing)
    for malformed in (f"run1/{SEGMENT_MARK}/../../etc/0/5", f"run1/{SEGMENT_MARK}/w/zero/5", f"run1/{SEGMENT_MARK}/w"):
        with pytest.raises(OutputStoreError, match="not a valid segment reference"):
            reader.get(malformed)


# -- other processes and threads -------------------------------------------------------------------


def _write_then_wait(url: str, connection) -> None:
    store = open_output_store(url)
    refs = [store.put(output_ref("run1", "emit", "result", f"k{index}"), {"index": index}) for index in range(100)]
    connection.send(refs)
    connection.recv()  # stays alive, its segment open, until the other process has read every ref


def test_a_ref_is_readable_by_another_process_as_soon_as_put_returns(url):
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    writer = context.Process(target=_write_then_wait, args=(url, theirs))
    writer.start()
    try:
        assert ours.poll(60), "the writer process did not answer"
        refs = ours.recv()
        reader = open_output_store(url)
        assert [reader.get(ref) for ref in refs] == [{"index": index} for index in range(100)]
        assert all(reader.exists(ref) for ref in refs)
        assert {parse_segment_ref(ref).segment for ref in refs} == {parse_segment_ref(refs[0]).segment}
        assert str(writer.pid) in parse_segment_ref(refs[0]).segment
    finally:
        ours.send("done")
        writer.join(30)
    assert writer.exitcode == 0


def test_threads_sharing_one_store_append_to_one_segment_without_mixing_values(url, tmp_path):
    store = open_output_store(url)
    refs: dict[tuple[int, int], str] = {}

    def write(thread: int) -> None:
        for index in range(300):
            value = f"t{thread}-{index}-" + "z" * (index % 50)
            refs[thread, index] = store.put(output_ref("run1", f"work[t{thread}]", "result", f"k{index}"), value)

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader = open_output_store(url)
    for (thread, index), ref in refs.items():
        assert reader.get(ref) == f"t{thread}-{index}-" + "z" * (index % 50)
    slices = sorted((parse_segment_ref(ref).offset, parse_segment_ref(ref).length) for ref in refs.values())
    assert all(end <= start for (start, _), end in zip(slices[1:], [o + n for o, n in slices]))  # no overlap
    (segment,) = files_under(tmp_path / "store")
    assert segment.stat().st_size == sum(length for _, length in slices)


def test_a_forked_child_appends_to_a_segment_of_its_own_not_to_its_parent_s(url, tmp_path):
    store = open_output_store(url)
    parent_ref = store.put(output_ref("run1", "emit", "result", "k0"), "parent")
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    pid = os.fork()
    if pid == 0:  # the child: the store it inherited must not append to the parent's open file
        try:
            theirs.send(store.put(output_ref("run1", "emit", "result", "k1"), "child"))
        finally:
            os._exit(0)
    child_ref = ours.recv() if ours.poll(30) else None
    os.waitpid(pid, 0)
    after_ref = store.put(output_ref("run1", "emit", "result", "k2"), "parent again")
    assert child_ref is not None, "the forked child did not answer"
    assert parse_segment_ref(child_ref).segment != parse_segment_ref(parent_ref).segment
    assert str(pid) in parse_segment_ref(child_ref).segment
    assert parse_segment_ref(after_ref).segment == parse_segment_ref(parent_ref).segment
    reader = open_output_store(url)
    assert [reader.get(ref) for ref in (parent_ref, child_ref, after_ref)] == ["parent", "child", "parent again"]
    assert len(files_under(tmp_path / "store")) == 2


# -- pruning ---------------------------------------------------------------------------------------


def test_pruning_keeps_a_segment_while_a_kept_ref_names_it_and_removes_the_others(url, tmp_path):
    first, second = open_output_store(url), open_output_store(url)  # two writers: two segments of run r1
    kept = first.put("r1/emit/result/a", "kept")
    shares_its_segment = first.put("r1/emit/result/b", "dropped, but in a kept segment")
    dropped = second.put("r1/work[a]/result", "dropped")
    large = first.put("r1/total/result", "L" * (70 * 1024))
    other_run = second.put("r2/emit/result/a", "other run")

    files = first.unreferenced_files("r1", keep=[kept])
    assert set(files) == {first.path_of(dropped), first.path_of(large)}
    assert files[first.path_of(dropped)] == pickled_size("dropped")
    first.remove_files("r1", files)

    fresh = open_output_store(url)
    assert fresh.get(kept) == "kept" and fresh.get(shares_its_segment) == "dropped, but in a kept segment"
    assert not fresh.exists(dropped) and not fresh.exists(large)
    assert fresh.get(other_run) == "other run"
    assert fresh.unreferenced_files("r1", keep=[kept, shares_its_segment]) == {}

    fresh.remove_files("r1", fresh.unreferenced_files("r1"))
    assert not (tmp_path / "store" / "r1").exists()
    assert fresh.get(other_run) == "other run"


def test_removing_a_segment_closes_the_store_s_open_handles(url, tmp_path):
    store = open_output_store(url)
    written = store.put("r1/emit/result/a", "value")  # its segment open for appending
    elsewhere = open_output_store(url).put("r1/emit/result/b", "other writer")
    assert store.get(elsewhere) == "other writer"  # that segment open for reading
    store.remove_files("r1", store.unreferenced_files("r1"))
    assert not open_output_store(url).exists(written)
    fd_targets = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not any(target.startswith(str(tmp_path / "store")) for target in fd_targets), fd_targets
    again = store.put("r1/emit/result/c", "again")  # the store writes a new segment for the run afterwards
    assert open_output_store(url).get(again) == "again"


# -- runs ------------------------------------------------------------------------------------------


def test_a_wide_fan_out_on_a_file_store_writes_a_handful_of_files_not_one_per_output(url, tmp_path):
    n = 2000
    result = dagviz.execute_job(big_fanout, {"ops": {"emit_many": {"config": {"n": n}}}}, executor="in_process",
                                output_store=url)
    assert result.success and result.output_for_node("sum_all") == sum(range(1, n + 1))
    stored = files_under(tmp_path / "store" / result.run_id)
    assert len(stored) <= 3, stored  # was 2 * n + 1 files, one per output
    refs = [event.ref for event in result.events if event.kind in ("STEP_OUTPUT", "DYNAMIC_OUTPUT")]
    assert len(refs) == 2 * n + 1 and all(parse_segment_ref(ref) for ref in refs)
    assert result.output_for_node("add_one") == {f"k{index}": index + 1 for index in range(n)}
    fresh = open_output_store(url)  # what another process reads: every value, from the segment
    emitted = [event.ref for event in result.events if event.kind == "DYNAMIC_OUTPUT"]
    assert [fresh.get(ref) for ref in emitted] == list(range(n))
    assert sum(path.stat().st_size for path in stored) < 40 * n  # ~15 bytes per output


def test_a_multiprocess_run_writes_one_segment_per_worker(url, tmp_path):
    n = 300
    result = dagviz.execute_job(big_fanout, {"ops": {"emit_many": {"config": {"n": n}}},
                                             "execution": {"multiprocess": {"max_concurrent": 2}}}, output_store=url)
    assert result.success and result.output_for_node("sum_all") == sum(range(1, n + 1))
    assert result.output_for_node("add_one") == {f"k{index}": index + 1 for index in range(n)}
    stored = files_under(tmp_path / "store" / result.run_id)
    assert 1 <= len(stored) <= 2 and all(path.suffix == ".seg" for path in stored), stored


def test_a_re_execution_from_failure_reads_the_parent_s_segments_in_other_processes(url):
    config = {"ops": {"emit_keys": {"config": {"n": 12}}, "flaky_work": {"config": {"sleep_ms": 0}}}}
    parent = dagviz.execute_job(flaky_fanout, config, executor="in_process", output_store=url, raise_on_error=False)
    assert not parent.success
    assert {key for key, step in parent.steps.items() if step.status == StepStatus.FAILURE} == {
        "flaky_work[k3]", "flaky_work[k7]"}
    record = ParentRecord.from_result(parent)
    reused_refs = [ref for items in record.dynamic_items.values() for _, ref in items]
    assert reused_refs and all(parse_segment_ref(ref) and run_of_ref(ref) == parent.run_id for ref in reused_refs)

    child = dagviz.execute_job(flaky_fanout, {**config, "execution": {"multiprocess": {"max_concurrent": 2}}},
                               output_store=url, parent=parent_run_for(flaky_fanout, record, "FROM_FAILURE"))
    assert child.success
    ran = {key for key, step in child.steps.items() if step.status != StepStatus.REUSED}
    assert ran == {"flaky_work[k3]", "flaky_work[k7]", "total"}
    # The collect read the reused keys' outputs from the parent's segment, in worker processes.
    assert child.output_for_node("total") == sum(index * index for index in range(12))


def test_get_many_reads_each_segment_once_and_keeps_the_order(tmp_path):
    store = open_output_store(f"file://{tmp_path}")
    run_id = "run-many"
    refs = [store.put(output_ref(run_id, f"work[k{index}]", "result"), {"index": index}) for index in range(500)]
    big = store.put(output_ref(run_id, "big", "result"), b"x" * (store.small_output_bytes + 1))
    fresh = open_output_store(f"file://{tmp_path}")  # no cache: every value comes from disk
    wanted = refs[::-1] + [big] + refs[:3]
    values = fresh.get_many(wanted)
    assert values[:500] == [{"index": index} for index in reversed(range(500))]
    assert values[500] == b"x" * (store.small_output_bytes + 1) and values[501:] == [{"index": 0}, {"index": 1}, {"index": 2}]
    with pytest.raises(OutputStoreError, match="No output stored"):
        fresh.get_many([refs[0], f"{run_id}/@seg/nowhere/0/5"])


def test_get_many_of_many_refs_keeps_no_parsed_slice_per_ref_while_it_reads(tmp_path):
    """A collect of a million keys reads them with one get_many: what it holds beyond the values it returns
    must not grow with a parsed slice per ref (each with its own strings: ~280 bytes a ref)."""
    store = open_output_store(f"file://{tmp_path}")
    refs = [store.put(output_ref("run-many", f"work[k{index}]", "result"), index * 1000) for index in range(20_000)]
    fresh = open_output_store(f"file://{tmp_path}")  # no cache: every value comes from disk
    tracemalloc.start()
    try:
        values = fresh.get_many(refs)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values == [index * 1000 for index in range(20_000)]
    segment_bytes = sum(path.stat().st_size for path in files_under(tmp_path))
    # The values and their list stay (`held`); beside them only the segment's bytes and a value being read.
    assert peak - held < segment_bytes + 64 * len(refs), (peak, held, segment_bytes)
