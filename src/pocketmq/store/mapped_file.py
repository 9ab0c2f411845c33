"""MappedFile: one pre-allocated, memory-mapped segment file named by its 20-digit start offset.

Java: MappedFile + ReferenceResource. Writes go straight into the mapping (the caller holds the
event loop, so nothing interleaves); `flush` is a blocking fdatasync meant for a worker thread
(`mmap.flush()` holds the GIL). Readers get copies; anything that keeps a view of the mapping must
`retain()` it first and `release()` it after, and `destroy()` waits for the count to reach zero.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from pocketmq.common.errors import CorruptionError

__all__ = ["MappedFile", "offset_file_name", "create_sized_file"]


def create_sized_file(path: Path, size: int, *, preallocate: bool = True) -> int:
    """Create `path` at its full size, atomically: sized under a temporary name, then renamed, so
    a crash never leaves a short file behind. Returns an open read-write descriptor.

    `preallocate` reserves the blocks too (CommitLog segments: an fdatasync into reserved blocks
    costs half as much); without it the file is sparse, as Java's mmap'd files are (ConsumeQueue
    files: a store with many queues would otherwise reserve 6 MB for each at once)."""
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)
        if preallocate:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError:
                pass  # not supported by this file system: sparse is still correct
        os.rename(temporary, path)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    return fd


def offset_file_name(offset: int) -> str:
    return f"{offset:020d}"


class MappedFile:
    __slots__ = (
        "_destroy_pending",
        "_refs",
        "available",
        "fd",
        "file_from_offset",
        "file_size",
        "flushed_position",
        "mm",
        "path",
        "read_only",
        "wrote_position",
    )

    def __init__(
        self,
        path: Path,
        file_size: int,
        *,
        read_only: bool = False,
        create: bool = False,
        preallocate: bool = True,
    ) -> None:
        self.path = path
        self.file_from_offset = int(path.name)
        self.file_size = file_size
        self.read_only = read_only
        self.wrote_position = 0
        self.flushed_position = 0
        self._refs = 0
        self.available = True
        self._destroy_pending = False
        if read_only:
            self.fd = os.open(path, os.O_RDONLY)
            length = os.fstat(self.fd).st_size
            self.mm: mmap.mmap | None = (
                mmap.mmap(self.fd, min(length, file_size), access=mmap.ACCESS_READ) if length else None
            )
            os.close(self.fd)  # the mapping outlives the descriptor
            self.fd = -1
            return
        if create:
            self.fd = create_sized_file(path, file_size, preallocate=preallocate)
        else:
            self.fd = os.open(path, os.O_RDWR)
        try:
            length = os.fstat(self.fd).st_size
            if length != file_size:
                raise CorruptionError(
                    f"{path}: size {length} differs from the configured {file_size} bytes "
                    "(mappedFileSize* changed, or the file was truncated)"
                )
            self.mm = mmap.mmap(self.fd, file_size)
        except BaseException:
            os.close(self.fd)
            if create:
                path.unlink(missing_ok=True)
            raise

    # -- positions ----------------------------------------------------------------------------
    @property
    def mapped_bytes(self) -> int:
        return len(self.mm) if self.mm is not None else 0

    def is_full(self) -> bool:
        return self.wrote_position >= self.file_size

    @property
    def end_offset(self) -> int:
        return self.file_from_offset + self.wrote_position

    # -- reads ----------------------------------------------------------------------------------
    def read(self, position: int, size: int) -> bytes:
        """A copy of `size` bytes at `position` in this file (short if the mapping is short)."""
        if self.mm is None:
            return b""
        return self.mm[position : position + size]

    # -- references -----------------------------------------------------------------------------
    def retain(self) -> bool:
        """Pin the mapping (False once the file is being destroyed)."""
        if not self.available:
            return False
        self._refs += 1
        return True

    def release(self) -> None:
        assert self._refs > 0, self.path
        self._refs -= 1
        if self._refs == 0 and self._destroy_pending:
            self.destroy()

    @property
    def reference_count(self) -> int:
        return self._refs

    # -- durability -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Blocking: make the mapped writes durable. Call through asyncio.to_thread."""
        if not self.read_only and self.mm is not None:
            fd = self.fd
            if fd < 0:
                fd = os.open(self.path, os.O_RDWR)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            else:
                os.fdatasync(fd)

    def release_descriptor(self) -> None:
        """Close the file descriptor of a full, flushed segment: the mapping stays valid and
        `flush` reopens the file if ever needed. Keeps descriptors bounded on large stores."""
        if self.fd >= 0 and self.flushed_position >= self.file_size:
            os.close(self.fd)
            self.fd = -1

    def zero_from(self, position: int) -> None:
        """Zero from `position` up to the last non-zero byte (recovery cuts a torn tail this way,
        so that no stale record can reappear behind new ones)."""
        assert not self.read_only and self.mm is not None
        end = self.file_size
        chunk = 1 << 20
        while end > position:
            start = max(position, end - chunk)
            if self.mm[start:end].strip(b"\x00"):
                break
            end = start
        # [position, end) may hold non-zero bytes; zero it in chunks.
        while position < end:
            size = min(chunk, end - position)
            self.mm[position : position + size] = bytes(size)
            position += size

    # -- end of life ----------------------------------------------------------------------------
    def close(self) -> None:
        if self.mm is not None:
            self.mm.close()
            self.mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def destroy(self) -> bool:
        """Unmap and delete; deferred while a reader holds a reference. True if deleted now."""
        self.available = False
        if self._refs > 0:
            self._destroy_pending = True
            return False
        self.close()
        self.path.unlink(missing_ok=True)
        return True

    def mtime_ms(self) -> int:
        return os.stat(self.path).st_mtime_ns // 1_000_000

    def __repr__(self) -> str:
        return f"MappedFile({self.path.name}, wrote={self.wrote_position}, flushed={self.flushed_position})"
