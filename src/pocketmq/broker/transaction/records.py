"""Transactional records: the messages the broker writes for a transaction (pure, no I/O).

Java: TransactionalMessageBridge (#parseHalfMessageInner, #renewHalfMessageInner, #makeOpMessageInner),
EndTransactionProcessor#endMessageTransaction and DefaultTransactionalMessageCheckListener
(#toMessageExtBrokerInner). What 4.9.8 writes (the golden records txCommitA/half, txCommitA/committed,
transactionOp(halfQueueOffset=N)):

- half: topic RMQ_SYS_TRANS_HALF_TOPIC, queue 0, sys flag with the transaction bits cleared, the
  producer's properties (TRAN_MSG=true, PGROUP, WAIT...) plus REAL_TOPIC and REAL_QID;
- committed: the real topic and queue, sys flag COMMIT (8), prepared_transaction_offset = the half
  record's commit-log offset, born time and host of the half, the half's property string as is;
- op: topic RMQ_SYS_TRANS_OP_HALF_TOPIC, the half's queue id, tag "d", body = the half queue offset in
  decimal, property string exactly "WAIT\\x01true\\x02TAGS\\x01d", born and store host = the broker.

A check re-appends the half message (a "renewed" copy) with TRANSACTION_CHECK_TIMES counting the
checks; pocketmq also writes TRAN_PREPARED_QUEUE_OFFSET = the queue offset of the first half copy
into every renewed copy, so that an END_TRANSACTION for any copy resolves all of them (4.9.8 writes
that property only for CHECK_IMMUNITY_TIME_IN_SECONDS messages; it reads it the same way).
"""

from __future__ import annotations

import dataclasses
from typing import Final

from pocketmq.common.java_hash import java_string_hash
from pocketmq.common.message import MessageConst, MessageExt, properties_to_string
from pocketmq.common.sysflag import (
    TRANSACTION_COMMIT_TYPE,
    TRANSACTION_NOT_TYPE,
    reset_transaction_value,
)
from pocketmq.common.topic import SystemTopics

__all__ = [
    "TRANSACTION_CONSUMER_GROUP",
    "REMOVE_TAG",
    "HALF_TOPIC",
    "OP_TOPIC",
    "OP_PROPERTIES",
    "is_half_message_request",
    "half_message",
    "committed_message",
    "op_message",
    "renewed_half_message",
    "check_max_message",
    "origin_queue_offset",
    "check_times",
    "check_message",
    "java_hashmap_order",
]

#: Java MixAll.CID_SYS_RMQ_TRANS: the "consumer group" whose offsets in consumerOffset.json record how
#: far the check service got in the half and op queues.
TRANSACTION_CONSUMER_GROUP: Final = "CID_RMQ_SYS_TRANS"
#: Java TransactionalMessageUtil.REMOVETAG: the tag of op records.
REMOVE_TAG: Final = "d"
HALF_TOPIC: Final = SystemTopics.TRANS_HALF
OP_TOPIC: Final = SystemTopics.TRANS_OP_HALF
#: The property string 4.9.8 stores in every op record (WAIT before TAGS: Java HashMap order).
OP_PROPERTIES: Final = "WAIT\x01true\x02TAGS\x01d"

_TRAN_MSG = MessageConst.TRANSACTION_PREPARED
_REAL_TOPIC = MessageConst.REAL_TOPIC
_REAL_QUEUE_ID = MessageConst.REAL_QUEUE_ID
_WAIT = MessageConst.WAIT_STORE_MSG_OK
_DELAY = MessageConst.DELAY_TIME_LEVEL
_CHECK_TIMES = MessageConst.TRANSACTION_CHECK_TIMES
_PREPARED_QUEUE_OFFSET = MessageConst.TRANSACTION_PREPARED_QUEUE_OFFSET


def java_hashmap_order(properties: dict[str, str]) -> dict[str, str]:
    """The entries in the order a Java HashMap<String, String> iterates them: by bucket
    (hashCode ^ hashCode >>> 16, masked by the table size, 16 doubling whenever more than 3/4
    full), insertion order within a bucket. 4.9.8 builds every property string it writes itself from
    such a map (MessageDecoder#messageProperties2String); every golden record follows this order."""
    table = 16
    while len(properties) > table * 3 // 4:
        table *= 2
    mask = table - 1

    def bucket(name: str) -> int:
        code = java_string_hash(name) & 0xFFFFFFFF
        return (code ^ (code >> 16)) & mask

    return {name: properties[name] for name in sorted(properties, key=bucket)}


def is_half_message_request(properties: dict[str, str], reconsume_times: int) -> bool:
    """Java SendMessageProcessor: TRAN_MSG is "true" (any case), except for messages an old client
    (< 4.6.1) re-sent with reconsume times and a delay level (a consumer's fallback send-back)."""
    flag = properties.get(_TRAN_MSG)
    if flag is None or flag.lower() != "true":
        return False
    delayed = properties.get(_DELAY, "0")
    return not (reconsume_times > 0 and delayed.isdigit() and int(delayed) > 0)


def half_message(message: MessageExt, wait: str | None = None) -> tuple[MessageExt, str]:
    """The half record for a transactional send (Java #parseHalfMessageInner). `wait` is the WAIT
    property the send path took off (4.9.8 keeps it in half records). A delay level is dropped:
    the Java producer clears it for transactional messages and a delayed half would be lost."""
    properties = dict(message.properties)
    if wait is not None:
        properties[_WAIT] = wait
    properties.pop(_DELAY, None)
    properties[_REAL_TOPIC] = message.topic
    properties[_REAL_QUEUE_ID] = str(message.queue_id)
    properties = java_hashmap_order(properties)
    half = dataclasses.replace(
        message,
        topic=HALF_TOPIC,
        queue_id=0,
        sys_flag=reset_transaction_value(message.sys_flag, TRANSACTION_NOT_TYPE),
        properties=properties,
    )
    return half, properties_to_string(properties)


def committed_message(half: MessageExt) -> tuple[MessageExt, str] | None:
    """The real-topic copy of a committed half record (Java #endMessageTransaction); None when the
    half has no valid REAL_TOPIC / REAL_QID."""
    properties = dict(half.properties)
    topic = properties.get(_REAL_TOPIC)
    queue = properties.get(_REAL_QUEUE_ID, "")
    if not topic or not queue.isdigit():
        return None
    properties_string = properties_to_string(properties)
    for name in (_REAL_TOPIC, _REAL_QUEUE_ID, _TRAN_MSG, _DELAY):
        properties.pop(name, None)
    properties[_WAIT] = "false"
    committed = MessageExt(
        topic=topic,
        body=half.body,
        flag=half.flag,
        properties=properties,
        queue_id=int(queue),
        sys_flag=reset_transaction_value(half.sys_flag, TRANSACTION_COMMIT_TYPE),
        born_timestamp=half.born_timestamp,
        born_host=half.born_host,
        reconsume_times=half.reconsume_times,
        prepared_transaction_offset=half.commit_log_offset,
    )
    return committed, properties_string


def op_message(
    half_queue_id: int, half_queue_offset: int, broker_host: tuple[str, int], now_ms: int
) -> MessageExt:
    """An op record marking the half message at `half_queue_offset` as resolved (Java
    #addRemoveTagInTransactionOp). Store it with properties_string=OP_PROPERTIES."""
    return MessageExt(
        topic=OP_TOPIC,
        body=str(half_queue_offset).encode(),
        properties={_WAIT: "true", MessageConst.TAGS: REMOVE_TAG},
        queue_id=half_queue_id,
        born_timestamp=now_ms,
        born_host=broker_host,
    )


def check_times(half: MessageExt) -> int:
    """How many checks this copy has been through (TRANSACTION_CHECK_TIMES; 0 before the first)."""
    text = half.properties.get(_CHECK_TIMES, "0")
    try:
        return int(text)
    except ValueError:
        return 0


def origin_queue_offset(half: MessageExt) -> int:
    """Queue offset of the first half copy of this transaction."""
    text = half.properties.get(_PREPARED_QUEUE_OFFSET)
    if text is not None:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value >= 0:
            return value
    return half.queue_offset


def renewed_half_message(half: MessageExt, times: int) -> tuple[MessageExt, str]:
    """The copy appended to the half queue when a check is sent (Java #renewHalfMessageInner):
    TRANSACTION_CHECK_TIMES=`times`, WAIT=false, and the origin queue offset."""
    properties = dict(half.properties)
    properties[_CHECK_TIMES] = str(times)
    properties[_WAIT] = "false"
    properties[_PREPARED_QUEUE_OFFSET] = str(origin_queue_offset(half))
    properties = java_hashmap_order(properties)
    renewed = MessageExt(
        topic=half.topic,
        body=half.body,
        flag=half.flag,
        properties=properties,
        queue_id=half.queue_id,
        sys_flag=half.sys_flag,
        born_timestamp=half.born_timestamp,
        born_host=half.born_host,
        reconsume_times=half.reconsume_times,
    )
    return renewed, properties_to_string(properties)


def check_max_message(half: MessageExt) -> tuple[MessageExt, str]:
    """Where a half message checked transactionCheckMax times goes (Java
    DefaultTransactionalMessageCheckListener#resolveDiscardMsg): TRANS_CHECK_MAX_TIME_TOPIC, queue 0."""
    properties = java_hashmap_order(half.properties)
    properties_string = properties_to_string(properties)
    properties.pop(_DELAY, None)
    parked = MessageExt(
        topic=SystemTopics.TRANS_CHECK_MAX_TIME,
        body=half.body,
        flag=half.flag,
        properties=properties,
        queue_id=0,
        sys_flag=half.sys_flag,
        born_timestamp=half.born_timestamp,
        born_host=half.born_host,
        reconsume_times=half.reconsume_times,
    )
    return parked, properties_string


def check_message(renewed: MessageExt) -> MessageExt:
    """The message sent in a CHECK_TRANSACTION_STATE body (Java AbstractTransactionalMessageCheckListener
    #sendCheckMessage): the renewed copy with its real topic and queue."""
    properties = renewed.properties
    queue = properties.get(_REAL_QUEUE_ID, "")
    return dataclasses.replace(
        renewed,
        topic=properties.get(_REAL_TOPIC) or renewed.topic,
        queue_id=int(queue) if queue.isdigit() else renewed.queue_id,
        store_size=0,
    )
