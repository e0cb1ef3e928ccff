"""Segments: the small outputs of a run appended to a few files (or objects), read back by offset and length.

A file per output costs a filesystem block (4 KB on ext4 for a 15-byte value) and an object
per output costs an S3 request, so outputs whose pickle is small go to a *segment* instead:
on a local filesystem one append-only file per run and per writer (a store instance in one
process), on an object store one object per batch of values. The ref returned by ``put``
names the slice: ``<run id>/@seg/<segment name>/<offset>/<length>``. Its first part stays the
run id (``run_of_ref``), and ``@`` never appears in a step key, so it cannot be mistaken for
the ``<run>/<step>/<output>[/<key>]`` refs of values stored as files.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

SEGMENT_MARK = "@seg"
SEGMENT_DIRECTORY = "segments"
SEGMENT_SUFFIX = ".seg"
SEGMENT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class SegmentError(Exception):
    """A segment ref is malformed, or its bytes are missing or cut short."""


@dataclass(frozen=True, slots=True)
class SegmentSlice:
    """Where a value's pickled bytes lie: in which run's segment, from which byte, how many."""

    run_id: str
    segment: str
    offset: int
    length: int


def segment_ref(run_id: str, segment: str, offset: int, length: int) -> str:
    return f"{run_id}/{SEGMENT_MARK}/{segment}/{offset}/{length}"


def parse_segment_ref(ref: str) -> SegmentSlice | None:
    """The slice a segment ref names; None for any other ref; SegmentError if it is a malformed one."""
    parts = ref.split("/")
    if len(parts) < 2 or parts[1] != SEGMENT_MARK:
        return None
    try:
        run_id, _, segment, offset, length = parts
        where = SegmentSlice(run_id, segment, int(offset), int(length))
    except ValueError:
        raise SegmentError(f"'{ref}' is not a valid segment reference.") from None
    if not SEGMENT_NAME.fullmatch(segment) or where.offset < 0 or where.length < 0:
        raise SegmentError(f"'{ref}' is not a valid segment reference.")
    return where


def segment_path(root: str, run_id: str, segment: str) -> str:
    return f"{root}/{run_id}/{SEGMENT_DIRECTORY}/{segment}{SEGMENT_SUFFIX}"


def writer_name() -> str:
    """A name no other writer uses: host, process id and a random part (two stores in one process differ)."""
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:16] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


_forks = 0  # how many forks this process came through (asking the pid costs a system call per value)


def _after_fork_in_child() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Appender:
    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size


class NothingToFlush:
    """For stores and segments whose writes are readable at once: nothing ever waits to be flushed."""

    def pending_writes(self) -> int:
        return 0

    def flush_due(self) -> bool:
        return False

    def flush(self) -> None:
        pass


class LocalSegments(NothingToFlush):
    """Append-only segment files on a local filesystem, one per run for this writer.

    Each value is written with one ``os.write`` before ``append`` returns, so another process
    reads it at once (no Python buffer to flush, no fsync: the page cache is shared). The
    lock keeps offsets right when several threads (a Dask worker's) share the store. Open
    files are bounded: a few appenders (one per recent run) and a few read handles.
    """

    MAX_APPENDERS = 8
    MAX_READERS = 32

    def __init__(self, root: str) -> None:
        self._root = root
        self._name = writer_name()
        self._forks = _forks
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._appenders: OrderedDict[str, _Appender] = OrderedDict()
        self._readers: OrderedDict[str, int] = OrderedDict()

    def append(self, run_id: str, data: bytes) -> str:
        with self._write_lock:
            appender = self._appender(run_id)
            offset = appender.size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(appender.fd, view):]
            except OSError:  # a partial write (disk full): reopen, so the next offset is the file's real end
                del self._appenders[run_id]
                os.close(appender.fd)
                raise
            appender.size += len(data)
        return segment_ref(run_id, self._name, offset, len(data))

    def _appender(self, run_id: str) -> _Appender:
        if self._forks != _forks:  # a forked child: the parent's files are not ours to append to
            self._appenders.clear()
            self._readers.clear()
            self._name, self._forks = writer_name(), _forks
        appender = self._appenders.get(run_id)
        if appender is not None:
            self._appenders.move_to_end(run_id)
            return appender
        path = segment_path(self._root, run_id, self._name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        appender = self._appenders[run_id] = _Appender(fd, os.fstat(fd).st_size)
        if len(self._appenders) > self.MAX_APPENDERS:
            _, evicted = self._appenders.popitem(last=False)
            os.close(evicted.fd)
        return appender

    def read(self, where: SegmentSlice) -> bytes:
        path = segment_path(self._root, where.run_id, where.segment)
        with self._read_lock:  # held while reading: an evicted handle is never closed under a reader
            fd = self._reader(path)
            data = os.pread(fd, where.length, where.offset)
        if len(data) != where.length:
            raise SegmentError(f"segment {path} ends before byte {where.offset + where.length}")
        return data

    def _reader(self, path: str) -> int:
        fd = self._readers.get(path)
        if fd is not None:
            self._readers.move_to_end(path)
            return fd
        fd = self._readers[path] = os.open(path, os.O_RDONLY)  # FileNotFoundError: the caller says which ref
        if len(self._readers) > self.MAX_READERS:
            _, evicted = self._readers.popitem(last=False)
            os.close(evicted)
        return fd

    def exists(self, where: SegmentSlice) -> bool:
        try:
            return os.stat(segment_path(self._root, where.run_id, where.segment)).st_size >= where.offset + where.length
        except FileNotFoundError:
            return False

    def close(self) -> None:
        """Close every open segment file (before they are removed: an open file keeps its disk space)."""
        with self._write_lock, self._read_lock:
            if self._forks == _forks:
                for fd in [appender.fd for appender in self._appenders.values()] + list(self._readers.values()):
                    os.close(fd)
            self._appenders.clear()
            self._readers.clear()

    def __del__(self) -> None:  # a store dropped without remove_files must not leak its open files
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown: os may already be gone)
            pass


class _Batch:
    __slots__ = ("name", "data", "count")

    def __init__(self, name: str) -> None:
        self.name = name
        self.data = bytearray()
        self.count = 0


class RemoteSegments:
    """Segments on an object store: values buffered per run in memory, uploaded as one object per batch.

    A batch is uploaded when it reaches ``FLUSH_BYTES``, and on ``flush()``; until then its
    refs are readable only from this store instance, so whoever hands refs to another
    process flushes first. ``flush_due`` says when waiting longer is not worth it: at most
    one upload per ``FLUSH_SECONDS`` (so a slow emitter's key goes at once, a fast one's keys
    share objects) unless ``FLUSH_COUNT`` values wait. Uploaded
    segments never change, so reads fetch aligned blocks and keep a few for the next reads
    (a mapped step's input is usually next to the previous key's).
    """

    FLUSH_BYTES = 8 * 1024 * 1024
    FLUSH_COUNT = 1000
    FLUSH_SECONDS = 0.2
    BLOCK_BYTES = 1024 * 1024
    MAX_BLOCKS = 32

    def __init__(self, fs: Any, root: str) -> None:
        self._fs = fs
        self._root = root
        self._name = writer_name()
        self._uploads = 0
        self._last_upload = float("-inf")
        self._lock = threading.RLock()  # held while uploading: a batch's refs stay readable from memory till then
        self._batches: dict[str, _Batch] = {}  # run id -> values not uploaded yet
        self._blocks: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def append(self, run_id: str, data: bytes) -> str:
        with self._lock:
            batch = self._batches.get(run_id)
            if batch is None:
                self._uploads += 1
                batch = self._batches[run_id] = _Batch(f"{self._name}-{self._uploads}")
            offset = len(batch.data)
            batch.data += data
            batch.count += 1
            if len(batch.data) >= self.FLUSH_BYTES:
                self._upload(run_id, batch)
        return segment_ref(run_id, batch.name, offset, len(data))

    def _upload(self, run_id: str, batch: _Batch) -> None:
        self._fs.pipe_file(segment_path(self._root, run_id, batch.name), bytes(batch.data))
        del self._batches[run_id]
        self._last_upload = time.monotonic()

    def pending_writes(self) -> int:
        with self._lock:
            return sum(batch.count for batch in self._batches.values())

    def flush_due(self) -> bool:
        with self._lock:
            count = sum(batch.count for batch in self._batches.values())
        return count > 0 and (count >= self.FLUSH_COUNT or time.monotonic() - self._last_upload >= self.FLUSH_SECONDS)

    def flush(self) -> None:
        """Upload every buffered batch: each ref ``append`` returned is then readable by any process."""
        with self._lock:
            for run_id, batch in list(self._batches.items()):
                self._upload(run_id, batch)

    def read(self, where: SegmentSlice) -> bytes:
        with self._lock:
            batch = self._batches.get(where.run_id)
            if batch is not None and batch.name == where.segment:
                data = bytes(batch.data[where.offset:where.offset + where.length])
                if len(data) != where.length:
                    raise SegmentError(f"segment {where.segment} ends before byte {where.offset + where.length}")
                return data
        path = segment_path(self._root, where.run_id, where.segment)
        first, last = where.offset // self.BLOCK_BYTES, (where.offset + where.length - 1) // self.BLOCK_BYTES
        blocks = b"".join(self._block(path, index) for index in range(first, last + 1))
        start = where.offset - first * self.BLOCK_BYTES
        data = blocks[start:start + where.length]
        if len(data) != where.length:
            raise SegmentError(f"segment {path} ends before byte {where.offset + where.length}")
        return data

    def _block(self, path: str, index: int) -> bytes:
        with self._lock:
            block = self._blocks.get((path, index))
            if block is not None:
                self._blocks.move_to_end((path, index))
                return block
        start = index * self.BLOCK_BYTES
        try:
            block = self._fs.cat_file(path, start=start, end=start + self.BLOCK_BYTES)
        except FileNotFoundError:
            raise
        except OSError as error:  # a range past the end of the object
            raise SegmentError(f"segment {path} has no byte {start}: {error}") from error
        with self._lock:
            self._blocks[(path, index)] = block
            if len(self._blocks) > self.MAX_BLOCKS:
                self._blocks.popitem(last=False)
        return block

    def exists(self, where: SegmentSlice) -> bool:
        with self._lock:
            batch = self._batches.get(where.run_id)
            if batch is not None and batch.name == where.segment:
                return len(batch.data) >= where.offset + where.length
        try:
            info = self._fs.info(segment_path(self._root, where.run_id, where.segment))
        except FileNotFoundError:
            return False
        return (info.get("size") or 0) >= where.offset + where.length

    def close(self) -> None:
        """Forget cached blocks (their segments may be removed); buffered values stay until flushed."""
        with self._lock:
            self._blocks.clear()
