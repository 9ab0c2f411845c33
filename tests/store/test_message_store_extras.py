"""Smaller MessageStore behaviours: topic deletion, runtime info, the in-memory rule with ratio 0,
puts after shutdown, SYNC_FLUSH puts before start(), sparse ConsumeQueue files."""

from __future__ import annotations

from pathlib import Path

from pocketmq.store.config import FlushDiskType
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from tests.store.conftest import make_message, tiny_config


async def test_delete_topics_and_runtime_info(tmp_path: Path) -> None:
    store = MessageStore(tiny_config(tmp_path))
    store.open()
    try:
        for i in range(6):
            store.append_message(make_message(topic="Gone", queue_id=i % 2))
            store.append_message(make_message(topic="Kept"))
        assert store.topics() == ["Gone", "Kept"] and store.queue_ids("Gone") == [0, 1]
        assert store.delete_topics({"Gone"}) == 2
        assert store.topics() == ["Kept"]
        assert not (tmp_path / "consumequeue" / "Gone" / "0").exists() or not any(
            (tmp_path / "consumequeue" / "Gone" / "0").iterdir()
        )
        got = store.get_message("G", "Gone", 0, 0, 8)
        assert (got.status, got.next_begin_offset) == (GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0)
        again = store.append_message(make_message(topic="Gone"))
        assert again.queue_offset == 0  # a re-created topic starts over, as in Java
        info = store.runtime_info()
        assert info["commitLogMinOffset"] == "0"
        assert info["commitLogMaxOffset"] == str(store.max_commit_log_offset)
        assert info["dispatchBehindBytes"] == "0"
    finally:
        store.close()


async def test_in_memory_rule_with_ratio_zero(tmp_path: Path) -> None:
    store = MessageStore(tiny_config(tmp_path, access_message_in_memory_max_ratio=0))
    store.open()
    try:
        store.append_message(make_message())
        store.append_message(make_message())
        # Java: with accessMessageInMemoryMaxRatio=0 the first message counts as "on disk",
        # so a new group gets QUERY_NOT_FOUND (compat README, query-not-found phase).
        assert not store.check_in_memory_by_consume_offset("TopicT", 0, 0)
    finally:
        store.close()


async def test_puts_after_shutdown_are_refused(tmp_path: Path) -> None:
    store = MessageStore(tiny_config(tmp_path))
    store.open()
    await store.start()
    await store.shutdown()
    result = await store.put_message(make_message())
    assert result.status is PutMessageStatus.SERVICE_NOT_AVAILABLE


async def test_sync_put_before_start_is_flushed(tmp_path: Path) -> None:
    store = MessageStore(tiny_config(tmp_path, flush_disk_type=FlushDiskType.SYNC_FLUSH))
    store.open()
    try:
        result = await store.put_message(make_message())
        assert result.status is PutMessageStatus.PUT_OK
        last = store.commit_log.files.last
        assert last is not None and last.flushed_position >= last.wrote_position
    finally:
        store.close()


def test_consume_queue_files_are_sparse(tmp_path: Path) -> None:
    """A ConsumeQueue file takes disk as units arrive, as Java's mapped files do (1,024 queues used
    to reserve 6 GB at once). CommitLog segments stay pre-allocated."""
    store = MessageStore(tiny_config(tmp_path, consume_queue_file_bytes=20 * 300_000))
    store.open()
    try:
        store.append_message(make_message())
        (unit_file,) = (tmp_path / "consumequeue" / "TopicT" / "0").iterdir()
        stat = unit_file.stat()
        assert stat.st_size == 20 * 300_000
        assert stat.st_blocks * 512 <= 64 * 1024, stat.st_blocks
    finally:
        store.close()
