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
from collections import OrderedDict
from typing import Any, Iterable, Protocol

import fsspec

from dagviz.errors import DagvizError

MEMORY_URL = "memory://"  # objects kept in this process, never pickled


class OutputStoreError(DagvizError):
    """An output could not be written or read (missing reference, unpicklable value, I/O error)."""


def output_ref(run_id: str, step_key: str, output_name: str, mapping_key: str | None = None) -> str:
    """The reference of one output (or one key of a dynamic output) of one step of one run."""
    if mapping_key is None:
        return f"{run_id}/{step_key}/{output_name}"
    return f"{run_id}/{step_key}/{output_name}/{mapping_key}"


def run_of_ref(ref: str) -> str:
    """The id of the run that wrote ``ref``: a re-execution's reused outputs name an ancestor here."""
    return ref.split("/", 1)[0]


class OutputStore(Protocol):
    url: str

    def put(self, ref: str, value: Any) -> str: ...

    def get(self, ref: str) -> Any: ...

    def exists(self, ref: str) -> bool: ...


class InMemoryOutputStore:
    """Objects kept as they are, in this process (no copies, no pickling)."""

    url = MEMORY_URL

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
    """Pickled values under ``url`` on any fsspec filesystem, readable from other processes and hosts.

    Files are laid out as ``<run>/<step key>.<output>.pkl`` and, for a dynamic output,
    ``<run>/<step key>.<output>/<mapping key>.pkl``: one directory per run and per emitter,
    not per step. Recently written small values are also kept (pickled) in memory, so a
    step reading its input right after it was written in this process skips the file.
    """

    CACHE_BYTES = 64 * 1024 * 1024
    CACHE_ITEM_BYTES = 256 * 1024

    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._root = fsspec.core.url_to_fs(url)
        protocols = (self._fs.protocol,) if isinstance(self._fs.protocol, str) else tuple(self._fs.protocol)
        self._local = "file" in protocols
        self._made_dirs: set[str] = set()
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = 0

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    def _run_directory(self, run_id: str) -> str:
        return f"{self._root.rstrip('/')}/{run_id}"

    def _path(self, ref: str) -> str:
        run_id, step_key, output, *mapping_key = ref.split("/")
        name = f"{step_key}.{output}/{mapping_key[0]}" if mapping_key else f"{step_key}.{output}"
        return f"{self._run_directory(run_id)}/{name}.pkl"

    def unreferenced_files(self, run_id: str, keep: Iterable[str] = ()) -> dict[str, int]:
        """The files under ``run_id``'s directory that no ref in ``keep`` names, with their sizes in bytes.

        Deleting a run removes these; files that surviving runs still reference stay readable.
        """
        kept = {self._path(ref) for ref in keep}
        directory = self._run_directory(run_id)
        self._fs.invalidate_cache(directory)  # object stores cache listings; workers may have written since
        found = self._fs.find(directory, detail=True)
        return {path: info.get("size") or 0 for path, info in found.items() if path not in kept}

    def remove_files(self, run_id: str, paths: Iterable[str]) -> None:
        """Remove ``paths`` (from :meth:`unreferenced_files`), then ``run_id``'s directories left empty."""
        paths = list(paths)
        if paths:
            self._fs.rm(paths)
        directory = self._run_directory(run_id)
        found = self._fs.find(directory, withdirs=True, detail=True)
        subdirectories = [path for path, info in found.items() if info["type"] == "directory" and path != directory]
        for path in sorted(subdirectories, key=len, reverse=True) + [directory]:
            try:
                self._fs.rmdir(path)
            except OSError:  # not empty (it holds files still referenced), or not a directory on this filesystem
                pass
        with self._lock:
            self._made_dirs.clear()
            self._cache.clear()
            self._cache_size = 0

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
        self._remember(ref, data)
        return ref

    def _write_local(self, path: str, data: bytes) -> None:
        # Plain file I/O: fsspec's local layer costs more than the write itself for small outputs.
        # No temporary file and rename: an output is only referenced once the step reports it written.
        directory = os.path.dirname(path)
        if directory not in self._made_dirs:
            os.makedirs(directory, exist_ok=True)
            with self._lock:
                self._made_dirs.add(directory)
        with open(path, "wb") as handle:
            handle.write(data)

    def _remember(self, ref: str, data: bytes) -> None:
        if len(data) > self.CACHE_ITEM_BYTES:
            return
        with self._lock:
            self._cache[ref] = data
            self._cache_size += len(data)
            while self._cache_size > self.CACHE_BYTES:
                _, evicted = self._cache.popitem(last=False)
                self._cache_size -= len(evicted)

    def get(self, ref: str) -> Any:
        cached = self._cache.get(ref)
        if cached is not None:
            return pickle.loads(cached)
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
        if ref in self._cache:
            return True
        path = self._path(ref)
        return os.path.exists(path) if self._local else self._fs.exists(path)


def open_output_store(url: str) -> OutputStore:
    """The store for ``url``: ``memory://`` for in-process objects, any other fsspec URL for files."""
    if url == MEMORY_URL:
        return InMemoryOutputStore()
    return FsspecOutputStore(url)
