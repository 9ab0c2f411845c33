"""FlushService: makes CommitLog writes durable, plus ConsumeQueues, indexes and the checkpoint.

Java: CommitLog.FlushRealTimeService (ASYNC_FLUSH: every flushIntervalCommitLog),
GroupCommitService (SYNC_FLUSH) and FlushConsumeQueueService. fsync runs in a worker thread
(`mmap.flush()` would hold the GIL). SYNC_FLUSH: a put waits until a flush covers its end offset;
every put that arrives while an fsync runs shares the next one (group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pocketmq.common.clock import Clock
from pocketmq.store.checkpoint import Checkpoint, StoreCheckpoint
from pocketmq.store.commit_log.commit_log import CommitLog
from pocketmq.store.dispatch import ConsumeQueueTable, Dispatcher
from pocketmq.store.index.index_service import IndexService
from pocketmq.store.mapped_file import MappedFile
from pocketmq.store.results import PutMessageStatus

__all__ = ["FlushService", "flush_commit_log_files"]

log = logging.getLogger(__name__)


def flush_commit_log_files(files: list[tuple[MappedFile, int]]) -> None:
    """Blocking: fdatasync each file (worker thread)."""
    for mapped, _ in files:
        mapped.flush()


class FlushService:
    def __init__(  # noqa: PLR0917
        self,
        commit_log: CommitLog,
        queues: ConsumeQueueTable,
        index: IndexService | None,
        dispatcher: Dispatcher,
        checkpoint: StoreCheckpoint,
        clock: Clock,
        *,
        sync_flush: bool,
        flush_interval_ms: int,
        flush_consume_queue_interval_ms: int,
        sync_flush_timeout_ms: int,
    ) -> None:
        self._commit_log = commit_log
        self._queues = queues
        self._index = index
        self._dispatcher = dispatcher
        self._checkpoint = checkpoint
        self._clock = clock
        self._sync_flush = sync_flush
        self._interval_s = flush_interval_ms / 1000
        self._logics_interval_s = flush_consume_queue_interval_ms / 1000
        self._timeout_s = sync_flush_timeout_ms / 1000
        self.flushed_offset = commit_log.max_offset
        self._flushed_store_timestamp = 0
        #: SYNC_FLUSH puts waiting: (end offset, deadline in monotonic ms, future of the status).
        self._waiters: list[tuple[int, int, asyncio.Future[PutMessageStatus]]] = []
        self._timeout_ms = sync_flush_timeout_ms
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        #: Test hook: called in the worker thread before each CommitLog fsync.
        self.before_fsync: Callable[[], None] | None = None

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run_commit_log(), name="store-flush-commit-log"),
            asyncio.create_task(self._run_logics(), name="store-flush-consume-queue"),
        ]
        if self._sync_flush:
            self._tasks.append(asyncio.create_task(self._expire_waiters(), name="store-flush-timeouts"))

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.flush_all()
        for _, _, future in self._waiters:
            if not future.done():
                future.set_result(PutMessageStatus.PUT_OK)
        self._waiters = []

    # -- CommitLog ------------------------------------------------------------------------------
    async def wait_flushed(self, end_offset: int) -> PutMessageStatus:
        """SYNC_FLUSH: PUT_OK once an fsync covers `end_offset`, FLUSH_DISK_TIMEOUT after
        syncFlushTimeout (the record stays in the log either way, as in Java)."""
        if end_offset <= self.flushed_offset:
            return PutMessageStatus.PUT_OK
        future: asyncio.Future[PutMessageStatus] = asyncio.get_running_loop().create_future()
        self._waiters.append((end_offset, self._clock.monotonic_ms() + self._timeout_ms, future))
        self._wake.set()
        return await future

    async def _expire_waiters(self) -> None:
        """One sweeper for every waiter's deadline (cheaper than a timer per put)."""
        period_s = max(0.005, min(self._timeout_s / 4, 0.1))
        while True:
            await asyncio.sleep(period_s)
            if not self._waiters:
                continue
            now = self._clock.monotonic_ms()
            keep = []
            for waiter in self._waiters:
                if waiter[1] <= now:
                    if not waiter[2].done():
                        waiter[2].set_result(PutMessageStatus.FLUSH_DISK_TIMEOUT)
                else:
                    keep.append(waiter)
            self._waiters = keep

    async def _flush_commit_log_once(self) -> None:
        target = self._commit_log.max_offset
        if target <= self.flushed_offset:
            self._release_waiters()
            return
        store_timestamp = self._commit_log.last_store_timestamp
        files = self._dirty_files(target)
        hook = self.before_fsync

        def work() -> None:
            if hook is not None:
                hook()
            flush_commit_log_files(files)

        await asyncio.to_thread(work)
        for mapped, position in files:
            mapped.flushed_position = max(mapped.flushed_position, position)
            mapped.release_descriptor()
        self.flushed_offset = max(self.flushed_offset, target)
        self._flushed_store_timestamp = store_timestamp
        self._release_waiters()

    def _dirty_files(self, target: int) -> list[tuple[MappedFile, int]]:
        dirty = []
        for mapped in reversed(self._commit_log.files.files):
            if mapped.file_from_offset + mapped.file_size <= self.flushed_offset:
                break
            if mapped.file_from_offset < target:
                dirty.append((mapped, mapped.wrote_position))
        return dirty

    def _release_waiters(self) -> None:
        if not self._waiters:
            return
        flushed = self.flushed_offset
        keep = []
        for waiter in self._waiters:
            future = waiter[2]
            if waiter[0] <= flushed:
                if not future.done():
                    future.set_result(PutMessageStatus.PUT_OK)
            elif not future.done():
                keep.append(waiter)
        self._waiters = keep

    async def _run_commit_log(self) -> None:
        while not self._stopping:
            try:
                if self._sync_flush:
                    await self._wake.wait()
                    self._wake.clear()
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._interval_s):
                            await self._wake.wait()
                    self._wake.clear()
                await self._flush_commit_log_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CommitLog flush failed; retrying")
                await asyncio.sleep(0.1)

    # -- ConsumeQueues, index, checkpoint -------------------------------------------------------
    async def _flush_logics_once(self) -> None:
        logics_timestamp = self._dispatcher.last_store_timestamp
        queues = list(self._queues.queues.values())
        index = self._index

        def work() -> None:
            for queue in queues:
                queue.flush()
            if index is not None:
                index.flush()

        await asyncio.to_thread(work)
        if self._checkpoint.read_only:
            return
        value = Checkpoint(
            physic_msg_timestamp=self._flushed_store_timestamp or self._checkpoint.value.physic_msg_timestamp,
            logics_msg_timestamp=logics_timestamp or self._checkpoint.value.logics_msg_timestamp,
            index_msg_timestamp=self._checkpoint.value.index_msg_timestamp,
        )
        await asyncio.to_thread(self._checkpoint.write, value)

    async def _run_logics(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._logics_interval_s)
            try:
                await self._flush_logics_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ConsumeQueue/index flush failed; retrying")

    async def flush_all(self) -> None:
        """Flush everything now (shutdown, tests)."""
        await self._flush_commit_log_once()
        await self._flush_logics_once()
