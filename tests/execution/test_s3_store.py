"""The output store on S3: a real S3 endpoint (moto's server on 127.0.0.1) through s3fs.

Values written by one process are read by another; multiprocess and Dask runs keep every
output in the bucket and give the same results as in process. Credentials and the endpoint
reach workers the way docs/deploy.md tells users to set them: environment variables.
"""

from __future__ import annotations

import pickle
import uuid

import fsspec
import pytest

import dagviz
from dagviz.storage.output_store import (
    FsspecOutputStore,
    OutputStoreError,
    open_output_store,
    output_ref,
)
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
    plain = output_ref("run1", "load", "result")
    mapped = output_ref("run1", "split", "result", "k_1")
    writer.put(plain, {"rows": [1, 2, 3]})
    writer.put(mapped, "a" * 300_000)  # larger than the in-memory cache keeps: read back from S3

    reader = pickle.loads(pickle.dumps(writer))  # what a worker receives: a fresh store, no cache
    assert reader.get(plain) == {"rows": [1, 2, 3]}
    assert reader.get(mapped) == "a" * 300_000
    assert reader.exists(plain) and not reader.exists(output_ref("run1", "load", "other"))
    assert _objects(s3_url) == {"run1/load.result.pkl", "run1/split.result/k_1.pkl"}
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
    stored = {path.removeprefix(f"{run_id}/") for path in _objects(s3_url)}
    assert {f"emit_letters.result/{key}.pkl" for key in "abcd"} <= stored  # each yielded value
    assert {f"shout[{key}].result.pkl" for key in "abcd"} <= stored  # each mapped step's output
    assert {"score[eu][c2].result.pkl", "join_letters.result.pkl", "overall.result.pkl"} <= stored
    # The run's results are read back from the bucket by a store that never saw them written.
    assert pickle.loads(pickle.dumps(open_output_store(s3_url))).get(
        output_ref(run_id, "join_letters", "result")) == "D!d,B!b,A!a,C!c"
