"""ScheduleMessageService against a real MessageStore in a temporary directory, with a FakeClock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketmq.broker.schedule import ScheduleMessageService, delivered_message
from pocketmq.broker.schedule_offsets import ScheduleOffsetTable
from pocketmq.common.clock import FakeClock
from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.store.commit_log.record import decode_records
from pocketmq.store.config import FlushDiskType, StoreConfig
from pocketmq.store.message_store import MessageStore

START_MS = 1_800_000_000_000


def make_store(root: Path, clock: FakeClock, levels: str = "1s 5s 10s") -> MessageStore:
    config = StoreConfig(
        store_root_dir=root,
        commit_log_file_bytes=64 * 1024,
        consume_queue_file_bytes=20 * 64,
        index_hash_slot_count=16,
        index_entry_count=64,
        flush_disk_type=FlushDiskType.ASYNC_FLUSH,
        preallocate_next_segment=False,
        message_delay_level=levels,
    )
    store = MessageStore(config, clock=clock)
    store.open()
    return store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_MS)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[MessageStore]:
    store = make_store(tmp_path / "store", clock)
    yield store
    store.close()


def delayed(level: int, body: bytes = b"later", topic: str = "TopicA", queue_id: int = 2) -> MessageExt:
    return MessageExt(
        topic=topic,
        body=body,
        queue_id=queue_id,
        properties={"KEYS": "k1", "UNIQ_KEY": "AB" * 16, "DELAY": str(level), "WAIT": "true", "TAGS": "TagA"},
        born_timestamp=START_MS - 5,
        born_host=("10.0.0.7", 40001),
    )


def real_messages(store: MessageStore, topic: str = "TopicA", queue_id: int = 2) -> list[MessageExt]:
    result = store.get_message("g", topic, queue_id, 0, 100)
    return decode_records(result.body())


def service_for(store: MessageStore, clock: FakeClock) -> ScheduleMessageService:
    service = ScheduleMessageService(
        store, ScheduleOffsetTable(store.config.store_root_dir / "config"), clock
    )
    service.load()
    return service


def test_parked_message_is_delivered_at_its_time_not_before(store: MessageStore, clock: FakeClock) -> None:
    result = store.append_message(delayed(2))
    assert result.ok
    parked = store.look_message_by_offset(result.commit_log_offset)
    assert parked is not None
    assert (parked.topic, parked.queue_id) == ("SCHEDULE_TOPIC_XXXX", 1)
    assert parked.properties["REAL_TOPIC"] == "TopicA"
    assert parked.properties["REAL_QID"] == "2"
    unit = store.find_consume_queue("SCHEDULE_TOPIC_XXXX", 1).unit_at(0)  # type: ignore[union-attr]
    assert unit is not None and unit[2] == parked.store_timestamp + 5000

    service = service_for(store, clock)
    clock.advance(4999)
    outcome = service.deliver_due()
    assert outcome.delivered == 0
    assert outcome.next_due_ms == parked.store_timestamp + 5000
    assert real_messages(store) == []

    clock.advance(1)
    outcome = service.deliver_due()
    assert outcome.delivered == 1
    assert service.offsets.get(2) == 1
    [delivered] = real_messages(store)
    assert (delivered.topic, delivered.queue_id, delivered.queue_offset) == ("TopicA", 2, 0)
    assert delivered.body == b"later"
    assert delivered.born_timestamp == START_MS - 5
    assert delivered.born_host == ("10.0.0.7", 40001)
    # As 4.9.8 stores it (golden delayA/delivered): the parked property string, DELAY included.
    assert properties_to_string(delivered.properties) == properties_to_string(parked.properties)
    assert delivered.store_timestamp == START_MS + 5000
    # Nothing is delivered twice.
    assert service.deliver_due().delivered == 0
    assert len(real_messages(store)) == 1


def test_levels_are_independent_and_in_order(store: MessageStore, clock: FakeClock) -> None:
    for level, body in ((3, b"c"), (1, b"a"), (2, b"b"), (1, b"a2")):
        assert store.append_message(delayed(level, body)).ok
    service = service_for(store, clock)
    seen: list[bytes] = []
    for _ in range(12):
        clock.advance(1000)
        service.deliver_due()
        seen = [m.body for m in real_messages(store)]
    assert seen == [b"a", b"a2", b"b", b"c"]


def test_level_above_the_configured_maximum_uses_the_last_level(
    store: MessageStore, clock: FakeClock
) -> None:
    result = store.append_message(delayed(18))
    parked = store.look_message_by_offset(result.commit_log_offset)
    assert parked is not None and (parked.queue_id, parked.properties["DELAY"]) == (2, "3")
    service = service_for(store, clock)
    clock.advance(9999)
    assert service.deliver_due().delivered == 0
    clock.advance(1)
    assert service.deliver_due().delivered == 1


def test_progress_survives_restart_without_loss_or_early_delivery(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "store"
    store = make_store(root, clock)
    for body in (b"one", b"two"):
        assert store.append_message(delayed(1, body)).ok
        clock.advance(600)
    service = service_for(store, clock)
    # now = 1200 ms after "one" (due), 600 ms after "two" (not yet)
    assert service.deliver_due().delivered == 1
    service.offsets.persist()
    store.flush_now()
    store.close()  # a crash after the offset was written: nothing else is persisted

    store = make_store(root, clock)
    service = service_for(store, clock)
    assert service.offsets.get(1) == 1
    assert service.deliver_due().delivered == 0  # "two" is still not due after the restart
    clock.advance(400)
    assert service.deliver_due().delivered == 1
    assert [m.body for m in real_messages(store)] == [b"one", b"two"]
    store.close()


def test_offset_not_persisted_means_redelivery_not_loss(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "store"
    store = make_store(root, clock)
    assert store.append_message(delayed(1)).ok
    service = service_for(store, clock)
    clock.advance(1000)
    assert service.deliver_due().delivered == 1
    store.flush_now()
    store.close()  # crashed before delayOffset.json was written
    store = make_store(root, clock)
    service = service_for(store, clock)
    assert service.deliver_due().delivered == 1  # at least once
    assert len(real_messages(store)) == 2
    store.close()


def test_offsets_are_clamped_to_the_queue_on_load(store: MessageStore, clock: FakeClock) -> None:
    assert store.append_message(delayed(1)).ok
    offsets = ScheduleOffsetTable(store.config.store_root_dir / "config")
    offsets.update(1, 42)
    offsets.persist()
    service = service_for(store, clock)
    assert service.offsets.get(1) == 1


def test_message_without_real_topic_is_skipped(store: MessageStore, clock: FakeClock) -> None:
    bad = MessageExt(
        topic="SCHEDULE_TOPIC_XXXX",
        body=b"x",
        queue_id=0,
        properties={"DELAY": "1"},
        born_timestamp=START_MS,
    )
    assert store.append_message(bad).ok
    assert store.append_message(delayed(1)).ok
    service = service_for(store, clock)
    clock.advance(1000)
    outcome = service.deliver_due()
    assert (outcome.delivered, outcome.skipped) == (1, 1)
    assert service.offsets.get(1) == 2


def test_delivered_message_drops_half_topic() -> None:
    parked = delayed(1)
    parked.properties["REAL_TOPIC"] = "RMQ_SYS_TRANS_HALF_TOPIC"
    parked.properties["REAL_QID"] = "0"
    assert delivered_message(parked) is None


def test_persist_writes_delay_offset_json(store: MessageStore, clock: FakeClock) -> None:
    import asyncio

    assert store.append_message(delayed(2)).ok
    service = service_for(store, clock)
    clock.advance(5000)
    service.deliver_due()

    async def persist() -> None:
        await service.persist()

    asyncio.run(persist())
    text = (store.config.store_root_dir / "config" / "delayOffset.json").read_text()
    assert '"offsetTable"' in text and "2:1" in text.replace(" ", "")


def test_a_backlog_is_delivered_in_bounded_rounds(store: MessageStore, clock: FakeClock) -> None:
    for index in range(25):
        assert store.append_message(delayed(1, f"b{index}".encode())).ok
    service = ScheduleMessageService(
        store, ScheduleOffsetTable(store.config.store_root_dir / "config"), clock, deliveries_per_round=10
    )
    service.load()
    clock.advance(60_000)
    rounds = []
    while True:
        outcome = service.deliver_due()
        rounds.append(outcome.delivered)
        if outcome.next_due_ms is None:
            break
        assert outcome.next_due_ms == clock.now_ms()  # come back at once
    assert rounds == [10, 10, 5]
    assert [m.body for m in real_messages(store)] == [f"b{i}".encode() for i in range(25)]
