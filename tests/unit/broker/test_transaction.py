"""Transactional messages: records, END_TRANSACTION and check rounds over a real MessageStore in a
temporary directory, with a FakeClock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketmq.broker.consumer_offsets import ConsumerOffsetManager
from pocketmq.broker.transaction import TransactionalMessageService, TransactionSettings, half_message
from pocketmq.broker.transaction.records import (
    OP_PROPERTIES,
    TRANSACTION_CONSUMER_GROUP,
    committed_message,
    is_half_message_request,
)
from pocketmq.common.clock import FakeClock
from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.headers.transaction import EndTransactionRequestHeader
from pocketmq.store.commit_log.record import decode_record, decode_records
from pocketmq.store.config import FlushDiskType, StoreConfig
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageResult

START_MS = 1_800_000_000_000
GROUP = "TxGroup"
SETTINGS = TransactionSettings(timeout_ms=6000, check_max=3, check_interval_ms=60_000)
BROKER_HOST = ("127.0.0.1", 10911)


class Broker:
    """The pieces of a broker the transaction service needs, reopenable on the same directory."""

    def __init__(self, root: Path, clock: FakeClock) -> None:
        self.root = root
        self.clock = clock
        self.open()

    def open(self) -> None:
        config = StoreConfig(
            store_root_dir=self.root,
            commit_log_file_bytes=256 * 1024,
            consume_queue_file_bytes=20 * 256,
            index_hash_slot_count=16,
            index_entry_count=64,
            flush_disk_type=FlushDiskType.ASYNC_FLUSH,
            preallocate_next_segment=False,
        )
        self.store = MessageStore(config, clock=self.clock)
        self.store.open()
        self.offsets = ConsumerOffsetManager(self.root / "config")
        self.offsets.load()
        self.service = TransactionalMessageService(
            self.store, self.offsets, SETTINGS, broker_host=BROKER_HOST
        )
        self.service.load()

    def restart(self) -> None:
        self.offsets.persist()
        self.store.flush_now()
        self.store.close()
        self.open()

    def send_half(self, body: bytes = b"tx", queue_id: int = 3, **extra: str) -> PutMessageResult:
        properties = {
            "KEYS": "k",
            "TRAN_MSG": "true",
            "UNIQ_KEY": f"{len(body):032X}",
            "PGROUP": GROUP,
            "TAGS": "TagA",
            "CLUSTER": "DefaultCluster",
            **extra,
        }
        message = MessageExt(
            topic="TopicA",
            body=body,
            queue_id=queue_id,
            properties=properties,
            sys_flag=4,
            born_timestamp=self.clock.now_ms(),
            born_host=("10.0.0.9", 50000),
        )
        half, properties_string = half_message(message, "true")
        result = self.store.append_message(half, properties_string=properties_string)
        assert result.ok
        return result

    def end(self, half: PutMessageResult, action: int, *, group: str = GROUP) -> ResponseCode:
        header = EndTransactionRequestHeader(
            producer_group=group,
            transaction_queue_offset=half.queue_offset,
            commit_log_offset=half.commit_log_offset,
            commit_or_rollback=action,
            msg_id="X",
        )
        return self.service.end_transaction(header, self.clock.now_ms()).code

    def real(self, topic: str = "TopicA", queue_id: int = 3) -> list[MessageExt]:
        return decode_records(self.store.get_message("g", topic, queue_id, 0, 100).body())


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "store", FakeClock(START_MS))
    yield broker
    broker.store.close()


COMMIT, ROLLBACK = 8, 12


def test_half_record_as_4_9_8_writes_it(broker: Broker) -> None:
    result = broker.send_half()
    half = broker.store.look_message_by_offset(result.commit_log_offset)
    assert half is not None
    assert (half.topic, half.queue_id, half.queue_offset, half.sys_flag) == (
        "RMQ_SYS_TRANS_HALF_TOPIC",
        0,
        0,
        0,
    )
    assert half.properties["REAL_TOPIC"] == "TopicA"
    assert half.properties["REAL_QID"] == "3"
    assert half.properties["WAIT"] == "true"
    assert half.properties["TRAN_MSG"] == "true"
    # Visible to nobody: the real topic has nothing.
    assert broker.real() == []


def test_commit_stores_the_real_message_once_and_writes_the_op(broker: Broker) -> None:
    result = broker.send_half()
    broker.clock.advance(10)
    assert broker.end(result, COMMIT) is ResponseCode.SUCCESS
    [committed] = broker.real()
    half = broker.store.look_message_by_offset(result.commit_log_offset)
    assert half is not None
    assert committed.sys_flag == 8
    assert committed.prepared_transaction_offset == result.commit_log_offset
    assert committed.born_timestamp == half.born_timestamp
    assert committed.body == b"tx"
    # Golden txCommitA/committed: the half's property string, unchanged.
    assert properties_to_string(committed.properties) == properties_to_string(half.properties)
    [op] = decode_records(broker.store.get_message("g", "RMQ_SYS_TRANS_OP_HALF_TOPIC", 0, 0, 10).body())
    assert (op.body, op.tags, op.queue_id, op.sys_flag) == (b"0", "d", 0, 0)
    assert properties_to_string(op.properties) == OP_PROPERTIES
    assert op.born_host == BROKER_HOST
    # A duplicate END_TRANSACTION (C++ retry, or a check answer crossing it) adds nothing.
    assert broker.end(result, COMMIT) is ResponseCode.SUCCESS
    assert broker.end(result, ROLLBACK) is ResponseCode.SUCCESS
    assert len(broker.real()) == 1


def test_rollback_never_shows_the_message(broker: Broker) -> None:
    result = broker.send_half()
    assert broker.end(result, ROLLBACK) is ResponseCode.SUCCESS
    assert broker.end(result, COMMIT) is ResponseCode.SUCCESS
    assert broker.real() == []
    broker.clock.advance(3600_000)
    assert broker.service.check(broker.clock.now_ms()).checks == []


def test_end_transaction_checks_the_half_message(broker: Broker) -> None:
    result = broker.send_half()
    assert broker.end(result, COMMIT, group="OtherGroup") is ResponseCode.SYSTEM_ERROR
    bad = PutMessageResult(result.status, result.commit_log_offset + 1, 0, result.queue_offset)
    assert broker.end(bad, COMMIT) is ResponseCode.SYSTEM_ERROR
    assert broker.real() == []


def test_first_check_after_the_timeout_then_every_interval(broker: Broker) -> None:
    result = broker.send_half()
    service = broker.service
    broker.clock.advance(5999)
    outcome = service.check(broker.clock.now_ms())
    assert outcome.checks == []
    assert outcome.next_due_ms == START_MS + 6000
    broker.clock.advance(1)
    [check] = service.check(broker.clock.now_ms()).checks
    assert check.producer_group == GROUP
    header = check.header
    assert header.transaction_queue_offset == 1  # the renewed copy
    assert header.commit_log_offset > result.commit_log_offset
    assert header.msg_id == header.transaction_id == f"{2:032X}"
    message = decode_record(check.body)
    assert (message.topic, message.queue_id) == ("TopicA", 3)
    assert message.properties["TRANSACTION_CHECK_TIMES"] == "1"
    assert message.commit_log_offset == header.commit_log_offset
    # Not again before the interval.
    broker.clock.advance(59_999)
    assert service.check(broker.clock.now_ms()).checks == []
    broker.clock.advance(1)
    [again] = service.check(broker.clock.now_ms()).checks
    assert decode_record(again.body).properties["TRANSACTION_CHECK_TIMES"] == "2"


def test_answer_to_a_check_commits_once(broker: Broker) -> None:
    first = broker.send_half()
    broker.clock.advance(6000)
    [check] = broker.service.check(broker.clock.now_ms()).checks
    renewed = PutMessageResult(
        first.status, check.header.commit_log_offset, 0, check.header.transaction_queue_offset
    )
    assert broker.end(renewed, COMMIT) is ResponseCode.SUCCESS
    # The producer's own, late END_TRANSACTION for the first copy does not commit again.
    assert broker.end(first, COMMIT) is ResponseCode.SUCCESS
    assert len(broker.real()) == 1
    broker.clock.advance(600_000)
    assert broker.service.check(broker.clock.now_ms()).checks == []
    assert broker.offsets.query_offset(TRANSACTION_CONSUMER_GROUP, "RMQ_SYS_TRANS_HALF_TOPIC", 0) == 2


def test_checked_too_often_goes_to_trans_check_max_time_topic(broker: Broker) -> None:
    broker.send_half()
    checks = 0
    discarded = 0
    for _ in range(6):
        broker.clock.advance(60_000)
        outcome = broker.service.check(broker.clock.now_ms())
        checks += len(outcome.checks)
        discarded += outcome.discarded
    assert (checks, discarded) == (SETTINGS.check_max, 1)
    [parked] = broker.real("TRANS_CHECK_MAX_TIME_TOPIC", 0)
    assert parked.body == b"tx"
    assert parked.properties["TRANSACTION_CHECK_TIMES"] == str(SETTINGS.check_max)


def test_a_renewed_copy_does_not_delay_younger_transactions(broker: Broker) -> None:
    broker.send_half(b"a")
    broker.clock.advance(6000)
    assert len(broker.service.check(broker.clock.now_ms()).checks) == 1  # copy of "a", due in 60 s
    broker.send_half(b"bb")
    broker.clock.advance(6000)
    [check] = broker.service.check(broker.clock.now_ms()).checks
    assert decode_record(check.body).body == b"bb"
    # The check offset stays on the copy of "a", still open.
    assert broker.offsets.query_offset(TRANSACTION_CONSUMER_GROUP, "RMQ_SYS_TRANS_HALF_TOPIC", 0) == 1
    broker.clock.advance(1)
    assert broker.service.check(broker.clock.now_ms()).checks == []


def test_state_survives_a_restart(broker: Broker) -> None:
    committed = broker.send_half(b"c")
    open_one = broker.send_half(b"oo")
    assert broker.end(committed, COMMIT) is ResponseCode.SUCCESS
    broker.restart()
    assert broker.end(committed, COMMIT) is ResponseCode.SUCCESS  # still resolved after the restart
    assert len(broker.real()) == 1
    broker.clock.advance(6000)
    [check] = broker.service.check(broker.clock.now_ms()).checks
    assert decode_record(check.body).body == b"oo"
    broker.restart()
    renewed = PutMessageResult(
        open_one.status, check.header.commit_log_offset, 0, check.header.transaction_queue_offset
    )
    assert broker.end(renewed, ROLLBACK) is ResponseCode.SUCCESS
    broker.clock.advance(600_000)
    assert broker.service.check(broker.clock.now_ms()).checks == []
    assert [m.body for m in broker.real()] == [b"c"]


def test_check_immunity_time_delays_the_first_check(broker: Broker) -> None:
    broker.send_half(CHECK_IMMUNITY_TIME_IN_SECONDS="20")
    broker.clock.advance(19_999)
    assert broker.service.check(broker.clock.now_ms()).checks == []
    broker.clock.advance(1)
    assert len(broker.service.check(broker.clock.now_ms()).checks) == 1


def test_is_half_message_request() -> None:
    assert is_half_message_request({"TRAN_MSG": "true"}, 0)
    assert is_half_message_request({"TRAN_MSG": "TRUE"}, 0)
    assert not is_half_message_request({"TRAN_MSG": "false"}, 0)
    assert not is_half_message_request({}, 0)
    # An old client's send-back of a transactional message is a plain (delayed) message.
    assert not is_half_message_request({"TRAN_MSG": "true", "DELAY": "3"}, 1)


def test_a_commit_whose_op_record_was_lost_is_not_repeated(broker: Broker) -> None:
    result = broker.send_half(b"crash")
    half = broker.store.look_message_by_offset(result.commit_log_offset)
    assert half is not None
    # The broker died between the re-put and the op record.
    built = committed_message(half)
    assert built is not None
    assert broker.store.append_message(built[0], properties_string=built[1]).ok
    broker.restart()
    broker.clock.advance(6000)
    outcome = broker.service.check(broker.clock.now_ms())
    assert outcome.checks == []  # nobody is asked: the op record is written instead
    assert broker.end(result, COMMIT) is ResponseCode.SUCCESS
    assert [m.body for m in broker.real()] == [b"crash"]


def test_commit_after_a_lost_op_record_writes_no_second_copy(broker: Broker) -> None:
    result = broker.send_half(b"crash")
    half = broker.store.look_message_by_offset(result.commit_log_offset)
    assert half is not None
    built = committed_message(half)
    assert built is not None
    assert broker.store.append_message(built[0], properties_string=built[1]).ok
    broker.restart()
    assert broker.end(result, COMMIT) is ResponseCode.SUCCESS  # e.g. a C++ client retrying
    assert [m.body for m in broker.real()] == [b"crash"]
    broker.clock.advance(600_000)
    assert broker.service.check(broker.clock.now_ms()).checks == []
