"""Output stores: step outputs are written once and read by reference.

A reference (``ref``) is a relative path built by :func:`output_ref` from the run id, the
step key, the output name and, for a dynamic output, the mapping key. The database and
the events carry references only, never values. ``memory://`` keeps objects in this
process (``execute_in_process``); any other fsspec URL (``file://...`` by default,
``s3://bucket/prefix`` on a cluster) pickles values to files any process can read.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Any, Protocol

import fsspec

from dagviz.errors import DagvizError


class OutputStoreError(DagvizError):
    """An output could not be written or read (missing reference, unpicklable value, I/O error)."""


def output_ref(run_id: str, step_key: str, output_name: str, mapping_key: str | None = None) -> str:
    """The reference of one output (or one key of a dynamic output) of one step of one run."""
    if mapping_key is None:
        return f"{run_id}/{step_key}/{output_name}"
    return f"{run_id}/{step_key}/{output_name}/{mapping_key}"


class OutputStore(Protocol):
    url: str

    def put(self, ref: str, value: Any) -> str: ...

    def get(self, ref: str) -> Any: ...

    def exists(self, ref: str) -> bool: ...


class InMemoryOutputStore:
    """Objects kept as they are, in this process (no copies, no pickling)."""

    url = "memory://"

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def put(self, ref: str, value: Any) -> str:
        self._values[ref] = value
        return ref

    def get(self, ref: str) -> Any:
        try:
            return self._values[ref]
        except KeyError:
            raise OutputStoreError(f"No output stored at '{ref}'.") from None

    def exists(self, ref: str) -> bool:
        return ref in self._values


class FsspecOutputStore:
    """Pickled values under ``url`` on any fsspec filesystem, readable from other processes and hosts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._root = fsspec.core.url_to_fs(url)
        self._local = self._fs.protocol in ("file", "local") or "file" in tuple(self._fs.protocol)
        self._made_dirs: set[str] = set()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    def _path(self, ref: str) -> str:
        return f"{self._root.rstrip('/')}/{ref}.pkl"

    def put(self, ref: str, value: Any) -> str:
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # pickling raises many types (TypeError, PicklingError, AttributeError)
            raise OutputStoreError(
                f"Output '{ref}' cannot be stored: its value of type {type(value).__name__} is not picklable ({error})."
            ) from error
        path = self._path(ref)
        if self._local:
            self._write_local(path, data)
        else:
            with self._fs.open(path, "wb") as handle:
                handle.write(data)
        return ref

    def _write_local(self, path: str, data: bytes) -> None:
        # Plain file I/O: fsspec's local layer costs more than the write itself for small outputs.
        directory = os.path.dirname(path)
        if directory not in self._made_dirs:
            os.makedirs(directory, exist_ok=True)
            with self._lock:
                self._made_dirs.add(directory)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)  # readers never see a half-written file

    def get(self, ref: str) -> Any:
        path = self._path(ref)
        try:
            if self._local:
                with open(path, "rb") as handle:
                    return pickle.load(handle)
            with self._fs.open(path, "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            raise OutputStoreError(f"No output stored at '{ref}' in {self.url}.") from None

    def exists(self, ref: str) -> bool:
        path = self._path(ref)
        return os.path.exists(path) if self._local else self._fs.exists(path)


def open_output_store(url: str) -> OutputStore:
    """The store for ``url``: ``memory://`` for in-process objects, any other fsspec URL for files."""
    if url == "memory://":
        return InMemoryOutputStore()
    return FsspecOutputStore(url)
