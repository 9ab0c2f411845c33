"""MessageStore: the facade the broker uses (Java DefaultMessageStore), wiring the CommitLog,
ConsumeQueues, index, recovery, flush and retention. Puts go through the Appender (appender.py:
validation, the general path, and the fast path of put_path.py, in C when it was built).

Lifecycle: `MessageStore(config).open()` (lock, load, recover; sync) -> `await start()` (flush,
allocation, retention tasks) -> puts and gets -> `await shutdown()`. Tools use
`open(read_only=True)` + `close()`: no lock, no writes, works beside a running broker.
Mutations are plain defs with no await inside; only waiting for a flush is async.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message import MessageConst, MessageExt
from pocketmq.common.message_id import decode_offset_msg_id
from pocketmq.store.appender import Appender
from pocketmq.store.checkpoint import Checkpoint, StoreCheckpoint
from pocketmq.store.commit_log.commit_log import CommitLog
from pocketmq.store.commit_log.record import (
    decode_record,
    read_store_timestamp,
)
from pocketmq.store.config import FlushDiskType, StoreConfig
from pocketmq.store.consume_queue.consume_queue import ConsumeQueue
from pocketmq.store.dispatch import (
    ConsumeQueueTable,
    Dispatcher,
    MessageArrivingListener,
)
from pocketmq.store.filter import MessageFilter
from pocketmq.store.index.index_service import IndexService
from pocketmq.store.lock import StoreLock
from pocketmq.store.mapped_file_queue import MappedFileQueue
from pocketmq.store.pull import PullReader
from pocketmq.store.recovery import RecoveryReport, recover
from pocketmq.store.results import (
    GetMessageResult,
    PutMessageResult,
    PutMessageStatus,
    QueryMessageResult,
)
from pocketmq.store.retention import RetentionOutcome, disk_used_percent, run_retention
from pocketmq.store.services.allocate import AllocateService
from pocketmq.store.services.cleanup import CleanupService
from pocketmq.store.services.flush import FlushService

__all__ = ["MessageStore"]

log = logging.getLogger(__name__)

_WAIT = MessageConst.WAIT_STORE_MSG_OK


def _total_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 << 30


def _create_durably(path: Path) -> None:
    """Create an empty file and fsync its directory, so that it survives a power loss (the
    `abort` file must be there after a crash for recovery to check the tail)."""
    path.touch()
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_host(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class MessageStore:
    def __init__(
        self,
        config: StoreConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        read_only: bool = False,
        accelerated: bool = True,
    ) -> None:
        """`accelerated=False` keeps the put path in pure Python even when its C twin was built
        (tests compare the two)."""
        self.config = config
        self.clock = clock
        self.read_only = read_only
        self.store_host = _parse_host(config.store_host)
        self.commit_log = CommitLog(
            MappedFileQueue(config.commit_log_path, config.commit_log_file_bytes, read_only=read_only),
            self.store_host,
        )
        self.consume_queues = ConsumeQueueTable(
            config.consume_queue_path, config.consume_queue_file_bytes, read_only=read_only
        )
        self.index: IndexService | None = (
            IndexService(
                config.index_path,
                config.index_hash_slot_count,
                config.index_entry_count,
                clock,
                read_only=read_only,
            )
            if config.message_index_enable or read_only
            else None
        )
        self.dispatcher = Dispatcher(self.consume_queues, self.index, config.delay_levels_ms())
        self.checkpoint = StoreCheckpoint(config.store_root_dir / "checkpoint", read_only=read_only)
        self._lock = StoreLock(config.store_root_dir)
        self._abort_path = config.store_root_dir / "abort"
        self._memory_bytes = _total_memory_bytes() * config.access_message_in_memory_max_ratio // 100
        self._reader = PullReader(self.commit_log, config, self._memory_bytes)
        self._sync_flush = config.flush_disk_type is FlushDiskType.SYNC_FLUSH
        self._appender = Appender(
            config,
            self.commit_log,
            self.consume_queues,
            self.index,
            self.dispatcher,
            clock,
            self.store_host,
            read_only=read_only,
            accelerated=accelerated,
        )
        self._fast_append = self._appender.fast_append
        self._append_general = self._appender.append_general
        self._flush: FlushService | None = None
        self._allocate: AllocateService | None = None
        self._cleanup: CleanupService | None = None
        self._opened = False
        self._last_min_offset = -1
        self.recovery_report: RecoveryReport | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> RecoveryReport:
        """Lock, load and recover (sync). Raises StoreLockedError when another process holds it."""
        root = self.config.store_root_dir
        if self.read_only:
            if not root.is_dir():
                raise PocketMQError(f"{root} is not a store directory")
        else:
            root.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        try:
            abnormal = self._abort_path.exists()
            if not self.read_only:
                _create_durably(self._abort_path)
            self.commit_log.files.load()
            self.consume_queues.load()
            if self.index is not None:
                self.index.load()
            report = recover(
                self.commit_log,
                self.consume_queues,
                self.index,
                self.dispatcher,
                self.checkpoint,
                abnormal=abnormal,
                read_only=self.read_only,
            )
            if not self.read_only:
                self._correct_min_offsets()
            else:
                for queue in self.consume_queues.queues.values():
                    queue.correct_min_offset(self.commit_log.min_offset)
        except BaseException:
            self.close()
            raise
        self.recovery_report = report
        self._opened = True
        self._appender.set_accepting(not self.read_only)
        log.info(
            "store %s opened (%s): CommitLog [%d, %d), %d queues, recovery %s",
            root,
            "read-only" if self.read_only else "read-write",
            self.commit_log.min_offset,
            self.commit_log.max_offset,
            len(self.consume_queues.queues),
            report,
        )
        return report

    def _correct_min_offsets(self) -> None:
        min_offset = self.commit_log.min_offset
        for queue in self.consume_queues.queues.values():
            queue.correct_min_offset(min_offset)
        self._last_min_offset = min_offset

    async def start(self) -> None:
        """Start flush, allocation and retention (writable stores only)."""
        if self.read_only:
            return
        if not self._opened:
            self.open()
        config = self.config
        self._flush = FlushService(
            self.commit_log,
            self.consume_queues,
            self.index,
            self.dispatcher,
            self.checkpoint,
            self.clock,
            sync_flush=self._sync_flush,
            flush_interval_ms=config.flush_interval_ms,
            flush_consume_queue_interval_ms=config.flush_consume_queue_interval_ms,
            sync_flush_timeout_ms=config.sync_flush_timeout_ms,
        )
        await self._flush.start()
        if config.preallocate_next_segment:
            self._allocate = AllocateService(self.commit_log.files)
            self.commit_log.on_roll = self._allocate.request
            await self._allocate.start()
        self._cleanup = CleanupService(self.run_retention, config.clean_resource_interval_ms)
        await self._cleanup.start()

    async def shutdown(self) -> None:
        """Stop the services, flush everything, write the checkpoint, remove `abort`, unlock."""
        self._appender.set_accepting(False)
        if self._cleanup is not None:
            await self._cleanup.stop()
        if self._allocate is not None:
            await self._allocate.stop()
            self.commit_log.on_roll = None
        if self._flush is not None:
            await self._flush.stop()
        elif self._opened and not self.read_only:
            self.flush_now()
        if self._opened and not self.read_only:
            self._abort_path.unlink(missing_ok=True)
        self.close()

    def flush_now(self) -> None:
        """Blocking full flush + checkpoint (tools, tests and shutdown without services)."""
        for mapped in self.commit_log.files.files:
            if mapped.flushed_position < mapped.wrote_position:
                mapped.flush()
                mapped.flushed_position = mapped.wrote_position
                mapped.release_descriptor()
        for queue in self.consume_queues.queues.values():
            queue.flush()
        if self.index is not None:
            self.index.flush()
        self.checkpoint.write(
            Checkpoint(
                self.commit_log.last_store_timestamp or self.checkpoint.value.physic_msg_timestamp,
                self.dispatcher.last_store_timestamp or self.checkpoint.value.logics_msg_timestamp,
                self.checkpoint.value.index_msg_timestamp,
            )
        )

    def close(self) -> None:
        """Unmap everything and release the lock (no flush: see shutdown)."""
        self._appender.set_accepting(False)
        self.commit_log.close()
        self.consume_queues.close()
        if self.index is not None:
            self.index.close()
        self._lock.release()
        self._opened = False

    def register_arrival_listener(self, listener: MessageArrivingListener) -> None:
        """`listener(topic, queue_id, max_offset)` runs synchronously after each put that added
        units to a queue (the broker wakes held pulls from it; keep it cheap)."""
        self.dispatcher.listeners.append(listener)

    # -- put ------------------------------------------------------------------------------------
    def append_message(
        self, message: MessageExt, *, properties_string: str | None = None
    ) -> PutMessageResult:
        """Append and dispatch one message now, without waiting for a flush. The message is not
        modified; `properties_string` (the wire form) saves re-encoding the properties."""
        return self._appender.append(message, properties_string)

    async def put_message(
        self, message: MessageExt, *, properties_string: str | None = None
    ) -> PutMessageResult:
        """Append one message; with SYNC_FLUSH wait until an fsync covers it (unless its WAIT
        property is "false"). Status FLUSH_DISK_TIMEOUT after syncFlushTimeout."""
        result = self._fast_append(message, properties_string)
        if result is None:
            result = self._append_general(message, properties_string)
        if (
            self._sync_flush
            and result.status is PutMessageStatus.PUT_OK
            and message.properties.get(_WAIT) != "false"
        ):
            result.status = await self.wait_flushed(result.end_offset)
        return result

    def append_messages(self, messages: Sequence[MessageExt]) -> PutMessageResult:
        """Append a batch (one topic and queue) contiguously with consecutive queue offsets;
        all or nothing (Java putMessages / MessageExtBatch)."""
        return self._appender.append_batch(messages)

    async def put_messages(self, messages: Sequence[MessageExt]) -> PutMessageResult:
        result = self.append_messages(messages)
        if self._sync_flush and result.status is PutMessageStatus.PUT_OK:
            result.status = await self.wait_flushed(result.end_offset)
        return result

    async def wait_flushed(self, end_offset: int) -> PutMessageStatus:
        """SYNC_FLUSH group commit for callers of append_*: PUT_OK once an fsync covers
        `end_offset`, FLUSH_DISK_TIMEOUT after syncFlushTimeout. Before `start()` (no flush
        service) the CommitLog is fsynced right here, in this thread."""
        if self._flush is None:
            for mapped in self.commit_log.files.files:
                if mapped.flushed_position < mapped.wrote_position:
                    mapped.flush()
                    mapped.flushed_position = mapped.wrote_position
            return PutMessageStatus.PUT_OK
        return await self._flush.wait_flushed(end_offset)

    # -- get ------------------------------------------------------------------------------------
    def get_message(  # noqa: PLR0917 (Java signature)
        self,
        group: str,
        topic: str,
        queue_id: int,
        queue_offset: int,
        max_count: int,
        message_filter: MessageFilter | None = None,
    ) -> GetMessageResult:
        """Messages of one queue from `queue_offset` with RocketMQ's statuses, next begin offset
        and min/max offsets (Java DefaultMessageStore#getMessage on a master). `group` is for
        statistics, as in Java."""
        return self._reader.get_message(
            self.consume_queues.find(topic, queue_id), queue_offset, max_count, message_filter
        )

    # -- offsets --------------------------------------------------------------------------------
    def get_min_offset_in_queue(self, topic: str, queue_id: int) -> int:
        queue = self.consume_queues.find(topic, queue_id)
        return queue.min_offset if queue is not None else 0

    def get_max_offset_in_queue(self, topic: str, queue_id: int) -> int:
        queue = self.consume_queues.find(topic, queue_id)
        return queue.max_offset if queue is not None else 0

    @property
    def min_commit_log_offset(self) -> int:
        return self.commit_log.min_offset

    @property
    def max_commit_log_offset(self) -> int:
        return self.commit_log.max_offset

    def _store_timestamp_at(self, commit_log_offset: int, size: int) -> int:
        return self._reader.store_timestamp_at(commit_log_offset, size)

    def get_offset_in_queue_by_time(self, topic: str, queue_id: int, timestamp: int) -> int:
        """Queue offset of the message stored closest to `timestamp` (SEARCH_OFFSET_BY_TIMESTAMP;
        Java's binary search within one ConsumeQueue file)."""
        return self._reader.offset_by_time(self.consume_queues.find(topic, queue_id), timestamp)

    def get_message_store_timestamp(self, topic: str, queue_id: int, queue_offset: int) -> int:
        queue = self.consume_queues.find(topic, queue_id)
        unit = queue.unit_at(queue_offset) if queue is not None else None
        if unit is None:
            return -1
        return self._store_timestamp_at(unit[0], unit[1])

    def get_earliest_message_time(self, topic: str | None = None, queue_id: int = 0) -> int:
        """Store time of the first message of a queue (GET_EARLIEST_MSG_STORETIME), or of the
        whole CommitLog when `topic` is None; -1 when there is none."""
        if topic is None:
            record = self.commit_log.read_record(self.commit_log.min_offset)
            return read_store_timestamp(record, 0) if record else -1
        queue = self.consume_queues.find(topic, queue_id)
        if queue is None:
            return -1
        return self.get_message_store_timestamp(topic, queue_id, queue.min_offset)

    def check_in_memory_by_consume_offset(self, topic: str, queue_id: int, queue_offset: int) -> bool:
        """True while the message at `queue_offset` counts as "in memory" (Java
        !checkInDiskByConsumeOffset): the new-group offset rule of PROTOCOL.md uses it."""
        queue = self.consume_queues.find(topic, queue_id)
        unit = queue.unit_at(queue_offset) if queue is not None else None
        if unit is None:
            return False
        return not self._reader.in_disk(unit[0], self.commit_log.max_offset)

    # -- look-ups -------------------------------------------------------------------------------
    def select_one_message_by_offset(self, commit_log_offset: int, size: int | None = None) -> bytes | None:
        """The raw record at `commit_log_offset` (a copy), or None."""
        if size is None:
            return self.commit_log.read_record(commit_log_offset)
        return self.commit_log.get_data(commit_log_offset, size)

    def look_message_by_offset(self, commit_log_offset: int) -> MessageExt | None:
        record = self.commit_log.read_record(commit_log_offset)
        if record is None:
            return None
        return decode_record(record)

    def view_message_by_id(self, offset_msg_id: str) -> MessageExt | None:
        """Decode an offset msgId (VIEW_MESSAGE_BY_ID); ValueError for a malformed id."""
        return self.look_message_by_offset(decode_offset_msg_id(offset_msg_id).commit_log_offset)

    def query_message(self, topic: str, key: str, max_count: int, begin: int, end: int) -> QueryMessageResult:
        """Messages indexed under `topic#key` stored within [begin, end] (QUERY_MESSAGE); like Java
        the records are not re-checked against the key (clients filter)."""
        result = QueryMessageResult()
        if self.index is None:
            return result
        result.index_last_update_timestamp = self.index.end_timestamp
        result.index_last_update_commit_log_offset = self.index.end_phy_offset
        for offset in self.index.query_offsets(topic, key, max_count, begin, end):
            record = self.commit_log.read_record(offset)
            if record is not None:
                result.messages.append(record)
                result.commit_log_offsets.append(offset)
        return result

    # -- topics ---------------------------------------------------------------------------------
    def queue_ids(self, topic: str) -> list[int]:
        return sorted(queue_id for (name, queue_id) in self.consume_queues.queues if name == topic)

    def topics(self) -> list[str]:
        return sorted({name for (name, _) in self.consume_queues.queues})

    def find_consume_queue(self, topic: str, queue_id: int) -> ConsumeQueue | None:
        return self.consume_queues.find(topic, queue_id)

    def delete_topics(self, topics: set[str]) -> int:
        """Drop the ConsumeQueues of `topics` (DELETE_TOPIC_IN_BROKER); the CommitLog keeps the
        records until retention removes them."""
        removed = 0
        for key in [key for key in self.consume_queues.queues if key[0] in topics]:
            queue = self.consume_queues.queues.pop(key)
            queue.destroy()
            self.commit_log.queue_offsets.pop(key, None)
            removed += 1
        return removed

    # -- retention ------------------------------------------------------------------------------
    def run_retention(self, *, now_ms: int | None = None, manual: bool = False) -> RetentionOutcome:
        """One retention pass (the cleanup service calls it every cleanResourceInterval)."""
        config = self.config
        outcome = run_retention(
            self.commit_log,
            self.consume_queues,
            self.index,
            now_ms=self.clock.now_ms() if now_ms is None else now_ms,
            file_reserved_hours=config.file_reserved_hours,
            delete_when=config.delete_when,
            disk_max_used_space_ratio=config.disk_max_used_space_ratio,
            delete_files_batch_max=config.delete_files_batch_max,
            disk_used=disk_used_percent(config.commit_log_path),
            manual=manual,
        )
        if outcome.deleted_segments:
            log.info("retention (%s): %s", outcome.reason, outcome)
        return outcome

    def runtime_info(self) -> dict[str, str]:
        """Store facts for GET_BROKER_RUNTIME_INFO, under their Java names."""
        ratio = (
            disk_used_percent(self.config.commit_log_path) / 100
            if self.config.commit_log_path.exists()
            else 0
        )
        return {
            "commitLogMinOffset": str(self.commit_log.min_offset),
            "commitLogMaxOffset": str(self.commit_log.max_offset),
            "commitLogDiskRatio": f"{ratio:.2f}",
            "dispatchBehindBytes": str(max(0, self.commit_log.max_offset - self.dispatcher.dispatched_end)),
            "earliestMessageTimeStamp": str(self.get_earliest_message_time()),
        }

    @property
    def is_open(self) -> bool:
        return self._opened
