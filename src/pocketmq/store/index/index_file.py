"""IndexFile: one fixed-size hash index file (Java IndexFile + IndexHeader).

put_key chains entries per slot newest-first through prev_index; select_offsets walks a chain
within a time range. `cut` drops entries from a commit-log offset on (abnormal recovery).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from pocketmq.common.errors import CorruptionError
from pocketmq.store.index.layout import (
    INDEX_ENTRY,
    INDEX_ENTRY_BYTES,
    INDEX_HEADER,
    INDEX_HEADER_BYTES,
    SLOT,
)
from pocketmq.store.mapped_file import create_sized_file

__all__ = ["IndexFile"]

_INT_MAX = 0x7FFFFFFF
_unpack_slot = SLOT.unpack_from
_pack_slot = SLOT.pack_into
_pack_entry = INDEX_ENTRY.pack_into


class IndexFile:
    __slots__ = (
        "_entries_at",
        "begin_phy_offset",
        "begin_timestamp",
        "end_phy_offset",
        "end_timestamp",
        "entry_count",
        "fd",
        "file_size",
        "flushed",
        "hash_slot_count",
        "index_count",
        "mm",
        "path",
        "read_only",
        "slot_count",
    )

    def __init__(
        self,
        path: Path,
        slot_count: int,
        entry_count: int,
        *,
        read_only: bool = False,
        create: bool = False,
        previous_end_phy_offset: int = 0,
        previous_end_timestamp: int = 0,
    ) -> None:
        self.path = path
        self.slot_count = slot_count
        self.entry_count = entry_count
        self.read_only = read_only
        self.file_size = INDEX_HEADER_BYTES + 4 * slot_count + INDEX_ENTRY_BYTES * entry_count
        self._entries_at = INDEX_HEADER_BYTES + 4 * slot_count
        if read_only:
            self.fd = os.open(path, os.O_RDONLY)
            length = os.fstat(self.fd).st_size
            self.mm = mmap.mmap(self.fd, min(length, self.file_size), access=mmap.ACCESS_READ)
        else:
            self.fd = create_sized_file(path, self.file_size) if create else os.open(path, os.O_RDWR)
            length = os.fstat(self.fd).st_size
            if length != self.file_size:
                os.close(self.fd)
                raise CorruptionError(
                    f"{path}: size {length} differs from the configured index size {self.file_size} "
                    "(maxHashSlotNum / maxIndexNum changed?)"
                )
            self.mm = mmap.mmap(self.fd, self.file_size)
        if len(self.mm) < INDEX_HEADER_BYTES:
            raise CorruptionError(f"{path}: shorter than the 40-byte index header")
        (
            self.begin_timestamp,
            self.end_timestamp,
            self.begin_phy_offset,
            self.end_phy_offset,
            self.hash_slot_count,
            self.index_count,
        ) = INDEX_HEADER.unpack_from(self.mm, 0)
        if self.index_count <= 0:
            self.index_count = 1
        if not read_only and not create:
            self._recount()
        if create:
            if previous_end_phy_offset > 0:
                self.begin_phy_offset = self.end_phy_offset = previous_end_phy_offset
            if previous_end_timestamp > 0:
                self.begin_timestamp = self.end_timestamp = previous_end_timestamp
            self._write_header()
        self.flushed = True

    def _recount(self) -> None:
        """The header is written at flush time, so after a crash entries may follow its
        index_count: count them back in (their slots already point at them)."""
        count = self.index_count
        while count < self.entry_count:
            key_hash, phy_offset, time_diff, prev = self.entry(count)
            if key_hash == 0 and phy_offset == 0 and time_diff == 0 and prev == 0:
                break
            count += 1
        if count > self.index_count:
            _, phy_offset, time_diff, _ = self.entry(count - 1)
            if self.index_count <= 1:
                _, self.begin_phy_offset, _, _ = self.entry(1)
            self.index_count = count
            self.end_phy_offset = phy_offset
            self.end_timestamp = max(self.end_timestamp, self.begin_timestamp + time_diff * 1000)
            self.hash_slot_count = sum(
                1 for (slot,) in SLOT.iter_unpack(self.mm[INDEX_HEADER_BYTES : self._entries_at]) if slot > 0
            )
            self._write_header()

    def _write_header(self) -> None:
        INDEX_HEADER.pack_into(
            self.mm, 0, self.begin_timestamp, self.end_timestamp, self.begin_phy_offset,
            self.end_phy_offset, self.hash_slot_count, self.index_count,
        )  # fmt: skip

    @property
    def is_full(self) -> bool:
        return bool(self.index_count >= self.entry_count)

    def put_key(self, key_hash: int, phy_offset: int, store_timestamp: int) -> bool:
        """Add one entry; False when the file is full. Java IndexFile#putKey."""
        index = self.index_count
        if index >= self.entry_count:
            return False
        mm = self.mm
        slot_at = INDEX_HEADER_BYTES + (key_hash % self.slot_count) * 4
        slot_value = _unpack_slot(mm, slot_at)[0]
        if slot_value <= 0 or slot_value > index:
            slot_value = 0
            self.hash_slot_count += 1
        begin = self.begin_timestamp
        if begin <= 0 or store_timestamp < begin:
            time_diff = 0
        else:
            time_diff = (store_timestamp - begin) // 1000
            time_diff = min(time_diff, _INT_MAX)
        _pack_entry(
            mm, self._entries_at + index * INDEX_ENTRY_BYTES, key_hash, phy_offset, time_diff, slot_value
        )
        _pack_slot(mm, slot_at, index)
        if index <= 1:
            self.begin_phy_offset = phy_offset
            self.begin_timestamp = store_timestamp
        self.index_count = index + 1
        self.end_phy_offset = phy_offset
        self.end_timestamp = store_timestamp
        self.flushed = False  # the header is written at flush/close (readers treat it as a hint)
        return True

    def is_time_matched(self, begin: int, end: int) -> bool:
        """Java IndexFile#isTimeMatched."""
        return bool(
            (begin < self.begin_timestamp and end > self.end_timestamp)
            or (self.begin_timestamp <= begin <= self.end_timestamp)
            or (self.begin_timestamp <= end <= self.end_timestamp)
        )

    def entry(self, index: int) -> tuple[int, int, int, int]:
        """(key_hash, phy_offset, time_diff, prev_index) of entry `index`."""
        result: tuple[int, int, int, int] = INDEX_ENTRY.unpack_from(
            self.mm, self._entries_at + index * INDEX_ENTRY_BYTES
        )
        return result

    def select_offsets(self, key_hash: int, max_count: int, begin: int, end: int) -> list[int]:
        """Commit-log offsets of the entries with this hash stored within [begin, end], newest
        first. Java IndexFile#selectPhyOffset."""
        found: list[int] = []
        (slot_value,) = SLOT.unpack_from(self.mm, INDEX_HEADER_BYTES + (key_hash % self.slot_count) * 4)
        if slot_value <= 0 or slot_value > self.index_count or self.index_count <= 1:
            return found
        current = slot_value
        while len(found) < max_count:
            read_hash, phy_offset, time_diff, prev = self.entry(current)
            if time_diff < 0:
                break
            stored_at = self.begin_timestamp + time_diff * 1000
            if read_hash == key_hash and begin <= stored_at <= end:
                found.append(phy_offset)
            if prev <= 0 or prev > self.index_count or prev == current or stored_at < begin:
                break
            current = prev
        return found

    def cut(self, commit_log_offset: int) -> int:
        """Drop the entries (newest first) whose phy_offset >= commit_log_offset and repair the
        slots they headed. Returns how many entries were dropped."""
        assert not self.read_only
        dropped = 0
        mm = self.mm
        while self.index_count > 1:
            last = self.index_count - 1
            key_hash, phy_offset, _, prev = self.entry(last)
            if phy_offset < commit_log_offset:
                break
            slot_at = INDEX_HEADER_BYTES + (key_hash % self.slot_count) * 4
            (slot_value,) = SLOT.unpack_from(mm, slot_at)
            if slot_value == last:
                SLOT.pack_into(mm, slot_at, prev if 0 < prev < last else 0)
                if not 0 < prev < last:
                    self.hash_slot_count -= 1
            at = self._entries_at + last * INDEX_ENTRY_BYTES
            mm[at : at + INDEX_ENTRY_BYTES] = bytes(INDEX_ENTRY_BYTES)
            self.index_count = last
            dropped += 1
        if dropped:
            if self.index_count > 1:
                _, phy_offset, time_diff, _ = self.entry(self.index_count - 1)
                self.end_phy_offset = phy_offset
                self.end_timestamp = self.begin_timestamp + time_diff * 1000
            else:
                self.end_phy_offset = self.begin_phy_offset = 0
                self.end_timestamp = self.begin_timestamp = 0
            self._write_header()
            self.flushed = False
        return dropped

    def flush(self) -> None:
        """Blocking: write the header and fdatasync the file (worker thread)."""
        if not self.read_only:
            self._write_header()
            os.fdatasync(self.fd)
        self.flushed = True

    def close(self) -> None:
        if not self.mm.closed and not self.read_only:
            self._write_header()
        if not self.mm.closed:
            self.mm.close()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def destroy(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
