"""Removing a run's stored outputs, except those other runs still reference: on local files and on S3."""

from __future__ import annotations

import pickle

import fsspec
import pytest

from dagviz.storage.output_store import open_output_store, output_ref, run_of_ref
from tests.execution.test_s3_store import s3_server, s3_url  # noqa: F401  (fixtures)

VALUE = "x" * 1000
SIZE = len(pickle.dumps(VALUE, protocol=pickle.HIGHEST_PROTOCOL))


@pytest.fixture(params=["file", "s3"])
def store_url(request, tmp_path) -> str:
    if request.param == "file":
        return (tmp_path / "storage").as_uri()
    return request.getfixturevalue("s3_url")


def exists(url: str, run_id: str) -> bool:
    filesystem, root = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    return filesystem.exists(f"{root}/{run_id}")


def test_the_run_of_a_ref_is_its_first_part():
    assert run_of_ref(output_ref("run1", "graph.op[k]", "result", "k2")) == "run1"


def test_files_no_kept_ref_names_are_removed_with_the_directories_left_empty(store_url):
    store = open_output_store(store_url, small_output_bytes=0)  # one file per value (large values)
    plain, kept = output_ref("r1", "load", "result"), output_ref("r1", "split", "result", "a")
    dropped, other = output_ref("r1", "split", "result", "b"), output_ref("r2", "load", "result")
    for ref in (plain, kept, dropped, other):
        assert store.put(ref, VALUE) == ref

    files = store.unreferenced_files("r1", keep=[kept])
    assert sorted(files.values()) == [SIZE, SIZE] and len(files) == 2
    store.remove_files("r1", files)

    fresh = open_output_store(store_url)  # nothing from a cache: what is really stored
    assert fresh.exists(kept) and fresh.get(kept) == VALUE
    assert not fresh.exists(plain) and not fresh.exists(dropped)
    assert fresh.get(other) == VALUE
    assert fresh.unreferenced_files("r1", keep=[kept]) == {}

    fresh.remove_files("r1", fresh.unreferenced_files("r1"))
    assert not fresh.exists(kept) and not exists(store_url, "r1")
    assert fresh.get(other) == VALUE


def test_a_run_that_stored_nothing_has_no_files_to_remove(store_url):
    store = open_output_store(store_url)
    assert store.unreferenced_files("never-ran") == {}
    store.remove_files("never-ran", {})
    assert not exists(store_url, "never-ran")


def test_a_segment_stays_while_a_kept_ref_names_a_slice_of_it(store_url):
    first, second = open_output_store(store_url), open_output_store(store_url)  # two writers: two segments
    kept = first.put(output_ref("r1", "split", "result", "a"), VALUE)
    neighbour = first.put(output_ref("r1", "split", "result", "b"), "in the kept segment")
    dropped = second.put(output_ref("r1", "work[a]", "result"), "dropped")
    other = second.put(output_ref("r2", "load", "result"), "other run")
    for store in (first, second):
        store.flush()  # an object store uploads its batches here

    files = first.unreferenced_files("r1", keep=[kept])
    assert list(files) == [first.path_of(dropped)] and first.path_of(kept) != first.path_of(dropped)
    first.remove_files("r1", files)

    fresh = open_output_store(store_url)
    assert fresh.get(kept) == VALUE and fresh.get(neighbour) == "in the kept segment"
    assert not fresh.exists(dropped) and fresh.get(other) == "other run"
    fresh.remove_files("r1", fresh.unreferenced_files("r1"))
    assert not exists(store_url, "r1") and not open_output_store(store_url).exists(kept)
    assert fresh.get(other) == "other run"
