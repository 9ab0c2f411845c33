"""Issue 4 against the store Apache RocketMQ 4.9.8 wrote (../shared/compat/store-4.9.8): the records
pocketmq builds for a committed transaction, an op, a delayed delivery and a send-back match the
4.9.8 records; the schedule and transaction services pick the store up where 4.9.8 left it."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketmq.broker.consumer_offsets import ConsumerOffsetManager
from pocketmq.broker.handlers.send_back import send_back_message
from pocketmq.broker.schedule import ScheduleMessageService, delivered_message, park_delayed
from pocketmq.broker.schedule_offsets import ScheduleOffsetTable
from pocketmq.broker.transaction import TransactionalMessageService, TransactionSettings, half_message
from pocketmq.broker.transaction.records import OP_PROPERTIES, committed_message, op_message
from pocketmq.common.clock import FakeClock
from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.store.commit_log.record import encode_record
from pocketmq.store.config import StoreConfig
from pocketmq.store.message_store import MessageStore
from tests.support.compat_data import GOLDEN_STORE

GOLDEN = GOLDEN_STORE

pytestmark = pytest.mark.skipif(not GOLDEN.is_dir(), reason=f"{GOLDEN} is not available")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def by_label(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    return next(entry for entry in manifest["messages"] if entry["label"] == label)


@pytest.fixture
def store(tmp_path: Path, manifest: dict[str, Any]) -> Iterator[MessageStore]:
    target = tmp_path / "store"
    shutil.copytree(GOLDEN, target)
    for entry in manifest["files"]:
        path = target / entry["path"]
        if path.stat().st_size < entry["original_size"]:
            with path.open("r+b") as handle:
                handle.truncate(entry["original_size"])
    broker = manifest["broker_config"]
    config = StoreConfig(
        store_root_dir=target,
        commit_log_file_bytes=broker["mappedFileSizeCommitLog"],
        consume_queue_file_bytes=broker["mappedFileSizeConsumeQueue"],
        index_hash_slot_count=broker["maxHashSlotNum"],
        index_entry_count=broker["maxIndexNum"],
        store_host="127.0.0.1:10911",
    )
    last = max(entry["store_timestamp"] for entry in manifest["messages"])
    opened = MessageStore(config, clock=FakeClock(last + 3_600_000))
    opened.open()
    yield opened
    opened.close()


def record_of(store: MessageStore, entry: dict[str, Any]) -> MessageExt:
    message = store.look_message_by_offset(entry["commit_log_offset"])
    assert message is not None
    return message


def place_like(message: MessageExt, entry: dict[str, Any]) -> MessageExt:
    """Give a built message the offsets and store time the 4.9.8 record has."""
    message.queue_offset = entry["queue_offset"]
    message.commit_log_offset = entry["commit_log_offset"]
    message.store_timestamp = entry["store_timestamp"]
    message.store_host = ("127.0.0.1", 10911)
    return message


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_committed_record_is_byte_identical(store: MessageStore, manifest: dict[str, Any]) -> None:
    half = record_of(store, by_label(manifest, "txCommitA/half"))
    golden = by_label(manifest, "txCommitA/committed")
    built = committed_message(half)
    assert built is not None
    message, properties_string = built
    record = encode_record(place_like(message, golden), properties_string=properties_string)
    assert sha256(record) == golden["record_sha256"]


def test_op_records_are_byte_identical(store: MessageStore, manifest: dict[str, Any]) -> None:
    for half_offset in (0, 1):
        golden = by_label(manifest, f"transactionOp(halfQueueOffset={half_offset})")
        op = op_message(0, half_offset, ("127.0.0.1", 10911), golden["born_timestamp"])
        record = encode_record(place_like(op, golden), properties_string=OP_PROPERTIES)
        assert sha256(record) == golden["record_sha256"]


def test_delayed_delivery_is_byte_identical(store: MessageStore, manifest: dict[str, Any]) -> None:
    for parked_label, delivered_label in (
        ("delayA/schedule", "delayA/delivered"),
        ("retryMeB/sendback-schedule", "retryMeB/retry"),
    ):
        parked = record_of(store, by_label(manifest, parked_label))
        golden = by_label(manifest, delivered_label)
        built = delivered_message(parked)
        assert built is not None
        message, properties_string = built
        record = encode_record(place_like(message, golden), properties_string=properties_string)
        assert sha256(record) == golden["record_sha256"], delivered_label


def test_send_back_copy_has_the_4_9_8_fields(store: MessageStore, manifest: dict[str, Any]) -> None:
    golden = by_label(manifest, "retryMeB/sendback-schedule")
    original = store.view_message_by_id(golden["properties"]["ORIGIN_MESSAGE_ID"])
    assert original is not None
    copy = send_back_message(original, "%RETRY%GoldenConsumerGroup", 0, 3)
    expected = dict(golden["properties"])
    # The store adds these when it parks the copy in SCHEDULE_TOPIC_XXXX.
    del expected["REAL_TOPIC"], expected["REAL_QID"]
    assert list(copy.properties.items()) == list(expected.items())  # Java HashMap order too
    assert copy.reconsume_times == golden["reconsume_times"]
    assert copy.born_timestamp == golden["born_timestamp"]
    assert f"{copy.born_host[0]}:{copy.born_host[1]}" == golden["born_host"]
    assert (copy.sys_flag, copy.flag, copy.body) == (golden["sys_flag"], golden["flag"], original.body)


def test_services_resume_the_4_9_8_store(store: MessageStore, manifest: dict[str, Any]) -> None:
    config_dir = store.config.store_root_dir / "config"
    schedule = ScheduleMessageService(store, ScheduleOffsetTable(config_dir), store.clock)
    schedule.load()
    assert {str(level): offset for level, offset in schedule.offsets.offsets.items()} == manifest[
        "delay_offsets"
    ]
    assert schedule.deliver_due().delivered == 0  # 4.9.8 delivered both already
    offsets = ConsumerOffsetManager(config_dir)
    offsets.load()
    service = TransactionalMessageService(
        store, offsets, TransactionSettings(), broker_host=("127.0.0.1", 10911)
    )
    assert service.load() == 2
    outcome = service.check(store.clock.now_ms())
    assert (outcome.checks, outcome.discarded) == ([], 0)  # both halves were resolved by 4.9.8
    assert offsets.query_offset("CID_RMQ_SYS_TRANS", "RMQ_SYS_TRANS_HALF_TOPIC", 0) == 2
    assert offsets.query_offset("CID_RMQ_SYS_TRANS", "RMQ_SYS_TRANS_OP_HALF_TOPIC", 0) == 2


def test_half_record_properties_as_4_9_8_writes_them(store: MessageStore, manifest: dict[str, Any]) -> None:
    for label in ("txCommitA/half", "txRollbackA/half"):
        golden = by_label(manifest, label)
        stored = record_of(store, golden)
        # What the producer sent (the send path adds CLUSTER and takes WAIT off before the hook).
        sent = {k: v for k, v in stored.properties.items() if k not in ("REAL_TOPIC", "REAL_QID", "WAIT")}
        message = MessageExt(
            topic=stored.properties["REAL_TOPIC"],
            body=stored.body,
            properties=sent,
            queue_id=int(stored.properties["REAL_QID"]),
            sys_flag=4,
            born_timestamp=stored.born_timestamp,
            born_host=stored.born_host,
        )
        half, properties_string = half_message(message, "true")
        assert properties_string == golden["properties_string"]
        assert (half.topic, half.queue_id, half.sys_flag) == ("RMQ_SYS_TRANS_HALF_TOPIC", 0, 0)
        record = encode_record(place_like(half, golden), properties_string=properties_string)
        assert sha256(record) == golden["record_sha256"], label


def test_parked_records_are_byte_identical(store: MessageStore, manifest: dict[str, Any]) -> None:
    # A delayed send, as the send path hands it over (CLUSTER added, WAIT taken off).
    golden = by_label(manifest, "delayA/schedule")
    stored = record_of(store, golden)
    sent = {k: v for k, v in stored.properties.items() if k not in ("REAL_TOPIC", "REAL_QID", "WAIT")}
    message = MessageExt(
        topic="GoldenTopicA",
        body=stored.body,
        properties=sent,
        queue_id=0,
        born_timestamp=stored.born_timestamp,
        born_host=stored.born_host,
    )
    parked, properties_string = park_delayed(message, properties_to_string(sent), "true", store)
    record = encode_record(place_like(parked, golden), properties_string=properties_string)
    assert sha256(record) == golden["record_sha256"]
    # A send-back, parked for level 3.
    golden = by_label(manifest, "retryMeB/sendback-schedule")
    original = store.view_message_by_id(golden["properties"]["ORIGIN_MESSAGE_ID"])
    assert original is not None
    copy = send_back_message(original, "%RETRY%GoldenConsumerGroup", 0, 3)
    parked, properties_string = park_delayed(copy, properties_to_string(copy.properties), None, store)
    record = encode_record(place_like(parked, golden), properties_string=properties_string)
    assert sha256(record) == golden["record_sha256"]
