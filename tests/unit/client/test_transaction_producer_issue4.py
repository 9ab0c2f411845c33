"""END_TRANSACTION fields of the TransactionProducer against the frames a real 4.9.8 Java client sent
(../shared/compat/frames-4.9.8/curated.jsonl, phase `tx`), and the orderly consumer's lock bodies."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest

from pocketmq.client.api import SendResult, SendStatus
from pocketmq.client.producer.transaction_producer import (
    LocalTransactionState,
    check_answer_fields,
    end_transaction_fields,
    inflate_body,
)
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.message_id import create_offset_msg_id
from pocketmq.common.sysflag import COMPRESSED, CompressionType
from pocketmq.protocol.bodies.consumer import LockBatchRequestBody, UnlockBatchRequestBody
from tests.support.compat_data import CURATED_FRAMES

FRAMES = CURATED_FRAMES


@pytest.fixture(scope="module")
def frames() -> dict[int, dict[str, Any]]:
    if not FRAMES.exists():
        pytest.skip(f"{FRAMES} is not there")
    records = (json.loads(line) for line in FRAMES.read_text().splitlines() if line.strip())
    return {record["seq"]: record for record in records}


@pytest.mark.parametrize(
    ("seq", "state"),
    [
        (98, LocalTransactionState.COMMIT_MESSAGE),
        (101, LocalTransactionState.ROLLBACK_MESSAGE),
        (104, LocalTransactionState.UNKNOW),
    ],
)
def test_end_transaction_after_send_matches_java(
    frames: dict[int, dict[str, Any]], seq: int, state: LocalTransactionState
) -> None:
    java = frames[seq]["header"]["extFields"]
    result = SendResult(
        send_status=SendStatus.SEND_OK,
        msg_id=java["msgId"],
        offset_msg_id=create_offset_msg_id("127.0.0.1", 10911, int(java["commitLogOffset"])),
        message_queue=MessageQueue("FrameTxTopic", java["bname"], 0),
        queue_offset=int(java["tranStateTableOffset"]),
    )
    fields = end_transaction_fields(group=java["producerGroup"], result=result, state=state)
    assert list(fields.items()) == list(java.items())


def test_end_transaction_carries_the_brokers_transaction_id() -> None:
    result = SendResult(
        send_status=SendStatus.SEND_OK,
        msg_id="ID",
        offset_msg_id=create_offset_msg_id("127.0.0.1", 10911, 7),
        message_queue=MessageQueue("T", "b", 0),
        queue_offset=3,
        transaction_id="TX",
    )
    fields = end_transaction_fields(group="g", result=result, state=LocalTransactionState.COMMIT_MESSAGE)
    assert fields["transactionId"] == "TX"
    assert fields["commitLogOffset"] == "7"


def test_check_answer_matches_java(frames: dict[int, dict[str, Any]]) -> None:
    check = frames[107]["header"]["extFields"]
    java = frames[108]["header"]["extFields"]
    message = MessageExt(
        topic="FrameTxTopic",
        body=b"x",
        properties={MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX: check["msgId"]},
        msg_id=check["offsetMsgId"],
    )
    fields = check_answer_fields(
        group=java["producerGroup"], message=message, header=check, state=LocalTransactionState.COMMIT_MESSAGE
    )
    assert list(fields.items()) == list(java.items())


def test_check_answer_without_uniq_key_uses_the_message_id() -> None:
    message = MessageExt(topic="T", body=b"x", msg_id="OFFSETID", commit_log_offset=5, queue_offset=2)
    fields = check_answer_fields(group="g", message=message, header={}, state=LocalTransactionState.UNKNOW)
    assert fields["msgId"] == "OFFSETID"
    assert fields["commitLogOffset"] == "5"
    assert fields["tranStateTableOffset"] == "2"
    assert fields["commitOrRollback"] == "0"
    assert "transactionId" not in fields


@pytest.mark.parametrize(("seq", "body_type"), [(330, LockBatchRequestBody), (366, UnlockBatchRequestBody)])
def test_lock_bodies_match_java(frames: dict[int, dict[str, Any]], seq: int, body_type: type) -> None:
    java = frames[seq]["body_json"]
    queues = tuple(sorted(MessageQueue(q["topic"], q["brokerName"], q["queueId"]) for q in java["mqSet"]))
    body = body_type(consumer_group=java["consumerGroup"], client_id=java["clientId"], queues=queues)
    assert body.encode() == bytes.fromhex(frames[seq]["body_hex"])


def test_a_checked_compressed_body_is_inflated() -> None:
    body = b"large " * 2000
    message = MessageExt(topic="T", body=zlib.compress(body), sys_flag=COMPRESSED | CompressionType.ZLIB | 4)
    inflate_body(message)
    assert message.body == body
    assert message.sys_flag == CompressionType.ZLIB | 4
    plain = MessageExt(topic="T", body=b"plain", sys_flag=4)
    inflate_body(plain)
    assert (plain.body, plain.sys_flag) == (b"plain", 4)
