"""MessageStoreContract: the behaviour every store configuration must show, run under several
configurations (tiny segments to force rolling, SYNC_FLUSH and ASYNC_FLUSH, index off)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pocketmq.common.clock import FakeClock
from pocketmq.common.errors import StoreLockedError
from pocketmq.common.java_hash import java_string_hash
from pocketmq.common.message_id import create_offset_msg_id
from pocketmq.common.sysflag import TRANSACTION_COMMIT_TYPE, TRANSACTION_PREPARED_TYPE
from pocketmq.store.commit_log.record import decode_records
from pocketmq.store.config import FlushDiskType
from pocketmq.store.filter import TagsCodeFilter
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from tests.store.conftest import make_message, tiny_config

CONFIGS: dict[str, dict[str, Any]] = {
    "async-tiny": {},
    "sync-tiny": {"flush_disk_type": FlushDiskType.SYNC_FLUSH},
    "async-no-index": {"message_index_enable": False},
    "sync-1MiB-preallocated": {
        "flush_disk_type": FlushDiskType.SYNC_FLUSH,
        "commit_log_file_bytes": 1 << 20,
        "consume_queue_file_bytes": 6000,
        "preallocate_next_segment": True,
    },
}


class MessageStoreContract:
    """Mixin: subclasses set `overrides`."""

    overrides: ClassVar[dict[str, Any]] = {}
    #: False: the pure-Python put path even when the C one was built.
    accelerated: ClassVar[bool] = True

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[MessageStore]:
        self.clock = FakeClock(1_800_000_000_000)
        self.root = tmp_path / "store"
        opened = MessageStore(
            tiny_config(self.root, **self.overrides), clock=self.clock, accelerated=self.accelerated
        )
        opened.open()
        await opened.start()
        yield opened
        if opened.is_open:
            await opened.shutdown()

    async def reopen(self, store: MessageStore) -> MessageStore:
        await store.shutdown()
        again = MessageStore(
            tiny_config(self.root, **self.overrides), clock=self.clock, accelerated=self.accelerated
        )
        report = again.open()
        assert report.clean and not report.corruptions
        await again.start()
        return again

    # -- put and get ----------------------------------------------------------------------------
    async def test_put_then_pull_everything_across_segments(self, store: MessageStore) -> None:
        results = []
        for i in range(120):
            self.clock.advance(7)
            message = make_message(
                body=f"body-{i}".encode() * 5, queue_id=i % 3, keys=f"key-{i}", uniq_key=f"U{i:04d}"
            )
            result = await store.put_message(message)
            assert result.status is PutMessageStatus.PUT_OK, result
            assert result.queue_offset == i // 3
            assert result.msg_id == create_offset_msg_id("127.0.0.1", 10911, result.commit_log_offset)
            results.append(result)
        assert [r.commit_log_offset for r in results] == sorted(r.commit_log_offset for r in results)
        if self.overrides.get("commit_log_file_bytes", 4096) == 4096:
            assert len(store.commit_log.files) > 3  # rolled
        for queue_id in range(3):
            offset, bodies = 0, []
            while True:
                got = store.get_message("G", "TopicT", queue_id, offset, 7)
                if got.status is GetMessageStatus.OFFSET_OVERFLOW_ONE:
                    break
                assert got.status is GetMessageStatus.FOUND, got.status
                assert got.max_offset == 40 and got.min_offset == 0
                assert got.queue_offsets == list(range(offset, offset + got.message_count))
                bodies += [m.body for m in decode_records(got.body())]
                offset = got.next_begin_offset
            assert bodies == [f"body-{i}".encode() * 5 for i in range(queue_id, 120, 3)]
        message = store.look_message_by_offset(results[50].commit_log_offset)
        assert message is not None and message.body == b"body-50" * 5
        by_id = store.view_message_by_id(results[50].msg_id)
        assert by_id is not None and by_id.queue_offset == 50 // 3

    async def test_get_statuses(self, store: MessageStore) -> None:
        got = store.get_message("G", "Nope", 0, 0, 32)
        assert (got.status, got.next_begin_offset) == (GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0)
        for i in range(5):
            await store.put_message(make_message(tags="TagA" if i % 2 else "TagB"))
        got = store.get_message("G", "TopicT", 0, 5, 32)
        assert (got.status, got.next_begin_offset) == (GetMessageStatus.OFFSET_OVERFLOW_ONE, 5)
        got = store.get_message("G", "TopicT", 0, 9, 32)
        assert (got.status, got.next_begin_offset) == (GetMessageStatus.OFFSET_OVERFLOW_BADLY, 0)
        only_a = TagsCodeFilter({java_string_hash("TagA")})
        got = store.get_message("G", "TopicT", 0, 0, 32, only_a)
        assert got.status is GetMessageStatus.FOUND and got.queue_offsets == [1, 3]
        assert got.next_begin_offset == 5
        got = store.get_message("G", "TopicT", 0, 4, 32, only_a)
        assert (got.status, got.next_begin_offset) == (GetMessageStatus.NO_MATCHED_MESSAGE, 5)
        got = store.get_message("G", "TopicT", 0, 0, 2)
        assert got.message_count == 2 and got.next_begin_offset == 2

    async def test_batch(self, store: MessageStore) -> None:
        await store.put_message(make_message(queue_id=1))
        batch = [make_message(queue_id=1, body=bytes([i]) * 10, keys=f"b{i}") for i in range(4)]
        result = await store.put_messages(batch)
        assert result.status is PutMessageStatus.PUT_OK and result.message_count == 4
        assert result.queue_offset == 1
        assert len(result.msg_id.split(",")) == 4
        got = store.get_message("G", "TopicT", 1, 1, 32)
        assert [m.body for m in decode_records(got.body())] == [bytes([i]) * 10 for i in range(4)]
        assert [m.queue_offset for m in decode_records(got.body())] == [1, 2, 3, 4]
        mixed = [make_message(queue_id=1), make_message(queue_id=2)]
        assert (await store.put_messages(mixed)).status is PutMessageStatus.MESSAGE_ILLEGAL

    async def test_limits_write_nothing(self, store: MessageStore) -> None:
        await store.put_message(make_message())
        before = store.max_commit_log_offset
        big = make_message(body=b"x" * (store.config.max_message_bytes + 1))
        assert (await store.put_message(big)).status is PutMessageStatus.MESSAGE_ILLEGAL
        long_topic = make_message(topic="T" * 128)
        assert (await store.put_message(long_topic)).status is PutMessageStatus.MESSAGE_ILLEGAL
        fat = make_message(properties={"p": "v" * 32_800})
        assert (await store.put_message(fat)).status is PutMessageStatus.PROPERTIES_SIZE_EXCEEDED
        assert store.max_commit_log_offset == before
        assert store.get_max_offset_in_queue("TopicT", 0) == 1
        ok = make_message(topic="T" * 127)
        assert (await store.put_message(ok)).status is PutMessageStatus.PUT_OK

    async def test_offsets_times_and_queries(self, store: MessageStore) -> None:
        stamps = []
        for i in range(20):
            self.clock.advance(1000)
            stamps.append(self.clock.now_ms())
            await store.put_message(make_message(keys=f"order-{i % 4} k{i}", uniq_key=f"UNIQ{i}"))
        assert store.get_earliest_message_time("TopicT", 0) == stamps[0]
        assert store.get_earliest_message_time() == stamps[0]
        assert store.get_message_store_timestamp("TopicT", 0, 7) == stamps[7]
        assert store.get_offset_in_queue_by_time("TopicT", 0, stamps[7]) == 7
        # Nearest within the ConsumeQueue file that holds the time (Java's file granularity).
        assert store.get_offset_in_queue_by_time("TopicT", 0, stamps[3] + 100) == 3
        assert store.get_offset_in_queue_by_time("TopicT", 0, stamps[3] + 900) == 4
        assert store.get_offset_in_queue_by_time("TopicT", 0, stamps[-1] + 10_000) == 19
        assert store.get_offset_in_queue_by_time("TopicT", 0, 0) == 0
        if store.index is None:
            assert store.query_message("TopicT", "order-1", 10, 0, 2**62).messages == []
            return
        found = store.query_message("TopicT", "order-1", 32, 0, 2**62)
        queue_offsets = sorted(m.queue_offset for m in decode_records(b"".join(found.messages)))
        assert queue_offsets == [1, 5, 9, 13, 17]
        within = store.query_message("TopicT", "order-1", 32, stamps[4], stamps[10])
        assert sorted(m.queue_offset for m in decode_records(b"".join(within.messages))) == [5, 9]
        assert len(store.query_message("TopicT", "order-1", 2, 0, 2**62).messages) == 2
        uniq = store.query_message("TopicT", "UNIQ13", 32, 0, 2**62)
        assert [m.queue_offset for m in decode_records(uniq.messages[0])] == [13]

    async def test_arrival_listener(self, store: MessageStore) -> None:
        seen: list[tuple[str, int, int]] = []
        store.register_arrival_listener(
            lambda topic, queue_id, max_offset: seen.append((topic, queue_id, max_offset))
        )
        await store.put_message(make_message(queue_id=2))
        await store.put_message(make_message(queue_id=2))
        await store.put_messages([make_message(queue_id=3), make_message(queue_id=3)])
        assert seen == [("TopicT", 2, 1), ("TopicT", 2, 2), ("TopicT", 3, 2)]

    async def test_transactions_and_delay(self, store: MessageStore) -> None:
        prepared = await store.put_message(make_message(topic="Half", sys_flag=TRANSACTION_PREPARED_TYPE))
        assert prepared.queue_offset == 0
        assert store.get_max_offset_in_queue("Half", 0) == 0
        committed = make_message(topic="Real", sys_flag=TRANSACTION_COMMIT_TYPE)
        committed.prepared_transaction_offset = prepared.commit_log_offset
        assert (await store.put_message(committed)).queue_offset == 0
        assert store.get_max_offset_in_queue("Real", 0) == 1
        delayed = make_message(topic="Later", queue_id=2, properties={"DELAY": "3"})
        result = await store.put_message(delayed)
        assert store.get_max_offset_in_queue("SCHEDULE_TOPIC_XXXX", 2) == 1
        queue = store.find_consume_queue("SCHEDULE_TOPIC_XXXX", 2)
        assert queue is not None
        assert queue.unit_at(0) == (
            result.commit_log_offset,
            result.wrote_bytes,
            result.store_timestamp + 10_000,
        )
        parked = store.look_message_by_offset(result.commit_log_offset)
        assert parked is not None and parked.topic == "SCHEDULE_TOPIC_XXXX"
        assert parked.properties["REAL_TOPIC"] == "Later" and parked.properties["REAL_QID"] == "2"

    async def test_reopen_keeps_everything(self, store: MessageStore) -> None:
        for i in range(30):
            await store.put_message(make_message(queue_id=i % 2, keys=f"k{i}"))
        end = store.max_commit_log_offset
        store = await self.reopen(store)
        try:
            assert store.max_commit_log_offset == end
            assert store.get_max_offset_in_queue("TopicT", 1) == 15
            result = await store.put_message(make_message(queue_id=1))
            assert result.queue_offset == 15 and result.commit_log_offset >= end
            if store.index is not None:
                assert len(store.query_message("TopicT", "k29", 5, 0, 2**62).messages) == 1
        finally:
            await store.shutdown()

    async def test_read_only_beside_a_writer_and_the_lock(self, store: MessageStore) -> None:
        await store.put_message(make_message())
        store.flush_now()
        with pytest.raises(StoreLockedError, match="already open"):
            MessageStore(tiny_config(self.root, **self.overrides)).open()
        code = (
            "import sys; from pathlib import Path\n"
            "from pocketmq.store.message_store import MessageStore\n"
            "from pocketmq.store.config import StoreConfig\n"
            "from pocketmq.common.errors import StoreLockedError\n"
            f"s = MessageStore(StoreConfig(store_root_dir=Path({str(self.root)!r})))\n"
            "try:\n    s.open()\nexcept StoreLockedError as e:\n    print(e); sys.exit(3)\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert other.returncode == 3, other.stderr
        assert "in use by another process" in other.stdout
        reader = MessageStore(tiny_config(self.root, **self.overrides), read_only=True)
        reader.open()
        try:
            assert reader.get_max_offset_in_queue("TopicT", 0) == 1
            assert (await reader.put_message(make_message())).status is PutMessageStatus.SERVICE_NOT_AVAILABLE
        finally:
            reader.close()

    async def test_in_memory_rule(self, store: MessageStore) -> None:
        await store.put_message(make_message())
        assert store.check_in_memory_by_consume_offset("TopicT", 0, 0)
        assert not store.check_in_memory_by_consume_offset("TopicT", 0, 5)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_configs_are_valid(name: str, tmp_path: Path) -> None:
    tiny_config(tmp_path, **CONFIGS[name])


class TestAsyncTiny(MessageStoreContract):
    overrides = CONFIGS["async-tiny"]


class TestSyncTiny(MessageStoreContract):
    overrides = CONFIGS["sync-tiny"]


class TestAsyncTinyPurePython(MessageStoreContract):
    accelerated = False


class TestAsyncNoIndex(MessageStoreContract):
    overrides = CONFIGS["async-no-index"]


class TestSync1MiBPreallocated(MessageStoreContract):
    overrides = CONFIGS["sync-1MiB-preallocated"]
