"""ConsumeQueue: per (topic, queue_id) index of 20-byte units into the CommitLog.

Rules: derived data only (recovery may rebuild it from the CommitLog); never reads message
bodies. Files live in `consumequeue/<topic>/<queue_id>/<20-digit start byte offset>`.
Java: ConsumeQueue.
"""

from __future__ import annotations

from pathlib import Path

from pocketmq.store.consume_queue.unit import BLANK_UNIT_SIZE, CQ_UNIT, CQ_UNIT_BYTES, unpack_units
from pocketmq.store.mapped_file import MappedFile
from pocketmq.store.mapped_file_queue import MappedFileQueue

__all__ = ["ConsumeQueue"]

_BLANK_UNIT = CQ_UNIT.pack(0, BLANK_UNIT_SIZE, 0)

#: Units read at a time when looking for the first live unit (1,024 units).
_SCAN_CHUNK_BYTES = 1024 * CQ_UNIT_BYTES


class ConsumeQueue:
    __slots__ = (
        "_last",
        "file_bytes",
        "files",
        "max_commit_log_end",
        "min_logic_offset",
        "queue_id",
        "read_only",
        "topic",
    )

    def __init__(
        self, topic: str, queue_id: int, root: Path, file_bytes: int, *, read_only: bool = False
    ) -> None:
        self.topic = topic
        self.queue_id = queue_id
        # Sparse files, as Java's: a queue takes disk space as units arrive, not 6 MB up front.
        self.files = MappedFileQueue(
            root / topic / str(queue_id), file_bytes, read_only=read_only, preallocate=False
        )
        self.file_bytes = file_bytes
        self.read_only = read_only
        #: Byte position of the first live unit (Java minLogicOffset).
        self.min_logic_offset = 0
        #: End (offset + size) of the CommitLog record of the last unit (Java maxPhysicOffset).
        self.max_commit_log_end = -1
        self._last: MappedFile | None = None

    # -- recovery -------------------------------------------------------------------------------
    def load(self) -> None:
        self.files.load()

    def recover(self) -> None:
        """Find the last valid unit (offset >= 0 and size > 0) and cut after it. Java: recover()."""
        files = self.files.files
        if not files:
            return
        index = max(0, len(files) - 3)
        end_offset = files[index].file_from_offset
        self.max_commit_log_end = -1
        for mapped in files[index:]:
            data = mapped.read(0, mapped.mapped_bytes)
            position = 0
            for commit_log_offset, size, _ in CQ_UNIT.iter_unpack(data[: len(data) - len(data) % 20]):
                if commit_log_offset >= 0 and size > 0:
                    position += CQ_UNIT_BYTES
                    if size != BLANK_UNIT_SIZE:
                        self.max_commit_log_end = commit_log_offset + size
                else:
                    break
            end_offset = mapped.file_from_offset + position
            if position < mapped.file_size:
                break
        self.files.truncate(end_offset)
        if self.files.files and self.files.files[0].file_from_offset > self.min_logic_offset:
            self.min_logic_offset = self.files.files[0].file_from_offset
        self._last = None

    def cut_from_commit_log_offset(self, commit_log_offset: int) -> None:
        """Drop every unit pointing at or past `commit_log_offset` (Java truncateDirtyLogicFiles)."""
        files = self.files.files
        cut_at: int | None = None
        for mapped in reversed(files):
            data = mapped.read(0, mapped.wrote_position)
            units = unpack_units(data)
            first_real = next((u for u in units if u[1] != BLANK_UNIT_SIZE), None)
            if first_real is not None and first_real[0] < commit_log_offset:
                # The cut is inside this file: find the first unit at or past the offset.
                for i, (offset, size, _) in enumerate(units):
                    if size != BLANK_UNIT_SIZE and offset >= commit_log_offset:
                        cut_at = mapped.file_from_offset + i * CQ_UNIT_BYTES
                        break
                break
            if units:
                cut_at = mapped.file_from_offset
        if cut_at is not None:
            self.files.truncate(cut_at)
            self._last = None
            self._reset_max_commit_log_end()

    def _reset_max_commit_log_end(self) -> None:
        self.max_commit_log_end = -1
        last = self.files.last
        if last is not None and last.wrote_position >= CQ_UNIT_BYTES:
            offset, size, _ = CQ_UNIT.unpack(last.read(last.wrote_position - CQ_UNIT_BYTES, CQ_UNIT_BYTES))
            if size != BLANK_UNIT_SIZE:
                self.max_commit_log_end = offset + size

    # -- offsets --------------------------------------------------------------------------------
    @property
    def min_offset(self) -> int:
        """First queue offset still served (Java getMinOffsetInQueue)."""
        return self.min_logic_offset // CQ_UNIT_BYTES

    @property
    def max_offset(self) -> int:
        """Queue offset the next unit will get (Java getMaxOffsetInQueue)."""
        return self.files.max_offset // CQ_UNIT_BYTES

    # -- writing (hot path) ---------------------------------------------------------------------
    def put(self, queue_offset: int, commit_log_offset: int, size: int, tags_code: int) -> None:
        """Write the unit for `queue_offset`; a unit already there means recovery is replaying
        (Java putMessagePositionInfo skips it too)."""
        position = queue_offset * CQ_UNIT_BYTES
        mapped = self._last
        if mapped is None or not (
            mapped.file_from_offset <= position < mapped.file_from_offset + self.file_bytes
        ):
            mapped = self._file_for(position)
        relative = position - mapped.file_from_offset
        wrote = mapped.wrote_position
        if relative != wrote:
            if relative < wrote:
                return
            mm = mapped.mm
            assert mm is not None
            for blank in range(wrote, relative, CQ_UNIT_BYTES):
                mm[blank : blank + CQ_UNIT_BYTES] = _BLANK_UNIT
        CQ_UNIT.pack_into(mapped.mm, relative, commit_log_offset, size, tags_code)  # type: ignore[arg-type]
        mapped.wrote_position = relative + CQ_UNIT_BYTES
        self.max_commit_log_end = commit_log_offset + size

    def _file_for(self, position: int) -> MappedFile:
        files = self.files
        last = files.last
        if last is None:
            mapped = files.last_for_write(position)
            self.min_logic_offset = position
        elif position >= last.file_from_offset + self.file_bytes:
            while True:
                mapped = files.last_for_write()
                if mapped.file_from_offset + self.file_bytes > position:
                    break
                mapped.wrote_position = self.file_bytes  # a gap of whole files: never expected
        else:
            found = files.find(position)
            assert found is not None, (self.topic, self.queue_id, position)
            return found
        self._last = mapped
        return mapped

    # -- reading --------------------------------------------------------------------------------
    def read_units(self, queue_offset: int, max_units: int) -> list[tuple[int, int, int]]:
        """Units from `queue_offset` to the end of its file (at most `max_units`); empty if the
        offset is not held. Java getIndexBuffer: a read never crosses a file."""
        position = queue_offset * CQ_UNIT_BYTES
        if position < self.min_logic_offset:
            return []
        mapped = self.files.find(position)
        if mapped is None:
            return []
        relative = position - mapped.file_from_offset
        size = min(mapped.wrote_position - relative, max_units * CQ_UNIT_BYTES)
        if size <= 0:
            return []
        return unpack_units(mapped.read(relative, size))

    def unit_at(self, queue_offset: int) -> tuple[int, int, int] | None:
        units = self.read_units(queue_offset, 1)
        return units[0] if units else None

    def roll_next_file(self, queue_offset: int) -> int:
        """First queue offset of the file after the one holding `queue_offset`."""
        units_per_file = self.file_bytes // CQ_UNIT_BYTES
        return queue_offset + units_per_file - queue_offset % units_per_file

    # -- retention ------------------------------------------------------------------------------
    def delete_expired(self, min_commit_log_offset: int) -> int:
        """Delete files whose last unit points before the CommitLog's min offset (never the last
        file). Java deleteExpiredFileByOffset."""
        count = 0
        for mapped in self.files.files[:-1]:
            if mapped.wrote_position < CQ_UNIT_BYTES:
                break
            offset, _, _ = CQ_UNIT.unpack(mapped.read(mapped.wrote_position - CQ_UNIT_BYTES, CQ_UNIT_BYTES))
            if offset >= min_commit_log_offset:
                break
            count += 1
        if count:
            self.files.delete_first(count)
        self.correct_min_offset(min_commit_log_offset)
        return count

    def correct_min_offset(self, min_commit_log_offset: int) -> None:
        """Move min_logic_offset to the first unit pointing at or past the CommitLog's min offset."""
        first = self.files.first
        if first is None:
            return
        start = max(self.min_logic_offset, first.file_from_offset)
        mapped = self.files.find(start)
        while mapped is not None:
            # In chunks: this runs on the event loop for every queue, and the answer is nearly
            # always the first unit (copying a whole 6 MB file to look at it stalled every pull).
            relative = start - mapped.file_from_offset
            while relative < mapped.wrote_position:
                length = min(_SCAN_CHUNK_BYTES, mapped.wrote_position - relative)
                data = mapped.read(relative, length)
                for i, (offset, size, _) in enumerate(unpack_units(data)):
                    if size != BLANK_UNIT_SIZE and offset >= min_commit_log_offset:
                        self.min_logic_offset = mapped.file_from_offset + relative + i * CQ_UNIT_BYTES
                        return
                relative += length
            if mapped.wrote_position < mapped.file_size:
                self.min_logic_offset = mapped.file_from_offset + mapped.wrote_position
                return
            start = mapped.file_from_offset + mapped.file_size
            mapped = self.files.find(start)
        self.min_logic_offset = self.files.max_offset

    def flush(self) -> None:
        """Blocking: fdatasync the files written since the last flush."""
        for mapped in self.files.files:
            if mapped.flushed_position < mapped.wrote_position:
                mapped.flush()
                mapped.flushed_position = mapped.wrote_position
                mapped.release_descriptor()

    def close(self) -> None:
        self.files.close()
        self._last = None

    def destroy(self) -> None:
        for mapped in self.files.files:
            mapped.destroy()
        self.files.files = []
        self._last = None
