"""CommitLog: the append-only log of every message, in pre-allocated mapped segments.

Java: CommitLog (append, read, scan). `append` reserves the offset and writes the record in place
with no await in between: on one event loop that is the put lock. Queue offsets are assigned here
(Java topicQueueTable); prepared and rolled-back transactional records take no queue offset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pocketmq.common.errors import CorruptionError
from pocketmq.common.message import MessageExt
from pocketmq.common.sysflag import BORNHOST_V6, STOREHOSTADDRESS_V6
from pocketmq.store.commit_log.record import (
    BLANK_MAGIC,
    BLANK_RECORD,
    END_FILE_MIN_BLANK_BYTES,
    TOTAL_SIZE,
    RecordInfo,
    check_record,
    encode_record_into,
    host_bytes,
    record_size,
)
from pocketmq.store.mapped_file import MappedFile
from pocketmq.store.mapped_file_queue import MappedFileQueue

__all__ = ["CommitLog", "ScannedRecord", "AppendOutcome"]

_TRANSACTION_MASK = 0xC
_PREPARED_OR_ROLLBACK = (0x4, 0xC)


@dataclass(slots=True)
class ScannedRecord:
    commit_log_offset: int
    info: RecordInfo
    file: MappedFile


class AppendOutcome:
    """Offsets of one appended record or batch (first record's offsets, sizes of each)."""

    __slots__ = ("commit_log_offset", "queue_offset", "record_offsets", "record_sizes", "wrote_bytes")

    def __init__(
        self,
        commit_log_offset: int,
        wrote_bytes: int,
        queue_offset: int,
        record_offsets: tuple[int, ...] = (),
        record_sizes: tuple[int, ...] = (),
    ) -> None:
        self.commit_log_offset = commit_log_offset
        self.wrote_bytes = wrote_bytes
        self.queue_offset = queue_offset
        self.record_offsets = record_offsets
        self.record_sizes = record_sizes


class CommitLog:
    __slots__ = (
        "_last",
        "_store_ip",
        "_store_port",
        "file_bytes",
        "files",
        "last_store_timestamp",
        "on_roll",
        "queue_offsets",
        "store_host",
    )

    def __init__(self, files: MappedFileQueue, store_host: tuple[str, int]) -> None:
        self.files = files
        self.file_bytes = files.file_size
        self.store_host = store_host
        self._store_ip = host_bytes(store_host[0])
        self._store_port = store_host[1]
        #: Next queue offset per (topic, queue_id). Java: CommitLog.topicQueueTable.
        self.queue_offsets: dict[tuple[str, int], int] = {}
        #: Store time of the last record appended (for the checkpoint).
        self.last_store_timestamp = 0
        #: Called (no arguments) after a new segment was taken into use: the allocator prepares the next.
        self.on_roll: Callable[[], None] | None = None
        self._last: MappedFile | None = None

    # -- offsets --------------------------------------------------------------------------------
    @property
    def min_offset(self) -> int:
        first = self.files.first
        if first is None:
            return 0
        return first.file_from_offset if first.available else self.roll_next_file(first.file_from_offset)

    @property
    def max_offset(self) -> int:
        return self.files.max_offset

    def roll_next_file(self, offset: int) -> int:
        return offset + self.file_bytes - offset % self.file_bytes

    # -- append (hot path) ----------------------------------------------------------------------
    def _writable(self, need: int) -> MappedFile:
        """The segment with room for `need` bytes plus a blank record; seals the current one with
        a blank record when it has not (Java END_OF_FILE)."""
        mapped = self._last
        if mapped is None or mapped.is_full():
            mapped = self.files.last_for_write(0)
        if mapped.file_size - mapped.wrote_position < need + END_FILE_MIN_BLANK_BYTES:
            left = mapped.file_size - mapped.wrote_position
            if left > 0:
                assert left >= END_FILE_MIN_BLANK_BYTES, left
                BLANK_RECORD.pack_into(mapped.mm, mapped.wrote_position, left, BLANK_MAGIC)  # type: ignore[arg-type]
                mapped.wrote_position = mapped.file_size
            mapped = self.files.last_for_write(0)
            if self.on_roll is not None:
                self.on_roll()
        self._last = mapped
        return mapped

    def append(  # noqa: PLR0917 (hot path: positional arguments)
        self,
        message: MessageExt,
        topic: str,
        topic_bytes: bytes,
        queue_id: int,
        properties_bytes: bytes,
        store_timestamp: int,
    ) -> AppendOutcome:
        """Append one record; the caller validated the sizes."""
        born_host = message.born_host
        born_ip = host_bytes(born_host[0])
        sys_flag = message.sys_flag
        if len(born_ip) != 4:
            sys_flag |= BORNHOST_V6
        if len(self._store_ip) != 4:
            sys_flag |= STOREHOSTADDRESS_V6
        body = message.body
        total = record_size(len(body), len(topic_bytes), len(properties_bytes), sys_flag)
        mapped = self._writable(total)
        position = mapped.wrote_position
        offset = mapped.file_from_offset + position
        key = (topic, queue_id)
        takes_offset = (sys_flag & _TRANSACTION_MASK) not in _PREPARED_OR_ROLLBACK
        queue_offset = self.queue_offsets.get(key, 0) if takes_offset else 0
        encode_record_into(
            mapped.mm,  # type: ignore[arg-type]
            position,
            total_size=total,
            queue_id=queue_id,
            flag=message.flag,
            queue_offset=queue_offset,
            commit_log_offset=offset,
            sys_flag=sys_flag,
            born_timestamp=message.born_timestamp,
            born_ip=born_ip,
            born_port=born_host[1],
            store_timestamp=store_timestamp,
            store_ip=self._store_ip,
            store_port=self._store_port,
            reconsume_times=message.reconsume_times,
            prepared_transaction_offset=message.prepared_transaction_offset,
            body=body,
            topic=topic_bytes,
            properties=properties_bytes,
        )
        # Written: only now reserve the queue offset (a failed encode must leave no gap).
        if takes_offset:
            self.queue_offsets[key] = queue_offset + 1
        mapped.wrote_position = position + total
        self.last_store_timestamp = store_timestamp
        return AppendOutcome(offset, total, queue_offset)

    def append_batch(
        self,
        messages: list[tuple[MessageExt, bytes]],
        topic: str,
        topic_bytes: bytes,
        queue_id: int,
        store_timestamp: int,
    ) -> AppendOutcome:
        """Append a batch contiguously in one segment, with consecutive queue offsets
        (Java MessageExtBatch); `messages` pairs each message with its properties bytes."""
        sizes = []
        born_ips = []
        store_v6 = STOREHOSTADDRESS_V6 if len(self._store_ip) != 4 else 0
        for message, properties_bytes in messages:
            born_ip = host_bytes(message.born_host[0])  # parsed once per host (cached)
            born_ips.append(born_ip)
            flags = message.sys_flag | store_v6 | (BORNHOST_V6 if len(born_ip) != 4 else 0)
            sizes.append(record_size(len(message.body), len(topic_bytes), len(properties_bytes), flags))
        mapped = self._writable(sum(sizes))
        key = (topic, queue_id)
        first_queue_offset = self.queue_offsets.get(key, 0)
        position = mapped.wrote_position
        offsets = []
        for i, ((message, properties_bytes), total, born_ip) in enumerate(
            zip(messages, sizes, born_ips, strict=True)
        ):
            sys_flag = message.sys_flag | store_v6 | (BORNHOST_V6 if len(born_ip) != 4 else 0)
            offset = mapped.file_from_offset + position
            offsets.append(offset)
            encode_record_into(
                mapped.mm,  # type: ignore[arg-type]
                position,
                total_size=total,
                queue_id=queue_id,
                flag=message.flag,
                queue_offset=first_queue_offset + i,
                commit_log_offset=offset,
                sys_flag=sys_flag,
                born_timestamp=message.born_timestamp,
                born_ip=born_ip,
                born_port=message.born_host[1],
                store_timestamp=store_timestamp,
                store_ip=self._store_ip,
                store_port=self._store_port,
                reconsume_times=message.reconsume_times,
                prepared_transaction_offset=message.prepared_transaction_offset,
                body=message.body,
                topic=topic_bytes,
                properties=properties_bytes,
            )
            position += total
        self.queue_offsets[key] = first_queue_offset + len(messages)
        mapped.wrote_position = position
        self.last_store_timestamp = store_timestamp
        return AppendOutcome(offsets[0], sum(sizes), first_queue_offset, tuple(offsets), tuple(sizes))

    # -- reads ----------------------------------------------------------------------------------
    def get_data(self, commit_log_offset: int, size: int) -> bytes | None:
        """A copy of `size` bytes at `commit_log_offset`, or None if not (or no longer) held."""
        mapped = self.files.find(commit_log_offset)
        if mapped is None or not mapped.available:
            return None
        position = commit_log_offset - mapped.file_from_offset
        if position + size > mapped.wrote_position:
            return None
        return mapped.read(position, size)

    def read_record(self, commit_log_offset: int) -> bytes | None:
        """The whole record starting at `commit_log_offset`."""
        head = self.get_data(commit_log_offset, 4)
        if head is None or len(head) < 4:
            return None
        (size,) = TOTAL_SIZE.unpack(head)
        if size <= 0:
            return None
        return self.get_data(commit_log_offset, size)

    # -- scanning -------------------------------------------------------------------------------
    def scan(self, start: int, end: int | None = None, *, check_crc: bool = True) -> Iterator[ScannedRecord]:
        """Records from `start` (a record boundary) on. Stops at the end of the data; yields an
        invalid RecordInfo (size -1) once and stops there. Blank records are yielded (info.blank)
        and roll to the next file."""
        mapped = self.files.find(start)
        position = start - mapped.file_from_offset if mapped is not None else 0
        while mapped is not None:
            limit = min(mapped.wrote_position, mapped.mapped_bytes)
            mm = mapped.mm
            if mm is None:
                return
            while True:
                offset = mapped.file_from_offset + position
                if end is not None and offset >= end:
                    return
                info = check_record(mm, position, limit, check_crc=check_crc)
                if info.size > 0:
                    if info.commit_log_offset != offset:
                        info = RecordInfo(
                            size=-1,
                            error=f"PHYSICALOFFSET field {info.commit_log_offset} != position {offset}",
                        )
                        yield ScannedRecord(offset, info, mapped)
                        return
                    yield ScannedRecord(offset, info, mapped)
                    position += info.size
                    continue
                if info.size < 0:
                    yield ScannedRecord(offset, info, mapped)
                    return
                if info.blank:
                    yield ScannedRecord(offset, info, mapped)
                    break  # on to the next file
                if limit - position < END_FILE_MIN_BLANK_BYTES and limit == mapped.file_size:
                    break
                if position >= limit and limit < mapped.file_size and mapped is not self.files.last:
                    break  # a segment that recovery ended early (corrupt rest, skipped): go on
                return  # zeros: the end of the data
            next_file = self.files.find(mapped.file_from_offset + mapped.file_size)
            mapped, position = next_file, 0

    def describe(self, commit_log_offset: int) -> str:
        mapped = self.files.find(commit_log_offset)
        if mapped is None:
            return f"commit-log offset {commit_log_offset} (no segment holds it)"
        position = commit_log_offset - mapped.file_from_offset
        return f"{mapped.path} at position {position} (offset {commit_log_offset})"

    def close(self) -> None:
        self.files.close()
        self._last = None


def corruption(commit_log: CommitLog, offset: int, error: str) -> CorruptionError:
    return CorruptionError(f"{commit_log.describe(offset)}: {error}")
