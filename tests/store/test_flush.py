"""Flush: SYNC_FLUSH group commit (one fsync for many puts), FLUSH_DISK_TIMEOUT, ASYNC_FLUSH
interval, checkpoint."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pocketmq.store.checkpoint import StoreCheckpoint
from pocketmq.store.config import FlushDiskType
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageStatus
from tests.store.conftest import make_message, tiny_config


async def test_group_commit_shares_fsyncs(tmp_path: Path) -> None:
    store = MessageStore(tiny_config(tmp_path, flush_disk_type=FlushDiskType.SYNC_FLUSH))
    store.open()
    await store.start()
    fsyncs = []

    def slow_fsync() -> None:
        fsyncs.append(1)
        time.sleep(0.05)

    assert store._flush is not None
    store._flush.before_fsync = slow_fsync
    try:
        results = await asyncio.gather(*(store.put_message(make_message(queue_id=i % 4)) for i in range(64)))
        assert all(r.status is PutMessageStatus.PUT_OK for r in results)
        assert 1 <= len(fsyncs) <= 3, len(fsyncs)
        assert store._flush.flushed_offset >= max(r.end_offset for r in results)
        no_wait = make_message(properties={"WAIT": "false"})
        assert (await store.put_message(no_wait)).status is PutMessageStatus.PUT_OK
    finally:
        await store.shutdown()


async def test_flush_disk_timeout(tmp_path: Path) -> None:
    store = MessageStore(
        tiny_config(tmp_path, flush_disk_type=FlushDiskType.SYNC_FLUSH, sync_flush_timeout_ms=50)
    )
    store.open()
    await store.start()
    assert store._flush is not None
    store._flush.before_fsync = lambda: time.sleep(0.3)
    try:
        result = await store.put_message(make_message())
        assert result.status is PutMessageStatus.FLUSH_DISK_TIMEOUT
        assert store.look_message_by_offset(result.commit_log_offset) is not None  # stored anyway
    finally:
        await store.shutdown()


async def test_async_flush_interval_and_checkpoint(tmp_path: Path) -> None:
    store = MessageStore(tiny_config(tmp_path, flush_interval_ms=30, flush_consume_queue_interval_ms=30))
    store.open()
    await store.start()
    try:
        result = await store.put_message(make_message())
        assert result.ok
        assert store._flush is not None
        for _ in range(100):
            if store.checkpoint.value.physic_msg_timestamp == result.store_timestamp:
                break
            await asyncio.sleep(0.02)
        assert store._flush.flushed_offset >= result.end_offset
        checkpoint = StoreCheckpoint(tmp_path / "checkpoint", read_only=True).value
        assert checkpoint.physic_msg_timestamp == result.store_timestamp
        assert checkpoint.logics_msg_timestamp == result.store_timestamp
        assert (tmp_path / "abort").exists()
    finally:
        await store.shutdown()
    assert not (tmp_path / "abort").exists()
