"""Output stores: step outputs are written once and read by reference.

A reference (``ref``) names where a value is: callers pass :func:`output_ref` (run id, step
key, output name and, for a dynamic output, the mapping key) to ``put`` and use the ref it
returns. The database and the events carry references only, never values. ``memory://``
keeps objects in this process (``execute_in_process``); any other fsspec URL (``file://...``
by default, ``s3://bucket/prefix`` on a cluster) pickles values where any process can read
them: small ones appended to the run's segments (``dagviz/storage/segments.py``), the others
one file each.
"""

from __future__ import annotations

import os
import pickle
import threading
from array import array
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Protocol, TypeVar

import fsspec

from dagviz.env import env_int
from dagviz.errors import DagvizError
from dagviz.storage.segments import (
    LocalSegments,
    NothingToFlush,
    RemoteSegments,
    SegmentError,
    SegmentSlice,
    parse_segment_ref,
    segment_path,
)

MEMORY_URL = "memory://"  # objects kept in this process, never pickled
SMALL_OUTPUT_ENV_VAR = "DAGVIZ_SMALL_OUTPUT_BYTES"
DEFAULT_SMALL_OUTPUT_BYTES = 64 * 1024

T = TypeVar("T")


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


def _small_output_bytes() -> int:
    """Values whose pickle is at most this many bytes go to segments (``DAGVIZ_SMALL_OUTPUT_BYTES``; 0: none)."""
    return env_int(SMALL_OUTPUT_ENV_VAR, DEFAULT_SMALL_OUTPUT_BYTES)


class OutputStore(Protocol):
    url: str

    def put(self, ref: str, value: Any) -> str:
        """Store ``value`` for ``ref`` (from :func:`output_ref`); returns the ref to read it by."""

    def get(self, ref: str) -> Any: ...

    def get_many(self, refs: list[str]) -> list[Any]: ...

    def exists(self, ref: str) -> bool: ...

    def pending_writes(self) -> int:
        """How many values ``put`` returned refs for that other processes cannot read until ``flush``."""

    def flush_due(self) -> bool:
        """Whether pending writes have waited long enough, or are many enough, to flush now."""

    def flush(self) -> None:
        """Make every ref ``put`` returned readable by other processes."""


def readable_elsewhere_first(events: Iterator[T], store: OutputStore) -> Iterator[T]:
    """Pass ``events`` (which carry refs) on only once other processes can read what they name.

    A memory or local store has written a value when ``put`` returns, so events pass at once;
    a remote store buffers small values, so events wait for its flush: when ``flush_due``
    (values waited ~200 ms, or many are waiting) and when ``events`` ends.
    """
    if not hasattr(store, "pending_writes"):  # a store written before flush existed writes at once
        yield from events
        return
    held: list[T] = []
    try:
        for event in events:
            held.append(event)
            if store.pending_writes() and not store.flush_due():
                continue
            store.flush()
            released, held = held, []
            yield from released
    except Exception:
        if held and _flushed(store):  # what came before the error still counts, as without buffering
            yield from held
        raise
    store.flush()
    yield from held


def _flushed(store: OutputStore) -> bool:
    try:
        store.flush()
    except OutputStoreError:
        return False
    return True


class InMemoryOutputStore(NothingToFlush):
    """Objects kept as they are, in this process (no copies, no pickling)."""

    url = MEMORY_URL

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def put(self, ref: str, value: Any) -> str:
        self._values[ref] = value
        return ref

    def get_many(self, refs: list[str]) -> list[Any]:
        return [self.get(ref) for ref in refs]

    def get(self, ref: str) -> Any:
        try:
            return self._values[ref]
        except KeyError:
            raise OutputStoreError(f"No output stored at '{ref}'.") from None

    def exists(self, ref: str) -> bool:
        return ref in self._values


class FsspecOutputStore:
    """Pickled values under ``url`` on any fsspec filesystem, readable from other processes and hosts.

    A value whose pickle is at most ``small_output_bytes`` (``DAGVIZ_SMALL_OUTPUT_BYTES``,
    64 KiB by default; 0 stores every value as a file) is appended to a segment of its run:
    ``<run>/segments/<writer>.seg`` on local files, one object per batch on an object store
    (uploaded by ``flush``), and its ref names the slice (``dagviz/storage/segments.py``).
    Larger values are files, as ``<run>/<step key>.<output>.pkl`` and, for a dynamic output,
    ``<run>/<step key>.<output>/<mapping key>.pkl``; refs of that form (every value, before
    segments) still read. Recently written small values are also kept (pickled) in memory, so
    a step reading its input right after it was written in this process skips the storage.
    """

    # Enough for the values a step reads right after they were written (a mapped step's input, a
    # small collect); a collect of many reads them by segment with get_many. Each entry holds ~200
    # bytes beside its value, so a bigger cache is mostly overhead in a run of a million keys.
    CACHE_BYTES = 16 * 1024 * 1024
    CACHE_ITEM_BYTES = 256 * 1024
    CACHE_ENTRY_OVERHEAD = 200  # bytes of dict entry, key and bytes object beside the value itself

    def __init__(self, url: str, small_output_bytes: int | None = None) -> None:
        self.url = url
        self.small_output_bytes = _small_output_bytes() if small_output_bytes is None else small_output_bytes
        self._fs, self._root = fsspec.core.url_to_fs(url)
        protocols = (self._fs.protocol,) if isinstance(self._fs.protocol, str) else tuple(self._fs.protocol)
        self._local = "file" in protocols
        root = self._root.rstrip("/")
        self._segments = LocalSegments(root) if self._local else RemoteSegments(self._fs, root)
        self._made_dirs: set[str] = set()
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = 0

    def __getstate__(self) -> dict:
        return {"url": self.url, "small_output_bytes": self.small_output_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"], state.get("small_output_bytes"))  # type: ignore[misc]

    def _run_directory(self, run_id: str) -> str:
        return f"{self._root.rstrip('/')}/{run_id}"

    def path_of(self, ref: str) -> str:
        """The file (or object) holding ``ref``'s bytes: its segment, shared with other refs, or its own file."""
        where = self._slice(ref)
        if where is not None:
            return segment_path(self._root.rstrip("/"), where.run_id, where.segment)
        run_id, step_key, output, *mapping_key = ref.split("/")
        name = f"{step_key}.{output}/{mapping_key[0]}" if mapping_key else f"{step_key}.{output}"
        return f"{self._run_directory(run_id)}/{name}.pkl"

    def _slice(self, ref: str) -> SegmentSlice | None:
        try:
            return parse_segment_ref(ref)
        except SegmentError as error:
            raise OutputStoreError(str(error)) from None

    def unreferenced_files(self, run_id: str, keep: Iterable[str] = ()) -> dict[str, int]:
        """The files under ``run_id``'s directory that no ref in ``keep`` names, with their sizes in bytes.

        Deleting a run removes these; files that surviving runs still reference stay readable
        (a segment stays whole while any kept ref names a slice of it).
        """
        kept = {self.path_of(ref) for ref in keep}
        directory = self._run_directory(run_id)
        self._fs.invalidate_cache(directory)  # object stores cache listings; workers may have written since
        found = self._fs.find(directory, detail=True)
        return {path: info.get("size") or 0 for path, info in found.items() if path not in kept}

    def remove_files(self, run_id: str, paths: Iterable[str]) -> None:
        """Remove ``paths`` (from :meth:`unreferenced_files`), then ``run_id``'s directories left empty."""
        self._segments.close()  # an open segment file would keep its disk space after removal
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
        try:
            if len(data) <= self.small_output_bytes:
                ref = self._segments.append(run_of_ref(ref), data)
            elif self._local:
                self._write_local(self.path_of(ref), data)
            else:
                with self._fs.open(self.path_of(ref), "wb") as handle:
                    handle.write(data)
        except OSError as error:
            raise OutputStoreError(f"Output '{ref}' could not be written to {self.url}: {error}") from error
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
            self._cache_size += len(data) + self.CACHE_ENTRY_OVERHEAD
            while self._cache_size > self.CACHE_BYTES:
                _, evicted = self._cache.popitem(last=False)
                self._cache_size -= len(evicted) + self.CACHE_ENTRY_OVERHEAD

    def get(self, ref: str) -> Any:
        cached = self._cache.get(ref)
        if cached is not None:
            return pickle.loads(cached)
        where = self._slice(ref)
        try:
            if where is not None:
                return pickle.loads(self._segments.read(where))
            if self._local:
                with open(self.path_of(ref), "rb") as handle:
                    return pickle.load(handle)
            with self._fs.open(self.path_of(ref), "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            raise OutputStoreError(f"No output stored at '{ref}' in {self.url}.") from None
        except SegmentError as error:
            raise OutputStoreError(f"No output stored at '{ref}' in {self.url}: {error}.") from None

    def get_many(self, refs: list[str]) -> list[Any]:
        """The values of ``refs``, in order: the slices of one segment come from one read of the span they
        cover, so a collect of a million small values reads a few files, not a million slices."""
        # Each ref's place is kept as three integers (its segment's number, offset, length), not as its parsed
        # slice: a million slices, each with its own strings, are ~280 MB.
        numbers: dict[tuple[str, str], int] = {}  # (run, segment) -> its number
        spans: list[list[int]] = []  # by segment number: [start, end, bytes wanted]
        places = array("q")  # by ref: segment number (-1: read alone), offset, length
        for ref in refs:
            where = None if ref in self._cache else self._slice_or_none(ref)
            if where is None:
                places.extend((-1, 0, 0))
                continue
            number = numbers.setdefault((where.run_id, where.segment), len(numbers))
            if number == len(spans):
                spans.append([where.offset, where.offset, 0])
            span = spans[number]
            span[0], span[1] = min(span[0], where.offset), max(span[1], where.offset + where.length)
            span[2] += where.length
            places.extend((number, where.offset, where.length))
        blocks: dict[int, tuple[int, bytes]] = {}
        for (run_id, segment), number in numbers.items():
            start, end, wanted = spans[number]
            if end - start > 4 * wanted + self.CACHE_ITEM_BYTES:
                continue  # a few values scattered over a big segment: read them one by one
            try:
                blocks[number] = (start, self._segments.read(SegmentSlice(run_id, segment, start, end - start)))
            except (FileNotFoundError, SegmentError):
                pass  # named below, by the first ref that cannot be read
        values = []
        for index, ref in enumerate(refs):
            block = blocks.get(places[3 * index])
            if block is None:
                values.append(self.get(ref))
            else:
                start = places[3 * index + 1] - block[0]
                values.append(pickle.loads(block[1][start:start + places[3 * index + 2]]))
        return values

    def _slice_or_none(self, ref: str) -> SegmentSlice | None:
        try:
            return self._slice(ref)
        except OutputStoreError:
            return None  # get() reports it

    def exists(self, ref: str) -> bool:
        if ref in self._cache:
            return True
        where = self._slice(ref)
        if where is not None:
            return self._segments.exists(where)
        path = self.path_of(ref)
        return os.path.exists(path) if self._local else self._fs.exists(path)

    def pending_writes(self) -> int:
        return self._segments.pending_writes()

    def flush_due(self) -> bool:
        return self._segments.flush_due()

    def flush(self) -> None:
        try:
            self._segments.flush()
        except OSError as error:
            raise OutputStoreError(f"Outputs could not be written to {self.url}: {error}") from error


def open_output_store(url: str, small_output_bytes: int | None = None) -> OutputStore:
    """The store for ``url``: ``memory://`` for in-process objects, any other fsspec URL for files.

    ``small_output_bytes`` overrides ``DAGVIZ_SMALL_OUTPUT_BYTES`` (see :class:`FsspecOutputStore`).
    """
    if url == MEMORY_URL:
        return InMemoryOutputStore()
    return FsspecOutputStore(url, small_output_bytes)
