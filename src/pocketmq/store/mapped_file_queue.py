"""MappedFileQueue: the ordered segment files of one log (CommitLog, one ConsumeQueue).

Java: MappedFileQueue. Files are contiguous: file i starts at first.file_from_offset + i * file_size.
The next segment can be prepared ahead of need (`prepare_next`, run in a worker thread by the
allocate service); `last_for_write` falls back to creating it synchronously.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

from pocketmq.common.errors import CorruptionError
from pocketmq.store.mapped_file import MappedFile, offset_file_name

__all__ = ["MappedFileQueue"]

log = logging.getLogger(__name__)

_SEGMENT_NAME = re.compile(r"^\d{20}$")


class MappedFileQueue:
    def __init__(
        self, directory: Path, file_size: int, *, read_only: bool = False, preallocate: bool = True
    ) -> None:
        """`preallocate=False`: new files are sparse (see create_sized_file)."""
        self.directory = directory
        self.preallocate = preallocate
        self.file_size = file_size
        self.read_only = read_only
        self.files: list[MappedFile] = []
        self._prepared: MappedFile | None = None
        self._create_lock = threading.Lock()

    # -- loading --------------------------------------------------------------------------------
    def load(self) -> None:
        """Map every segment; positions are set to 'full' until recovery says otherwise."""
        if not self.directory.is_dir():
            return
        if not self.read_only:
            for leftover in self.directory.glob("*.tmp"):
                leftover.unlink()  # a segment whose creation a crash interrupted
        names = sorted(p.name for p in self.directory.iterdir() if _SEGMENT_NAME.match(p.name))
        if names and not self.read_only:
            last_path = self.directory / names[-1]
            length = last_path.stat().st_size
            if length < self.file_size:
                # A short last segment (cut by a crash or by hand): what is missing reads as zeros,
                # i.e. a torn tail that recovery cuts.
                log.warning("%s: %d bytes, extended to %d", last_path, length, self.file_size)
                os.truncate(last_path, self.file_size)
        previous: MappedFile | None = None
        for name in names:
            mapped = MappedFile(self.directory / name, self.file_size, read_only=self.read_only)
            if mapped.read_only and mapped.mapped_bytes == 0 and previous is not None:
                mapped.close()  # an empty pre-allocated tail seen by a tool: ignore it
                continue
            if previous is not None and mapped.file_from_offset != previous.file_from_offset + self.file_size:
                expected = previous.file_from_offset + self.file_size
                mapped.close()
                self.close()
                raise CorruptionError(
                    f"{self.directory}: segment {name} follows {previous.path.name}; expected "
                    f"{offset_file_name(expected)} (a segment is missing or the file size changed)"
                )
            mapped.wrote_position = mapped.flushed_position = self.file_size
            if previous is not None:
                previous.release_descriptor()  # all but the last are full and on disk
            self.files.append(mapped)
            previous = mapped

    # -- lookups --------------------------------------------------------------------------------
    @property
    def first(self) -> MappedFile | None:
        return self.files[0] if self.files else None

    @property
    def last(self) -> MappedFile | None:
        return self.files[-1] if self.files else None

    def find(self, offset: int) -> MappedFile | None:
        """The segment holding `offset`, or None."""
        files = self.files
        if not files:
            return None
        index = (offset - files[0].file_from_offset) // self.file_size
        if 0 <= index < len(files):
            return files[index]
        return None

    @property
    def min_offset(self) -> int:
        return self.files[0].file_from_offset if self.files else 0

    @property
    def max_offset(self) -> int:
        last = self.last
        return last.file_from_offset + last.wrote_position if last is not None else 0

    @property
    def flushed_offset(self) -> int:
        for mapped in reversed(self.files):
            if mapped.flushed_position:
                return mapped.file_from_offset + mapped.flushed_position
        return self.min_offset

    # -- writing --------------------------------------------------------------------------------
    def last_for_write(self, start_offset: int = 0) -> MappedFile:
        """The segment to append to, creating the next one when the last is full."""
        last = self.last
        if last is not None and not last.is_full():
            return last
        offset = start_offset - start_offset % self.file_size if last is None else last.end_offset
        mapped = self._take_prepared(offset) or self._create(offset)
        self.files.append(mapped)
        return mapped

    def _take_prepared(self, offset: int) -> MappedFile | None:
        with self._create_lock:
            prepared, self._prepared = self._prepared, None
        if prepared is None:
            return None
        if prepared.file_from_offset == offset:
            return prepared
        prepared.destroy()
        return None

    def _create(self, offset: int) -> MappedFile:
        assert not self.read_only
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._create_lock:
            path = self.directory / offset_file_name(offset)
            return MappedFile(path, self.file_size, create=True, preallocate=self.preallocate)

    def prepare_next(self) -> None:
        """Blocking (worker thread): create the segment after the last one, if not there yet."""
        last = self.last
        if last is None or self.read_only:
            return
        offset = last.file_from_offset + self.file_size
        with self._create_lock:
            if self._prepared is not None or (self.directory / offset_file_name(offset)).exists():
                return
            self._prepared = MappedFile(
                self.directory / offset_file_name(offset),
                self.file_size,
                create=True,
                preallocate=self.preallocate,
            )

    @property
    def needs_prepare(self) -> bool:
        return self._prepared is None and self.last is not None and not self.read_only

    # -- truncation and deletion ----------------------------------------------------------------
    def truncate(self, offset: int) -> None:
        """Cut everything at and after `offset` (recovery): later segments are deleted, the
        segment holding it is zeroed from there on."""
        keep: list[MappedFile] = []
        for mapped in self.files:
            end = mapped.file_from_offset + self.file_size
            if end <= offset:
                keep.append(mapped)
            elif mapped.file_from_offset <= offset:
                position = offset - mapped.file_from_offset
                if not self.read_only:
                    mapped.zero_from(position)
                mapped.wrote_position = mapped.flushed_position = position
                keep.append(mapped)
            elif self.read_only:
                mapped.close()
            else:
                mapped.destroy()
        self.files = keep

    def delete_first(self, count: int) -> list[MappedFile]:
        """Remove the first `count` files from the queue and destroy them (never the last one)."""
        count = min(count, len(self.files) - 1)
        removed, self.files = self.files[:count], self.files[count:]
        for mapped in removed:
            mapped.destroy()
        return removed

    def close(self) -> None:
        for mapped in self.files:
            mapped.close()
        with self._create_lock:
            if self._prepared is not None:
                self._prepared.destroy()  # an unused pre-allocated segment goes (Java does the same)
        self.files = []
        self._prepared = None

    def __len__(self) -> int:
        return len(self.files)
