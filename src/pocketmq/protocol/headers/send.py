"""Headers of sending: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320), the send
response, and CONSUMER_SEND_MSG_BACK (36).

Java: SendMessageRequestHeader, SendMessageRequestHeaderV2 (one-letter keys a..n, to keep the frame
small), SendMessageResponseHeader, ConsumerSendMsgBackRequestHeader. SEND_MESSAGE_V2 and
SEND_BATCH_MESSAGE carry the V2 header from the Java client; `send_request_header_of` reads whichever
form a request carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.command import RemotingCommand
from pocketmq.protocol.headers.base import WireHeader, java, wire_header

__all__ = [
    "SendMessageRequestHeader",
    "SendMessageRequestHeaderV2",
    "SendMessageResponseHeader",
    "ConsumerSendMsgBackRequestHeader",
    "send_request_header_of",
    "uses_short_send_header",
]


@wire_header
class SendMessageRequestHeader(WireHeader):
    """The send header with Java's long names (SEND_MESSAGE, and what the broker works with)."""

    producer_group: str = java("producerGroup")
    topic: str = java("topic")
    #: The topic whose config a new topic copies when the broker auto-creates it (TBW102).
    default_topic: str = java("defaultTopic")
    default_topic_queue_count: int = java("defaultTopicQueueNums")
    queue_id: int = java("queueId")
    sys_flag: int = java("sysFlag")
    #: Milliseconds since the epoch when the producer created the message.
    born_timestamp: int = java("bornTimestamp")
    flag: int = java("flag")
    #: Message properties as "k\x01v\x02k\x01v".
    properties: str | None = java("properties", default=None)
    reconsume_times: int | None = java("reconsumeTimes", default=None)
    unit_mode: bool = java("unitMode", default=False)
    batch: bool = java("batch", default=False)
    max_reconsume_times: int | None = java("maxReconsumeTimes", default=None)
    broker_name: str | None = java("bname", default=None)

    def to_v2(self) -> SendMessageRequestHeaderV2:
        return SendMessageRequestHeaderV2(
            producer_group=self.producer_group,
            topic=self.topic,
            default_topic=self.default_topic,
            default_topic_queue_count=self.default_topic_queue_count,
            queue_id=self.queue_id,
            sys_flag=self.sys_flag,
            born_timestamp=self.born_timestamp,
            flag=self.flag,
            properties=self.properties,
            reconsume_times=self.reconsume_times,
            unit_mode=self.unit_mode,
            max_reconsume_times=self.max_reconsume_times,
            batch=self.batch,
            broker_name=self.broker_name,
        )


@wire_header
class SendMessageRequestHeaderV2(WireHeader):
    """SendMessageRequestHeader with one-letter keys (Java SendMessageRequestHeaderV2)."""

    producer_group: str = java("a")
    topic: str = java("b")
    default_topic: str = java("c")
    default_topic_queue_count: int = java("d")
    queue_id: int = java("e")
    sys_flag: int = java("f")
    born_timestamp: int = java("g")
    flag: int = java("h")
    properties: str | None = java("i", default=None)
    reconsume_times: int | None = java("j", default=None)
    unit_mode: bool = java("k", default=False)
    #: Java names it consumeRetryTimes in V2; it is maxReconsumeTimes of V1.
    max_reconsume_times: int | None = java("l", default=None)
    batch: bool = java("m", default=False)
    broker_name: str | None = java("n", default=None)

    def to_v1(self) -> SendMessageRequestHeader:
        return SendMessageRequestHeader(
            producer_group=self.producer_group,
            topic=self.topic,
            default_topic=self.default_topic,
            default_topic_queue_count=self.default_topic_queue_count,
            queue_id=self.queue_id,
            sys_flag=self.sys_flag,
            born_timestamp=self.born_timestamp,
            flag=self.flag,
            properties=self.properties,
            reconsume_times=self.reconsume_times,
            unit_mode=self.unit_mode,
            batch=self.batch,
            max_reconsume_times=self.max_reconsume_times,
            broker_name=self.broker_name,
        )


def uses_short_send_header(code: int, ext_fields: Mapping[str, Any]) -> bool:
    """True if a send request carries the V2 (a..n) header.

    Java: SendMessageV2 and batch requests use V2 when sent by the Java client; other clients may send
    SEND_BATCH_MESSAGE with long names, so the keys decide.
    """
    if code == RequestCode.SEND_MESSAGE_V2:
        return True
    return code == RequestCode.SEND_BATCH_MESSAGE and "a" in ext_fields and "producerGroup" not in ext_fields


def send_request_header_of(request: RemotingCommand) -> SendMessageRequestHeader:
    """The long-name header of a SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE / reply request.

    Java: AbstractSendMessageProcessor#parseRequestHeader.
    """
    if uses_short_send_header(request.code, request.ext_fields):
        return SendMessageRequestHeaderV2.from_ext_fields(request.ext_fields).to_v1()
    return SendMessageRequestHeader.from_ext_fields(request.ext_fields)


@wire_header
class SendMessageResponseHeader(WireHeader):
    """Java SendMessageResponseHeader. `MSG_REGION` and `TRACE_ON` are added beside it by the broker."""

    #: The offset message id: store host + commit-log offset, 32 hex chars (comma-joined for batches).
    msg_id: str = java("msgId")
    queue_id: int = java("queueId")
    queue_offset: int = java("queueOffset")
    #: Set for transactional half messages.
    transaction_id: str | None = java("transactionId", default=None)
    #: Java MessageConst.PROPERTY_MSG_REGION, added by the broker (DefaultRegion).
    region_id: str | None = java("MSG_REGION", default=None)
    #: Java MessageConst.PROPERTY_TRACE_SWITCH, added by the broker.
    trace_on: bool | None = java("TRACE_ON", default=None)


@wire_header
class ConsumerSendMsgBackRequestHeader(WireHeader):
    """CONSUMER_SEND_MSG_BACK: a consumer hands a message it could not consume back to the broker."""

    #: Commit-log offset of the message to send back.
    commit_log_offset: int = java("offset")
    group: str = java("group")
    #: 0: the broker picks 3 + reconsume times; -1: straight to the DLQ.
    delay_level: int = java("delayLevel")
    origin_msg_id: str | None = java("originMsgId", default=None)
    origin_topic: str | None = java("originTopic", default=None)
    unit_mode: bool = java("unitMode", default=False)
    max_reconsume_times: int | None = java("maxReconsumeTimes", default=None)
    broker_name: str | None = java("bname", default=None)
