"""The output store on S3: a real S3 endpoint (moto's server on 127.0.0.1) through s3fs.

Values written by one process are read by another; multiprocess and Dask runs keep every
output in the bucket and give the same results as in process. Small values are uploaded in
batches (one object per batch, on flush), never one object each. Credentials and the endpoint
reach workers the way docs/deploy.md tells users to set them: environment variables.
"""

from __future__ import annotations

import pickle
import time
import uuid

import fsspec
import pytest

import dagviz
from dagviz.examples import big_fanout, flaky_fanout
from dagviz.execution.reexecution import ParentRecord, parent_run_for
from dagviz.storage.output_store import (
    FsspecOutputStore,
    OutputStoreError,
    open_output_store,
    output_ref,
    readable_elsewhere_first,
    run_of_ref,
)
from dagviz.storage.segments import RemoteSegments, parse_segment_ref
from tests.execution import jobs_for_workers as jobs
from tests.servers import S3Server

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def s3_url(s3_server, monkeypatch) -> str:
    """``s3://<new bucket>/outputs``, with this process and every worker it starts pointed at the server."""
    for name, value in {"AWS_ACCESS_KEY_ID": "dagviz-test", "AWS_SECRET_ACCESS_KEY": "dagviz-test",
                        "AWS_DEFAULT_REGION": "us-east-1", "FSSPEC_S3_ENDPOINT_URL": s3_server.endpoint_url}.items():
        monkeypatch.setenv(name, value)
    # fsspec read FSSPEC_* variables when it was imported; new worker processes read them from the environment.
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3_server.endpoint_url})
    bucket = f"dagviz-{uuid.uuid4().hex[:12]}"
    filesystem = fsspec.filesystem("s3", skip_instance_cache=True)
    filesystem.mkdir(bucket)
    return f"s3://{bucket}/outputs"


def _objects(url: str) -> set[str]:
    filesystem = fsspec.filesystem("s3", skip_instance_cache=True)
    root = url.removeprefix("s3://")
    return {path.removeprefix(root + "/") for path in filesystem.find(root)}


def test_values_round_trip_through_the_bucket_between_store_instances(s3_url):
    writer = open_output_store(s3_url)
    assert isinstance(writer, FsspecOutputStore)
    plain = writer.put(output_ref("run1", "load", "result"), {"rows": [1, 2, 3]})
    mapped = writer.put(output_ref("run1", "split", "result", "k_1"), "a" * 300_000)  # large: a file of its own
    assert mapped == output_ref("run1", "split", "result", "k_1") and parse_segment_ref(plain) is not None
    assert writer.pending_writes() == 1
    writer.flush()
    assert writer.pending_writes() == 0

    reader = pickle.loads(pickle.dumps(writer))  # what a worker receives: a fresh store, no cache
    assert reader.get(plain) == {"rows": [1, 2, 3]}
    assert reader.get(mapped) == "a" * 300_000
    assert reader.exists(plain) and not reader.exists(output_ref("run1", "load", "other"))
    segment = parse_segment_ref(plain).segment
    assert _objects(s3_url) == {f"run1/segments/{segment}.seg", "run1/split.result/k_1.pkl"}
    with pytest.raises(OutputStoreError, match=r"No output stored at 'run1/load/other' in s3://"):
        reader.get(output_ref("run1", "load", "other"))


@pytest.mark.parametrize("executor", [
    pytest.param({"multiprocess": {"max_concurrent": 2}}, id="multiprocess"),
    pytest.param({"dask": {"n_workers": 2, "threads_per_worker": 1}}, id="dask-local-cluster"),
])
def test_runs_on_workers_keep_every_output_in_the_bucket(s3_url, executor):
    if "dask" in executor:
        pytest.importorskip("distributed")
    expected = jobs.letters_and_regions.execute_in_process()

    result = dagviz.execute_job(jobs.letters_and_regions, {"execution": executor}, output_store=s3_url)

    assert result.success, [step.error for step in result.steps.values() if step.error]
    for node in ("join_letters", "shout", "score", "region_total", "overall", "customers"):
        assert result.output_for_node(node) == expected.output_for_node(node), node
    run_id = result.run_id
    refs = {(event.step_key, getattr(event, "mapping_key", None)): event.ref for event in result.events
            if event.kind in ("STEP_OUTPUT", "DYNAMIC_OUTPUT")}
    assert {("emit_letters", key) for key in "abcd"} | {(f"shout[{key}]", None) for key in "abcd"} <= set(refs)
    # Every value is in the run's segments in the bucket, read back by a store that never saw them written.
    fresh = pickle.loads(pickle.dumps(open_output_store(s3_url)))
    assert {fresh.get(refs["emit_letters", key]) for key in "abcd"} == set("abcd")
    assert fresh.get(refs["join_letters", None]) == "D!d,B!b,A!a,C!c"
    assert fresh.get(refs["score[eu][c2]", None]) == "eu-2@score[eu][c2]"
    stored = _objects(s3_url)
    assert stored == {f"{run_id}/segments/{parse_segment_ref(ref).segment}.seg" for ref in refs.values()}
    assert len(stored) < len(refs)  # a step's values share an object (emit_letters: 4 values, 1 object)


def test_many_small_values_make_few_objects_and_each_ref_reads_back_after_flush(s3_url):
    writer = open_output_store(s3_url)
    refs = [writer.put(output_ref("run1", "emit", "result", f"k{index}"), {"index": index}) for index in range(2000)]
    assert writer.get(refs[5]) == {"index": 5}  # the writer reads its own buffered values
    reader = pickle.loads(pickle.dumps(writer))
    assert not reader.exists(refs[0]), "nothing reaches the bucket before a flush (or a full batch)"
    assert writer.pending_writes() == 2000 and writer.flush_due()  # many values waiting: flush now
    writer.flush()
    assert len(_objects(s3_url)) == 1
    assert [reader.get(ref) for ref in refs] == [{"index": index} for index in range(2000)]
    assert all(reader.exists(ref) for ref in refs[::100])


def test_a_batch_is_uploaded_when_it_is_full_and_reads_cross_block_boundaries(s3_url, monkeypatch):
    monkeypatch.setattr(RemoteSegments, "FLUSH_BYTES", 10_000)
    monkeypatch.setattr(RemoteSegments, "BLOCK_BYTES", 256)  # values span blocks; the last block is short
    writer = open_output_store(s3_url)
    refs = [writer.put(output_ref("run1", "emit", "result", f"k{index}"), "v" * 1000 + str(index))
            for index in range(25)]
    assert writer.pending_writes() < 25 and len(_objects(s3_url)) == 2  # two full batches already uploaded
    writer.flush()
    assert len(_objects(s3_url)) == 3
    reader = pickle.loads(pickle.dumps(writer))
    assert [reader.get(ref) for ref in reversed(refs)] == ["v" * 1000 + str(index) for index in reversed(range(25))]


def test_a_flush_is_due_at_once_after_a_quiet_spell_then_at_most_every_flush_seconds(s3_url, monkeypatch):
    monkeypatch.setattr(RemoteSegments, "FLUSH_SECONDS", 1.0)
    writer = open_output_store(s3_url)
    assert not writer.flush_due()  # nothing waits
    writer.put(output_ref("run1", "emit", "result", "k0"), 0)
    assert writer.pending_writes() == 1 and writer.flush_due()  # no upload yet: a slow emitter's key goes at once
    writer.flush()
    writer.put(output_ref("run1", "emit", "result", "k1"), 1)
    assert writer.pending_writes() == 1 and not writer.flush_due()  # just uploaded: let a batch form
    time.sleep(RemoteSegments.FLUSH_SECONDS + 0.05)
    assert writer.flush_due()


def test_events_carrying_refs_wait_for_the_flush_that_makes_them_readable(s3_url, monkeypatch):
    monkeypatch.setattr(RemoteSegments, "FLUSH_SECONDS", 60.0)  # after the first upload, only the end flushes
    writer = open_output_store(s3_url)
    reader = pickle.loads(pickle.dumps(writer))
    seen: list[str] = []

    def outputs():
        for index in range(5):
            yield writer.put(output_ref("run1", "emit", "result", f"k{index}"), index)

    for ref in readable_elsewhere_first(outputs(), writer):
        assert reader.get(ref) == len(seen)  # readable by another store the moment the ref comes out
        seen.append(ref)
    # The first key went at once (nothing uploaded before), the next four waited for the end: two objects.
    assert len(seen) == 5 and writer.pending_writes() == 0 and len(_objects(s3_url)) == 2

    def fails_after_two():
        yield writer.put(output_ref("run2", "emit", "result", "a"), "a")
        yield writer.put(output_ref("run2", "emit", "result", "b"), "b")
        raise ValueError("user code failed")

    passed = []
    with pytest.raises(ValueError, match="user code failed"):
        for ref in readable_elsewhere_first(fails_after_two(), writer):
            passed.append(reader.get(ref))
    assert passed == ["a", "b"]  # what was yielded before the error still goes on, readable


def test_a_wide_fan_out_on_workers_batches_the_emitter_s_values(s3_url):
    n = 200
    result = dagviz.execute_job(big_fanout, {"ops": {"emit_many": {"config": {"n": n}}},
                                             "execution": {"multiprocess": {"max_concurrent": 2}}},
                                output_store=s3_url)
    assert result.success and result.output_for_node("sum_all") == sum(range(1, n + 1))
    emitted = [event.ref for event in result.events if event.kind == "DYNAMIC_OUTPUT"]
    emitter_objects = {parse_segment_ref(ref).segment for ref in emitted}
    assert len(emitted) == n and len(emitter_objects) <= n // 10, len(emitter_objects)  # not one per key
    fresh = open_output_store(s3_url)
    assert [fresh.get(ref) for ref in emitted] == list(range(n))


def test_a_re_execution_on_s3_reuses_the_parent_s_batched_outputs(s3_url):
    config = {"ops": {"emit_keys": {"config": {"n": 8}}, "flaky_work": {"config": {"sleep_ms": 0}}},
              "execution": {"multiprocess": {"max_concurrent": 2}}}
    parent = dagviz.execute_job(flaky_fanout, config, output_store=s3_url)
    assert not parent.success
    record = ParentRecord.from_result(parent)
    child = dagviz.execute_job(flaky_fanout, config, output_store=s3_url,
                               parent=parent_run_for(flaky_fanout, record, "FROM_FAILURE"))
    assert child.success and child.output_for_node("total") == sum(index * index for index in range(8))
    reused = [ref for items in record.dynamic_items.values() for _, ref in items]
    assert all(run_of_ref(ref) == parent.run_id and parse_segment_ref(ref) for ref in reused)
